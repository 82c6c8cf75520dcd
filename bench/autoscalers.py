#!/usr/bin/env python3
"""Node autoscalers on the AWS workload: how often does `default` alert on a Karpenter-like
controller role, a kind of busy automation the workload generator does not make?

Such a role (EKS pod identity: an assumed role, a new numeric session per call) launches nodes with
`CreateFleet` (instant) as traffic rises and terminates them with `TerminateInstances` as it falls
and consolidates. With `--kind cluster-autoscaler` it is the Kubernetes Cluster Autoscaler
on node groups that are Auto Scaling groups instead: it raises a group's `SetDesiredCapacity` to
add nodes (the group launches them: the service's calls) and removes each node it scales down
with `TerminateInstanceInAutoScalingGroup`, decrementing the group. Either way its volume
follows a daily curve, weekends are quieter, every day varies (log-normal, sigma 0.35) and some
days spike 2.5 to 4 times (`--spike`); once a week an AMI release replaces Karpenter's launch
templates (the node groups' image rollouts, a platform team's calls, are not modelled). Each
cluster has a base rate of 0.3 to 5 launches an hour at its peak and three NAT addresses. The clusters' records are added to `bench/workload.py`'s AWS
workload (same accounts, same 21 days), the whole is replayed with `--profile default` and scored:
the clusters' alerts in the measured week per 1,000 of their principal-days, each with its reason,
and the workload's own benign count and recall (unchanged by the clusters if they stay quiet).
Python standard library only.

    python3 bench/autoscalers.py --seed 1 --seed 16 --seed 17 [--clusters 20] [--spike 0.08]
        [--kind karpenter|cluster-autoscaler] [--bin target/release/t1578] [--keep DIR]
"""

import argparse
import datetime as dt
import gzip
import json
import math
import os
import random
import sys
import tempfile
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

SPIKE_P = 0.08


HOUR_MS = 3_600_000
DAY_MS = 86_400_000
USER_AGENTS = {"karpenter": "aws-sdk-go/1.55.5 (go1.23.2; linux; amd64) karpenter.sh-v1.0.8",
               "cluster-autoscaler": "aws-sdk-go/1.44.241 (go1.22.5; linux; amd64) cluster-autoscaler/v1.30.2"}
ROLES = {"karpenter": "KarpenterController-eks-prod-{}", "cluster-autoscaler": "cluster-autoscaler-eks-prod-{}"}


def iso(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def poisson(r, lam):
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def uid(r):
    return str(uuid.UUID(int=r.getrandbits(128)))


def identity(r, acct, role, ms):
    """EKS pod identity: each call a new web-identity session of the controller's role."""
    session = str(r.randrange(10**18, 10**19))
    role_id = "AROA" + uuid.UUID(int=zlib.crc32(role.encode()) << 64).hex[:16].upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/{session}",
        "accountId": acct,
        "accessKeyId": "ASIA" + uid(r).replace("-", "")[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "accountId": acct,
                              "arn": f"arn:aws:iam::{acct}:role/{role}", "userName": role},
            "webIdFederationData": {
                "federatedProvider": f"arn:aws:iam::{acct}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
                "attributes": {}},
            "attributes": {"creationDate": iso(ms - 600_000), "mfaAuthenticated": "false"},
        },
    }


def record(r, acct, role, ips, ms, name, params, response, source="ec2", kind="karpenter"):
    return {
        "eventVersion": "1.10", "userIdentity": identity(r, acct, role, ms), "eventTime": iso(ms),
        "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": r.choice(ips), "userAgent": USER_AGENTS[kind], "requestParameters": params,
        "responseElements": response, "requestID": uid(r), "eventID": uid(r), "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": acct,
        "eventCategory": "Management",
    }


def instance_id(r):
    return "i-%017x" % r.getrandbits(68)


def ami_release(r, acct, role, ips, ms):
    """A new AMI: the controller creates its launch templates anew and deletes the old ones."""
    out = []
    for k in range(3):
        name = {"LaunchTemplateName": f"karpenter.k8s.aws/{r.getrandbits(60)}"}
        out.append(record(r, acct, role, ips, ms + k * 1000, "CreateLaunchTemplate",
                          {"CreateLaunchTemplateRequest": name}, {}))
        old = {"LaunchTemplateName": f"karpenter.k8s.aws/{r.getrandbits(60)}"}
        out.append(record(r, acct, role, ips, ms + 5000 + k * 1000, "DeleteLaunchTemplate",
                          {"DeleteLaunchTemplateRequest": old}, {}))
    return out


def hour_of_calls(r, acct, role, ips, t0, up, down, live):
    """One hour: `up` expected launches (CreateFleet, 1 to 3 nodes each), `down` expected
    terminations of running nodes (consolidation batches of 1 to 4)."""
    out = []
    for _ in range(poisson(r, up)):
        ids = [instance_id(r) for _ in range(r.choice([1, 1, 1, 2, 3]))]
        live += ids
        request = {"CreateFleetRequest": {"Type": "instant",
                                          "TargetCapacitySpecification": {"TotalTargetCapacity": len(ids)}}}
        response = {"CreateFleetResponse": {"fleetInstanceSet": {"item": {"instanceIds": {"item": ids}}}}}
        out.append(record(r, acct, role, ips, t0 + r.randrange(HOUR_MS), "CreateFleet", request, response))
    for _ in range(poisson(r, down)):
        if not live:
            break
        ids = [live.pop(r.randrange(len(live))) for _ in range(min(len(live), r.choice([1, 1, 2, 4])))]
        items = {"instancesSet": {"items": [{"instanceId": i} for i in ids]}}
        out.append(record(r, acct, role, ips, t0 + r.randrange(HOUR_MS), "TerminateInstances", items, items))
    return out


