"""The harness of the benches that rewrite `bench/workload.py`'s AWS workload (`stacks.py`,
`endpoints.py`): generate each seed's workload, write the rewritten inputs, replay each input
with each build and print one scored line per replay. Python standard library only."""

import argparse
import os
import tempfile

import workload


def run_seed(seed, builds, args, d, variants, line_for):
    """`variants`: tag -> `rewrite(truth, src, out)`, which writes the rewritten workload to
    `out` and returns how many records it changed; `line_for(seed, tag, build label, changed,
    truth, alerts)` -> the line printed."""
    truth, _ = workload.generate(builds["new"], "aws", seed, args.days, args.principals, d)
    src = os.path.join(d, "events.jsonl.gz")
    inputs = [("original", src, 0)]
    for tag, rewrite in variants.items():
        out = os.path.join(d, f"{tag}.jsonl")
        inputs.append((tag, out, rewrite(truth, src, out)))
    for tag, path, n in inputs:
        for label, binary in builds.items():
            alerts, _, _ = workload.replay(binary, "default", path, os.path.join(d, f"{tag}.{label}.alerts"))
            print(line_for(seed, tag, label, n, truth, alerts), flush=True)


def main(description, prefix, variants, line_for):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seed", type=int, action="append", required=True)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--principals", type=int, default=400)
    ap.add_argument("--bin", default="target/release/t1578")
    ap.add_argument("--replay-bin", help="an older build to compare (replayed as 'old')")
    ap.add_argument("--keep", help="keep the inputs and alerts in this directory")
    args = ap.parse_args()
    builds = {"new": args.bin}
    if args.replay_bin:
        builds = {"old": args.replay_bin, "new": args.bin}
    root = args.keep or tempfile.mkdtemp(prefix=prefix)
    for seed in args.seed:
        d = os.path.join(root, f"s{seed}")
        os.makedirs(d, exist_ok=True)
        run_seed(seed, builds, args, d, variants, line_for)
