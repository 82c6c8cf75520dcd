#!/usr/bin/env python3
"""CloudFormation-made calls on the AWS workload: does a change made through a stack score as
the same change made directly?

A stack's calls carry `invokedBy`, `sourceIPAddress` and `userAgent`
`cloudformation.amazonaws.com`. For each seed this generates `bench/workload.py`'s AWS workload,
then rewrites as a stack would log them:

- "stacks": every record of the Terraform and CI roles (the deployers of a real account);
- "stacks+attacks": those and every attack record (an intruder deploying a template).

Each input is replayed by each build and scored with `workload.py`'s scorer: benign alerts per
1,000 principal-days, alerts on the deployer roles, and recall per scenario. A build that treats
the stack as an AWS service drops those calls before scoring; one that treats them as the
deployer's gives the original numbers. Python standard library only.

    python3 bench/stacks.py --seed 1 --seed 16 --seed 17 [--bin target/release/t1578]
        [--replay-bin OLD] [--keep DIR]
"""

import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rewrites as rewrites_harness  # noqa: E402
import workload  # noqa: E402

DEPLOYERS = {"iac-terraform", "ci", "ci-image-build"}
STACK = "cloudformation.amazonaws.com"
VARIANTS = {"stacks": False, "stacks+attacks": True}


def issuer(record):
    ui = record.get("userIdentity") or {}
    issuing = (ui.get("sessionContext") or {}).get("sessionIssuer") or {}
    return issuing.get("arn") or ui.get("arn")


def rewrite(src, out, deployers, attack_ids, with_attacks):
    """Writes `src` to `out` with the chosen records marked as a stack's; returns how many."""
    n = 0
    with gzip.open(src, "rt") as f, open(out, "w") as o:
        for line in f:
            if not line.strip():
                continue
            doc = json.loads(line)
            record = doc.get("detail", doc)
            if issuer(record) in deployers or (with_attacks and record.get("eventID") in attack_ids):
                record.setdefault("userIdentity", {})["invokedBy"] = STACK
                record["sourceIPAddress"] = STACK
                record["userAgent"] = STACK
                n += 1
            o.write(json.dumps(doc) + "\n")
    return n


def line_for(seed, tag, label, rewritten, truth, alerts):
    s = workload.score(truth, alerts)
    scenarios = {k: f"{v['detected']}/{v['attacks']}" for k, v in s["scenarios"].items()}
    roles = {r["role"]: r["alerts"] for r in s["benign_by_role"] if r["role"] in DEPLOYERS}
    return (f"seed {seed} {tag:15} {label}: rewritten {rewritten}, benign {s['benign']} "
            f"({s['benign_per_1000_principal_days']}/1000 pd), deployer roles {roles}, "
            f"attacks {scenarios}")


def variant(with_attacks):
    def rewrite_workload(truth, src, out):
        deployers = {p["key"] for p in truth["principals"] if p["role"] in DEPLOYERS}
        attack_ids = {e for a in truth["attacks"] for e in a["event_ids"]}
        return rewrite(src, out, deployers, attack_ids, with_attacks)
    return rewrite_workload


if __name__ == "__main__":
    rewrites_harness.main(__doc__.splitlines()[0], "t1578-stacks-",
                          {name: variant(a) for name, a in VARIANTS.items()}, line_for)
