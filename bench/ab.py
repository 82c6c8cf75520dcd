#!/usr/bin/env python3
"""Alternated `replay` runs of several t1578 binaries on one input: wall and CPU time.

On a shared machine the speed of one binary drifts between batches of runs (by a quarter in
the seventeenth session, BENCHMARKS.md); runs of the binaries compared are interleaved, so
each is measured under the same drift, and medians and minima are printed.

    python3 bench/ab.py RUNS INPUT BINARY [BINARY...]
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    runs, path, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    walls = {b: [] for b in bins}
    cpus = {b: [] for b in bins}
    for _ in range(runs):
        for b in bins:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([b, "replay", "--format", "json", path],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"failed: {b} replay {path}")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            walls[b].append(wall)
            cpus[b].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    for b in bins:
        w, c = walls[b], cpus[b]
        print(f"{b} {os.path.basename(path)}: wall median {statistics.median(w):.3f} min {min(w):.3f}"
              f"  cpu median {statistics.median(c):.3f} min {min(c):.3f}")


if __name__ == "__main__":
    main()
