#!/usr/bin/env bash
# `make bench`: t1578 vs DuckDB on generated data (bench-data/, git-ignored). Run on an idle
# machine: both engines use the two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p t1578-cli --bin t1578
.tools/venv/bin/python bench/run.py
