#!/usr/bin/env bash
# `make bench`: t1578 vs DuckDB on generated data (bench-data/, git-ignored), then alert quality on
# the multi-day workload (bench/workload.py). Run on an idle machine: both engines use the two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p t1578-cli --bin t1578
.tools/venv/bin/python bench/run.py
# Part two: alert quality on the multi-day workload (recall per attack scenario, benign alerts
# per 1,000 principal-days after the warm-up), two seeds, both profiles. T1578_REPLAY_BIN measures
# another build with the same workloads.
.tools/venv/bin/python bench/workload.py --seed 1 --seed 2 ${T1578_REPLAY_BIN:+--replay-bin "$T1578_REPLAY_BIN"}
