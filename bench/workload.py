#!/usr/bin/env python3
"""Alert quality on the multi-day workload: recall per attack scenario and benign alerts per
1,000 principal-days after the warm-up, per cloud and profile (issue 11, "Measure it").

For each seed and cloud it runs `t1578 generate workload CLOUD` (ground truth in truth.json),
replays the events with `t1578 replay --format json --profile P` and scores the alerts:

- an attack is detected when an alert of the same account names its principal
  (`actor.user.uid`) or carries one of its event ids (`finding_info.related_events[].uid`,
  `evidences[].api.request.uid`), at a time within [attack start, attack end + 24 h];
  "strict" counts only alerts that carry one of the attack's event ids, "<=1h" only alerts
  within an hour of the attack's last record (a busy principal's routine alert a day later
  can match by principal, or carry the attack's events as evidence, without having caught it);
- an alert that matches no attack is benign; benign alerts are counted from the end of the
  warm-up to the end of the workload, per 1,000 principal-days (benign principals x measured
  days), and broken down by the role of the principal.

`--slice A-B` (repeatable) also replays days A to B-1 of each workload on their own, as a
user backtests a few days of an archive the detector never saw: no warm-up, every day of the
slice measured, the attacks that start in it. `--replay-args` passes more arguments to every
replay (`--observed-since none`, say).

`--replay-bin` measures another build (an old binary has no `generate workload`: the generator
always comes from `--bin`). Exits non-zero when generation or replay fails or a record does not
parse. Python standard library only.

    python3 bench/workload.py [--seed 1 --seed 2] [--days 21] [--principals 400]
        [--bin target/release/t1578] [--replay-bin PATH] [--clouds aws,azure]
        [--profiles default,seed-kql] [--slice 14-17 ...] [--replay-args ARGS]
        [--keep DIR] [--json FILE]
"""

import argparse
import collections
import datetime
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

DAY_MS = 86_400_000
SLACK_MS = DAY_MS
# A detection this soon after the attack's last record is "prompt" (reported, not required).
PROMPT_MS = 3_600_000


class Failure(Exception):
    pass


