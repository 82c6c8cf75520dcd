#!/usr/bin/env bash
# Installs the local stand-ins the tests need, into .tools/ (git-ignored), pinned.
# Idempotent: a second run checks versions and returns in about a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
node="$root/.tools/node"
stamp="$root/.tools/installed-v8"
sigma="$root/.tools/sigma-venv"
[ -f "$stamp" ] && exit 0
mkdir -p "$root/.tools"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# Through the venv's python: works for a venv copied from another checkout too.
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  'moto[server]==5.2.5' 'boto3' 'checkov==3.3.30' 'python-hcl2' 'pytest' \
  'cargo-lambda==1.9.2' 'duckdb' 'jsonschema' 'sqlglot==30.30.0'
# Sigma: pySigma and the public backends of the seed's seven SIEMs, in their own venv so their
# pins never meet moto's or checkov's. One pySigma serves all seven (the community QRadar AQL
# backend supports pySigma 1.x; the older IBM one would need pySigma 0.x and a venv of its own).
# DuckDB runs the converted QRadar AQL over events/ (scripts/sigma_check.py).
[ -x "$sigma/bin/python" ] || python3 -m venv "$sigma"
"$sigma/bin/pip" install -q --disable-pip-version-check \
  'pySigma==1.5.1' 'pySigma-backend-kusto==1.0.1' 'pySigma-backend-splunk==2.1.0' \
  'pySigma-backend-elasticsearch==2.1.1' 'pySigma-backend-secops==1.0.0' \
  'pySigma-backend-sumologic==0.2.5' 'pySigma-backend-crowdstrike==3.0.0' \
  'pySigma-backend-QRadar-community==0.4.0' 'duckdb==2.0.1' 'pytest'
if ! [ -x "$node/node_modules/.bin/azurite-table" ]; then
  mkdir -p "$node"
  (cd "$node" && npm install --no-audit --no-fund --silent azurite@3.35.0 >/dev/null)
fi
# Microsoft's Kusto.Language parser (JavaScript build): checks the generated KQL.
if ! [ -f "$node/node_modules/@kusto/language-service-next/Kusto.Language.Bridge.js" ]; then
  mkdir -p "$node"
  (cd "$node" && npm install --no-audit --no-fund --silent @kusto/language-service-next@12.4.1 >/dev/null)
fi
# Fuzzing (make fuzz, make test's short runs): the nightly toolchain and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
[ -x "$root/.tools/cargo/bin/cargo-fuzz" ] ||
  cargo install cargo-fuzz --locked --version 0.13.2 --root "$root/.tools/cargo"
touch "$stamp"
echo "tools installed in .tools/"