def node_group_hour(r, acct, role, ips, t0, up, down, groups):
    """The Cluster Autoscaler's hour: each scale-up raises one node group's desired capacity by 1
    to 3 (the group launches the nodes); each scale-down removes one node, the group
    decremented. `groups` maps a group name to its running instances."""
    out = []
    for _ in range(poisson(r, up)):
        name = r.choice(sorted(groups))
        groups[name] += [instance_id(r) for _ in range(r.choice([1, 1, 1, 2, 3]))]
        request = {"autoScalingGroupName": name, "desiredCapacity": len(groups[name]), "honorCooldown": False}
        out.append(record(r, acct, role, ips, t0 + r.randrange(HOUR_MS), "SetDesiredCapacity", request, None,
                          "autoscaling", "cluster-autoscaler"))
    for _ in range(poisson(r, down)):
        live = [g for g in sorted(groups) if groups[g]]
        if not live:
            break
        name = r.choice(live)
        node = groups[name].pop(r.randrange(len(groups[name])))
        request = {"instanceId": node, "shouldDecrementDesiredCapacity": True}
        response = {"activity": {"activityId": uid(r), "autoScalingGroupName": name,
                                 "description": f"Terminating EC2 instance: {node}", "statusCode": "InProgress"}}
        out.append(record(r, acct, role, ips, t0 + r.randrange(HOUR_MS), "TerminateInstanceInAutoScalingGroup",
                          request, response, "autoscaling", "cluster-autoscaler"))
    return out


def cluster(r, acct, idx, start, days, spike, kind="karpenter"):
    role = ROLES[kind].format(idx)
    # Drawn only for node groups, so that Karpenter's clusters stay as they were measured.
    groups = {} if kind == "karpenter" else {
        f"eks-ng-{idx}-{n}-{r.getrandbits(32):08x}": [] for n in ("general", "memory", "spot")}
    ips = [f"3.{r.randrange(1, 250)}.{r.randrange(1, 250)}.{r.randrange(1, 250)}" for _ in range(3)]
    base = r.choice([0.3, 0.8, 2.0, 5.0])  # launches an hour at the daily peak
    out, live = [], []
    for d in range(days):
        factor = math.exp(r.gauss(0, 0.35)) * (0.4 if d % 7 in (5, 6) else 1.0)
        if r.random() < spike:
            factor *= r.uniform(2.5, 4.0)
        if d % 7 == 2 and kind == "karpenter":
            out += ami_release(r, acct, role, ips, start + d * DAY_MS + 15 * HOUR_MS + r.randrange(HOUR_MS))
        for h in range(24):
            curve = 0.25 + 0.75 * max(0.0, math.sin((h - 6) / 24 * 2 * math.pi))
            up = base * curve * factor
            down = base * (1.25 - curve) * factor * 0.8  # off-peak hours scale down and consolidate
            t0 = start + d * DAY_MS + h * HOUR_MS
            if kind == "karpenter":
                out += hour_of_calls(r, acct, role, ips, t0, up, down, live)
            else:
                out += node_group_hour(r, acct, role, ips, t0, up, down, groups)
    return role, out


def run_seed(binary, seed, clusters, spike, d, kind="karpenter"):
    truth, _ = workload.generate(binary, "aws", seed, 21, 400, d)
    p = truth["params"]
    r = random.Random(seed * 7919)
    accounts = sorted({x["account"] for x in truth["principals"]})
    added, keys = [], set()
    for i in range(clusters):
        acct = r.choice(accounts)
        role, recs = cluster(r, acct, i, p["start_ms"], p["days"], spike, kind)
        keys.add(f"arn:aws:iam::{acct}:role/{role}")
        added += recs
    out = os.path.join(d, "with-autoscalers.jsonl")
    with gzip.open(os.path.join(d, "events.jsonl.gz"), "rt") as f, open(out, "w") as o:
        for line in f:
            o.write(line)
        for x in added:
            o.write(json.dumps(x) + "\n")
    alerts, _, _ = workload.replay(binary, "default", out, os.path.join(d, "alerts"))
    s = workload.score(truth, alerts)
    lo, hi = p["measure_from_ms"], p["measure_to_ms"]
    mine = [a for a in alerts if a["actor"]["user"]["uid"] in keys and lo <= a["time"] < hi]
    pd = clusters * (hi - lo) / 86400000
    detected = sum(v["detected"] for v in s["scenarios"].values())
    attacks = sum(v["attacks"] for v in s["scenarios"].values())
    print(f"seed {seed}: {clusters} {kind} clusters, {len(added)} records; their alerts {len(mine)} in "
          f"{pd:.0f} principal-days ({1000 * len(mine) / pd:.1f}/1000 pd); workload benign "
          f"{s['benign']} (the clusters' included), attacks {detected}/{attacks}", flush=True)
    for a in mine:
        print("   ", a["actor"]["user"]["uid"].split("/")[-1], iso(a["time"]),
              a["finding_info"]["desc"][:260])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, action="append", required=True)
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--spike", type=float, default=SPIKE_P, help="probability a day spikes")
    ap.add_argument("--kind", choices=sorted(ROLES), default="karpenter",
                    help="Karpenter's fleets, or the Cluster Autoscaler's Auto Scaling groups")
    ap.add_argument("--bin", default="target/release/t1578")
    ap.add_argument("--keep", help="keep the inputs and alerts in this directory")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="t1578-autoscalers-")
    for seed in args.seed:
        d = os.path.join(root, f"s{seed}")
        os.makedirs(d, exist_ok=True)
        run_seed(args.bin, seed, args.clusters, args.spike, d, args.kind)


if __name__ == "__main__":
    main()