def run(cmd, stdout=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise Failure(f"{cmd[0]}: {e}")
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p, time.monotonic() - t0


def generate(binary, cloud, seed, days, principals, out):
    _, secs = run([binary, "generate", "workload", cloud, "--days", str(days), "--principals",
                   str(principals), "--seed", str(seed), "--out", out])
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    return truth, secs


def replay(binary, profile, events, alerts_path, extra=()):
    with open(alerts_path, "w") as out:
        p, secs = run([binary, "replay", "--format", "json", "--profile", profile, *extra, events], stdout=out)
    summary = [l for l in p.stderr.splitlines() if "parse errors" in l]
    if not summary:
        raise Failure(f"replay printed no summary: {p.stderr.strip()[-500:]}")
    m = re.search(r"(\d+) parse errors", summary[-1])
    if not m or int(m.group(1)) != 0:
        raise Failure(f"replay of {events}: {summary[-1]}")
    alerts = []
    with open(alerts_path) as f:
        for line in f:
            if line.strip():
                alerts.append(json.loads(line))
    return alerts, summary[-1].strip(), secs


def iso_ms(text):
    """An RFC 3339 time as the generator writes it, in ms."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def record_ms(record):
    """A workload record's time: CloudTrail's eventTime, the Activity Log's time."""
    return iso_ms(record.get("eventTime") or record.get("time"))


def slice_of(truth, events, first, end, path):
    """Days [first, end) of a workload as an input of their own, and the truth to score it by:
    no warm-up, every day measured, only the attacks that start in it."""
    p = truth["params"]
    lo, hi = p["start_ms"] + first * p["day_ms"], p["start_ms"] + end * p["day_ms"]
    with gzip.open(events, "rt") as f, open(path, "w") as out:
        for line in f:
            if line.strip() and lo <= record_ms(json.loads(line)) < hi:
                out.write(line)
    t = dict(truth)
    t["params"] = dict(p, days=end - first, warmup_days=0, measure_from_ms=lo, measure_to_ms=hi)
    t["attacks"] = [a for a in truth["attacks"] if lo <= a["start_ms"] < hi]
    return t


def event_ids(alert):
    ids = {e.get("uid") for e in alert.get("finding_info", {}).get("related_events", [])}
    for ev in alert.get("evidences", []):
        uid = ev.get("api", {}).get("request", {}).get("uid")
        if uid:
            ids.add(uid)
    ids.discard(None)
    return ids


def account_of(alert):
    return str(alert.get("cloud", {}).get("account", {}).get("uid", "")).lower()


def score(truth, alerts):
    params = truth["params"]
    attacks = truth["attacks"]
    by_event = {}
    for i, a in enumerate(attacks):
        for e in a["event_ids"]:
            by_event[e] = i
    detected = [False] * len(attacks)
    strict = [False] * len(attacks)
    prompt = [False] * len(attacks)
    roles = {(p["key"], p["account"].lower()): p["role"] for p in truth["principals"]}
    benign = []
    for al in alerts:
        t = al["time"]
        uid = al.get("actor", {}).get("user", {}).get("uid", "")
        acct = account_of(al)
        ids = event_ids(al)
        hits = {by_event[e] for e in ids if e in by_event}
        matched = False
        for i, a in enumerate(attacks):
            if not (a["start_ms"] <= t <= a["end_ms"] + SLACK_MS):
                continue
            same_principal = uid == a["principal"] and acct == a["account"].lower()
            if i in hits or same_principal:
                matched = True
                detected[i] = True
                if i in hits:
                    strict[i] = True
                if t <= a["end_ms"] + PROMPT_MS:
                    prompt[i] = True
        if not matched and params["measure_from_ms"] <= t < params["measure_to_ms"]:
            benign.append((al, roles.get((uid, acct), "unknown")))
    benign_principals = sum(1 for p in truth["principals"] if p["benign"])
    measured_days = params["days"] - params["warmup_days"]
    pdays = benign_principals * measured_days
    by_role = collections.Counter(r for _, r in benign)
    alerting = collections.defaultdict(set)
    for al, r in benign:
        alerting[r].add((al.get("actor", {}).get("user", {}).get("uid"), account_of(al)))
    role_sizes = collections.Counter(p["role"] for p in truth["principals"] if p["benign"])
    tiers = collections.Counter(al.get("unmapped", {}).get("tier", "?") for al, _ in benign)
    scenarios = collections.OrderedDict((s, [0, 0, 0, 0]) for s in truth["scenarios"])
    for i, a in enumerate(attacks):
        s = scenarios.setdefault(a["scenario"], [0, 0, 0, 0])
        s[0] += 1
        s[1] += detected[i]
        s[2] += strict[i]
        s[3] += prompt[i]
    updates = sum(1 for al, _ in benign if al.get("activity_id") == 2)
    return {
        "alerts": len(alerts),
        "benign": len(benign),
        "benign_new_findings": len(benign) - updates,
        "benign_updates": updates,
        "principals": benign_principals,
        "measured_days": measured_days,
        "principal_days": pdays,
        "benign_per_1000_principal_days": round(1000 * len(benign) / pdays, 1) if pdays else None,
        "scenarios": {s: {"attacks": v[0], "detected": v[1], "strict": v[2], "within_1h": v[3]} for s, v in scenarios.items()},
        "attacks_missed": [a["id"] for i, a in enumerate(attacks) if not detected[i]],
        "benign_by_role": [
            {"role": r, "alerts": n, "principals_alerting": len(alerting[r]), "principals": role_sizes.get(r, 0)}
            for r, n in by_role.most_common()
        ],
        "benign_by_tier": dict(tiers.most_common()),
    }


def report(cloud, seed, profile, s, summary, secs):
    print(f"\n== {cloud} seed {seed} profile {profile}  ({summary}; replay {secs:.1f} s)")
    print(f"   benign alerts after the warm-up: {s['benign']} "
          f"({s['benign_new_findings']} new findings, {s['benign_updates']} updates) over "
          f"{s['principals']} principals x {s['measured_days']} days = {s['principal_days']} principal-days"
          f" -> {s['benign_per_1000_principal_days']} per 1,000 principal-days")
    print(f"   {'scenario':40} {'attacks':>7} {'detected':>8} {'strict':>6} {'<=1h':>5}  recall")
    for name, v in s["scenarios"].items():
        rec = f"{v['detected']}/{v['attacks']}" if v["attacks"] else "-"
        print(f"   {name:40} {v['attacks']:>7} {v['detected']:>8} {v['strict']:>6} {v['within_1h']:>5}  {rec}")
    if s["attacks_missed"]:
        print(f"   missed: {', '.join(s['attacks_missed'])}")
    if s["benign_by_role"]:
        print(f"   top benign sources by role (alerts, principals alerting / principals of the role):")
        for row in s["benign_by_role"][:8]:
            print(f"     {row['role']:28} {row['alerts']:>6}  {row['principals_alerting']:>4} / {row['principals']}")
        print(f"   benign by tier: {s['benign_by_tier']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, action="append", help="repeat for several seeds (default 1)")
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--principals", type=int, default=400)
    ap.add_argument("--bin", default="target/release/t1578", help="t1578 that generates the workload")
    ap.add_argument("--replay-bin", help="t1578 that replays it (default: --bin)")
    ap.add_argument("--clouds", default="aws,azure")
    ap.add_argument("--profiles", default="default,seed-kql")
    ap.add_argument("--slice", action="append", default=[], metavar="A-B",
                    help="also replay days A to B-1 on their own (repeatable)")
    ap.add_argument("--replay-args", default="", help="more arguments for every replay")
    ap.add_argument("--keep", help="keep the generated workloads and alerts in this directory")
    ap.add_argument("--json", help="write the results as JSON to this file")
    args = ap.parse_args()
    seeds = args.seed or [1]
    replay_bin = args.replay_bin or args.bin
    work = args.keep or tempfile.mkdtemp(prefix="t1578-workload-")
    results = []
    try:
        for seed in seeds:
            for cloud in args.clouds.split(","):
                out = os.path.join(work, f"{cloud}-seed{seed}")
                truth, gsecs = generate(args.bin, cloud, seed, args.days, args.principals, out)
                print(f"\n# {cloud} seed {seed}: {truth['records']} records ({truth['compute_records']} compute changes), "
                      f"{len(truth['principals'])} principals, {len(truth['attacks'])} attacks, generated in {gsecs:.1f} s")
                events = os.path.join(out, truth["events"])
                inputs = [(None, truth, events)]
                for sl in args.slice:
                    first, end = (int(d) for d in sl.split("-"))
                    if not 0 <= first < end <= args.days:
                        raise Failure(f"--slice {sl}: not within the {args.days} days")
                    path = os.path.join(out, f"days-{first}-{end}.jsonl")
                    inputs.append((sl, slice_of(truth, events, first, end, path), path))
                for profile in args.profiles.split(","):
                    for sl, t, path in inputs:
                        label = f"{profile}, days {sl}" if sl else profile
                        name = f"alerts-{profile}" + (f"-days-{sl}" if sl else "") + ".jsonl"
                        alerts, summary, rsecs = replay(replay_bin, profile, path, os.path.join(out, name),
                                                        args.replay_args.split())
                        s = score(t, alerts)
                        report(cloud, seed, label, s, summary, rsecs)
                        results.append({"cloud": cloud, "seed": seed, "profile": profile, "slice": sl,
                                        "replay_bin": replay_bin, **s})
                if not args.keep:
                    shutil.rmtree(out, ignore_errors=True)
    except Failure as e:
        print(f"workload.py: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
