#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS each (default 600), one after the other, on
# the nightly toolchain, seeded from events/ and ../shared/data/. A crash fails the run and
# leaves its input in fuzz/artifacts/<target>/; turn it into a regression test.
#
#   scripts/fuzz.sh                 # build, then run each target FUZZ_SECONDS
#   FUZZ_SECONDS=20 scripts/fuzz.sh # the short run `make test` does
#   scripts/fuzz.sh build           # build only
#   scripts/fuzz.sh run TARGET      # run one (already built) target
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/cargo/bin:$PATH"
seconds="${FUZZ_SECONDS:-600}"
targets=(records tuning window_state cli_reader prefilter)
fuzz() { cargo +nightly fuzz "$@"; }  # the fuzz dir is ./fuzz, the default

seed() {
  local target=$1 dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  case "$target" in
    records | cli_reader | window_state | prefilter)
      find events cli/tests/data "$root/../shared/data" -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.gz' -o -name '*.avro' \) \
        -size -256k 2>/dev/null | while read -r f; do cp -n "$f" "$dir/" 2>/dev/null || true; done ;;
    tuning)
      find events -type f -name '*.toml' | while read -r f; do
        cp -n "$f" "$dir/$(echo "$f" | tr '/' '_')" 2>/dev/null || true
      done ;;
  esac
}

run() {
  local target=$1
  seed "$target"
  mkdir -p "fuzz/artifacts/$target"
  echo "== fuzz $target for ${seconds}s"
  fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1
}

case "${1:-all}" in
  build) fuzz build ;;
  run) run "$2" ;;
  all)
    fuzz build
    for t in "${targets[@]}"; do run "$t"; done ;;
  *) echo "usage: $0 [build | run TARGET | all]" >&2; exit 2 ;;
esac
