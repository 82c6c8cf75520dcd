#!/usr/bin/env python3
"""CloudTrail network activity events on the AWS workload: does a trail that logs them (EC2's
calls through a VPC endpoint) change what the detector counts?

A trail with network activity events for `ec2.amazonaws.com` holds, for every EC2 call that
crossed one of the account's interface endpoints, a second record beside the call's own: the
same `eventName`, caller and time, another `eventID`, no request or response, `eventType`
`AwsVpceEvent`, `eventCategory` `NetworkActivity`. A call another account makes through the
endpoint is logged to the endpoint's owner too, its caller an `AWSAccount`. For each seed this
generates `bench/workload.py`'s AWS workload and adds those records:

- "endpoints": a network record beside every EC2 call of every assumed role that is not a
  person's (automation runs in the VPC; Identity Center users and IAM users do not), and, for
  one call in ten, a record of the same call by another account of the organization;
- "endpoints+attacks": those, and beside every attack record too.

Each input is replayed by each build and scored with `workload.py`'s scorer: benign alerts per
1,000 principal-days (an alert on another account's calls is benign), and recall per scenario.
A build that counts the network records counts each such call twice. Python standard library
only.

    python3 bench/endpoints.py --seed 1 --seed 16 --seed 17 [--bin target/release/t1578]
        [--replay-bin OLD] [--keep DIR]
"""

import gzip
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rewrites as rewrites_harness  # noqa: E402
import workload  # noqa: E402

VARIANTS = {"endpoints": False, "endpoints+attacks": True}
# Accounts of the organization whose workloads share the endpoint (a central network account).
OTHER_ACCOUNTS = ["210987654321", "321098765432", "432109876543"]


def in_vpc(record):
    """An assumed role's call that is not a person's (Identity Center, an email-named session,
    the console): automation, which runs in the VPC."""
    ui = record.get("userIdentity") or {}
    if ui.get("type") != "AssumedRole" or ui.get("invokedBy"):
        return False
    arn = ui.get("arn") or ""
    return "AWSReservedSSO_" not in arn and "@" not in arn.rsplit("/", 1)[-1]


def seen(record, rng, other_account=None):
    """The network activity record of `record`'s call."""
    n = {k: v for k, v in record.items()
         if k not in ("requestParameters", "responseElements", "managementEvent", "readOnly", "eventCategory")}
    n["eventID"] = "%08x-%04x-4%03x-a%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                     rng.getrandbits(12), rng.getrandbits(48))
    n["eventType"] = "AwsVpceEvent"
    n["eventCategory"] = "NetworkActivity"
    n["vpcEndpointId"] = "vpce-0a1b2c3d4e5f60718"
    n["vpcEndpointAccountId"] = record.get("recipientAccountId", "")
    n["sharedEventID"] = record.get("eventID", "")
    if other_account:
        n["userIdentity"] = {"type": "AWSAccount", "principalId": "AROA%016X" % rng.getrandbits(64),
                             "accountId": other_account}
    return n


def rewrite(src, out, attack_ids, with_attacks, seed):
    """Writes `src` to `out` with the network records added; returns how many."""
    rng = random.Random(seed)
    n = 0
    with gzip.open(src, "rt") as f, open(out, "w") as o:
        for line in f:
            if not line.strip():
                continue
            o.write(line if line.endswith("\n") else line + "\n")
            doc = json.loads(line)
            record = doc.get("detail", doc)
            if record.get("eventSource") != "ec2.amazonaws.com":
                continue
            attack = record.get("eventID") in attack_ids
            if (attack and with_attacks) or (not attack and in_vpc(record)):
                o.write(json.dumps(seen(record, rng)) + "\n")
                n += 1
                if not attack and rng.random() < 0.1:
                    o.write(json.dumps(seen(record, rng, rng.choice(OTHER_ACCOUNTS))) + "\n")
                    n += 1
    return n


# Each build's alerts on the original workload, by (time, principal): what the same alert says
# there is what it should say with the network records added.
ORIGINAL = {}


def line_for(seed, tag, label, added, truth, alerts):
    s = workload.score(truth, alerts)
    scenarios = {k: f"{v['detected']}/{v['attacks']}" for k, v in s["scenarios"].items()}
    others = sum(r["alerts"] for r in s["benign_by_role"] if r["role"] == "unknown")
    said = {(a["time"], a.get("actor", {}).get("user", {}).get("uid")): a["message"] for a in alerts}
    if tag == "original":
        ORIGINAL[(seed, label)] = said
    original = ORIGINAL.get((seed, label), {})
    changed = sum(1 for k, m in said.items() if k in original and original[k] != m)
    return (f"seed {seed} {tag:17} {label}: added {added}, documents {len(alerts)} ({changed} whose counts "
            f"differ from the original's), benign {s['benign']} "
            f"({s['benign_per_1000_principal_days']}/1000 pd, {others} on other accounts), "
            f"attacks {scenarios}")


def variant(with_attacks):
    def add_network_records(truth, src, out):
        attack_ids = {e for a in truth["attacks"] for e in a["event_ids"]}
        return rewrite(src, out, attack_ids, with_attacks, truth["params"]["seed"])
    return add_network_records


if __name__ == "__main__":
    rewrites_harness.main(__doc__.splitlines()[0], "t1578-endpoints-",
                          {name: variant(a) for name, a in VARIANTS.items()}, line_for)
