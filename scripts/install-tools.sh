#!/usr/bin/env bash
# Installs the local stand-ins the tests need, into .tools/ (git-ignored), pinned.
# Idempotent: a second run checks versions and returns in about a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
node="$root/.tools/node"
stamp="$root/.tools/installed-v5"
[ -f "$stamp" ] && exit 0
mkdir -p "$root/.tools"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check \
  'moto[server]==5.2.5' 'boto3' 'checkov==3.3.30' 'python-hcl2' 'pytest' \
  'cargo-lambda==1.9.2' 'duckdb' 'jsonschema'
if ! [ -x "$node/node_modules/.bin/azurite-table" ]; then
  mkdir -p "$node"
  (cd "$node" && npm install --no-audit --no-fund --silent azurite@3.35.0 >/dev/null)
fi
# Fuzzing (make fuzz, make test's short runs): the nightly toolchain and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
[ -x "$root/.tools/cargo/bin/cargo-fuzz" ] ||
  cargo install cargo-fuzz --locked --version 0.13.2 --root "$root/.tools/cargo"
touch "$stamp"
echo "tools installed in .tools/"
