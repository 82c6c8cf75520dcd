#!/usr/bin/env bash
# Build the AWS Lambda package: `bootstrap` for the provided.al2023 runtime, zipped.
# x86_64 always; arm64 too when the aarch64-unknown-linux-gnu std is installed (it cannot be
# fetched offline). Cross-linking goes through zig (pulled in by cargo-lambda), which also pins
# an old glibc so the binary runs on Amazon Linux 2023.
# Usage: scripts/build-aws.sh   → prints each zip's path and size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/venv/bin:$PATH"
if ! command -v cargo-lambda >/dev/null; then
  echo "cargo-lambda is missing: run scripts/install-tools.sh" >&2
  exit 1
fi

build() { # arch flag
  local arch=$1 flag=$2
  cargo lambda build --release -p t1578-aws-lambda --output-format zip \
    $flag --lambda-dir "target/lambda/$arch"
  local zip="target/lambda/$arch/bootstrap/bootstrap.zip"
  [ -f "$zip" ] || { echo "expected $zip after the build" >&2; exit 1; }
  echo "$arch: $root/$zip $(stat -c %s "$zip") bytes ($(du -h "$zip" | cut -f1))"
}

build x86_64 --x86-64
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  build arm64 --arm64
else
  echo "arm64: skipped (rustup target aarch64-unknown-linux-gnu not installed)"
fi
