#!/usr/bin/env bash
# Builds the Azure Function App zip: host.json, ActivityLog/, Cleanup/ and the Linux x86_64
# `handler` binary at the zip root (the layout zip deploy expects on a Linux Function App).
#
# The Functions Linux images ship an older glibc (2.31 on Debian 11 based images) than most build
# machines. When cargo-lambda (installed by scripts/install-tools.sh) is available its Zig
# linker pins glibc 2.28, so the binary runs there; otherwise a plain `cargo build --release`
# is used and the glibc it needs is printed. T1578_AZURE_BUILD=cargo forces the plain build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/target/azure"
stage="$out/stage"
zipfile="$out/t1578-azure-function.zip"
fn="$root/functions/azure-function"
glibc_pin="2.28"
cargo_lambda="$root/.tools/venv/bin/cargo-lambda"

mkdir -p "$out"
if [ "${T1578_AZURE_BUILD:-auto}" != "cargo" ] && [ -x "$cargo_lambda" ]; then
  PATH="$root/.tools/venv/bin:$PATH" cargo lambda build --release -p t1578-azure-function --bin handler \
    --target "x86_64-unknown-linux-gnu.$glibc_pin" --lambda-dir "$out/zig"
  binary="$out/zig/handler/bootstrap"
else
  cargo build --release -p t1578-azure-function --bin handler
  binary="$root/target/release/handler"
fi

rm -rf "$stage" "$zipfile"
mkdir -p "$stage/ActivityLog" "$stage/Cleanup"
cp "$fn/host.json" "$stage/"
cp "$fn/ActivityLog/function.json" "$stage/ActivityLog/"
cp "$fn/Cleanup/function.json" "$stage/Cleanup/"
install -m 0755 "$binary" "$stage/handler"
# -X: no extra attributes; unix mode bits stay, so `handler` is executable after deployment.
(cd "$stage" && zip -q -X -r "$zipfile" host.json ActivityLog Cleanup handler)

needs=$(objdump -T "$stage/handler" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 || true)
echo "zip:    $zipfile"
echo "size:   $(stat -c %s "$zipfile") bytes (handler $(stat -c %s "$stage/handler") bytes, needs ${needs:-unknown glibc})"
unzip -l "$zipfile" | sed -n '4,$p' | sed '$d' | sed '$d'
