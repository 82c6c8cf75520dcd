#!/usr/bin/env python3
"""Alert quality after a cold start: what a deployment sees in its first three weeks.

The workloads of `bench/workload.py` put their attacks on days 14 to 20 and measure after a
14-day warm-up, which is what a settled detector sees. A new deployment has no warm-up. This
script cuts the first K days off each workload, so the detector starts on day K: the attacks
then fall on days 14-K to 20-K after its start, and the benign alerts of every day after the
start are counted. `--observed-since first` is what Terraform deploys (each account learns
from its first event).

For each seed, cloud and cut it prints, per period after the start (days 0-2, the learning
days; 3-13, the second week; 14 on, settled), the benign alert documents per 1,000
principal-days, and the attacks detected / strict / within 1 h (as `bench/workload.py`
scores them).

    python3 bench/coldstart.py [--seed 11 --seed 12] [--cut 0 --cut 7 --cut 10]
        [--bin target/release/t1578] [--replay-bin PATH] [--clouds aws,azure] [--keep DIR]
        [--json FILE]
"""

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402  (the generator, replay and scoring of the multi-day workload)

DAY_MS = workload.DAY_MS
# The record's own time: CloudTrail `eventTime`, Activity Log export `time`.
TIME = re.compile(rb'"(?:eventTime|time)"\s*:\s*"([^"]+)"')
PERIODS = ((0, 3, "days 0-2"), (3, 14, "days 3-13"), (14, 10_000, "days 14+"))


def cut(events, start_ms, out):
    """Copy the records at or after start_ms. The generator's order is by time only per
    principal, so every record's time is read."""
    with gzip.open(events, "rb") as src, gzip.open(out, "wb", compresslevel=1) as dst:
        for line in src:
            m = TIME.search(line)
            if m and workload.iso_ms(m.group(1).decode()) >= start_ms:
                dst.write(line)


def periods(truth, alerts, start_ms):
    """The score from the start on, and the benign documents of each period after the start
    per 1,000 principal-days (workload.score counts benign alerts from measure_from_ms to
    measure_to_ms)."""
    params = truth["params"]
    end_ms = params["start_ms"] + params["days"] * DAY_MS
    principals = sum(1 for p in truth["principals"] if p["benign"])

    def scored(lo_ms, hi_ms):
        return workload.score(dict(truth, params=dict(params, measure_from_ms=lo_ms, measure_to_ms=hi_ms)), alerts)

    rows = []
    for lo, hi, name in PERIODS:
        lo_ms, hi_ms = start_ms + lo * DAY_MS, min(start_ms + hi * DAY_MS, end_ms)
        days = max(0, (hi_ms - lo_ms) // DAY_MS)
        benign = scored(lo_ms, hi_ms)["benign"] if days else 0
        pdays = principals * days
        rows.append({"period": name, "days": days, "benign": benign,
                     "per_1000_principal_days": round(1000 * benign / pdays, 1) if pdays else None})
    return scored(start_ms, end_ms), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, action="append")
    ap.add_argument("--cut", type=int, action="append", help="days cut off the start (default 0, 7, 10)")
    ap.add_argument("--bin", default="target/release/t1578")
    ap.add_argument("--replay-bin")
    ap.add_argument("--clouds", default="aws,azure")
    ap.add_argument("--keep", help="keep the workloads (and reuse them) in this directory")
    ap.add_argument("--json")
    args = ap.parse_args()
    seeds = args.seed or [11]
    cuts = args.cut or [0, 7, 10]
    replay_bin = args.replay_bin or args.bin
    work = args.keep or tempfile.mkdtemp(prefix="t1578-coldstart-")
    results = []
    try:
        for seed in seeds:
            for cloud in args.clouds.split(","):
                out = os.path.join(work, f"{cloud}-seed{seed}")
                truth_path = os.path.join(out, "truth.json")
                if os.path.exists(truth_path):
                    with open(truth_path) as f:
                        truth = json.load(f)
                else:
                    truth, _ = workload.generate(args.bin, cloud, seed, 21, 400, out)
                events = os.path.join(out, truth["events"])
                for k in cuts:
                    start_ms = truth["params"]["start_ms"] + k * DAY_MS
                    part = events if k == 0 else os.path.join(out, f"from-day{k}.jsonl.gz")
                    if not os.path.exists(part):
                        cut(events, start_ms, part)
                    alerts_path = os.path.join(out, f"alerts-from-day{k}.jsonl")
                    with open(alerts_path, "w") as o:
                        _, secs = workload.run([replay_bin, "replay", "--format", "json",
                                                "--observed-since", "first", part], stdout=o)
                    with open(alerts_path) as f:
                        alerts = [json.loads(l) for l in f if l.strip()]
                    s, rows = periods(truth, alerts, start_ms)
                    att = sum(v["attacks"] for v in s["scenarios"].values())
                    det = sum(v["detected"] for v in s["scenarios"].values())
                    strict = sum(v["strict"] for v in s["scenarios"].values())
                    prompt = sum(v["within_1h"] for v in s["scenarios"].values())
                    per = "  ".join(f"{r['period']}: {r['benign']} ({r['per_1000_principal_days']})" for r in rows)
                    print(f"{cloud} seed {seed} start day {k:>2}: attacks on days {14 - k}-{20 - k} after the start "
                          f"{det}/{strict}/{prompt} of {att}; benign (per 1,000 principal-days) {per}; "
                          f"missed {s['attacks_missed'] or '-'}  [{secs:.1f} s]")
                    results.append({"cloud": cloud, "seed": seed, "start_day": k, "attacks": att,
                                    "detected": det, "strict": strict, "within_1h": prompt,
                                    "missed": s["attacks_missed"], "periods": rows,
                                    "scenarios": s["scenarios"]})
    except workload.Failure as e:
        print(f"coldstart.py: {e}", file=sys.stderr)
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
