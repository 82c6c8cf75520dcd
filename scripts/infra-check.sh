#!/usr/bin/env bash
# Offline checks of the Terraform under infra/ (run by `make test`):
#   1. terraform fmt -check -recursive infra
#   2. checkov (infra/.checkov.yaml) must report zero failed checks
#   3. python -m pytest infra/tests (structural tests with python-hcl2)
# `terraform init/validate` need provider downloads and cannot run here.
#
# Usage: scripts/infra-check.sh [VENV]   (default .tools/venv, relative to the repository root)
# The venv is created and checkov, python-hcl2 and pytest are installed into it when missing;
# when they are present nothing is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${1:-.tools/venv}"
PY="$VENV/bin/python"
TERRAFORM="${TERRAFORM:-terraform}"

log() { printf '== infra-check: %s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------------------------
if [[ ! -x "$PY" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi

have_tools() {
  "$PY" - <<'EOF' 2>/dev/null
import importlib.metadata as md
for dist in ("checkov", "python-hcl2", "pytest"):
    md.version(dist)
EOF
}

if ! have_tools || [[ ! -x "$VENV/bin/checkov" ]]; then
  log "installing checkov python-hcl2 pytest into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check checkov python-hcl2 pytest
fi

# checkov's bc-python-hcl2 and python-hcl2 both install the `hcl2` package. checkov needs the
# bc one (hcl2.START_LINE); the tests accept either. Restore bc's files if python-hcl2 won.
if ! "$PY" -c 'from hcl2 import START_LINE' 2>/dev/null; then
  log "restoring checkov's hcl2 parser (bc-python-hcl2)"
  "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps bc-python-hcl2
fi

if ! command -v "$TERRAFORM" >/dev/null 2>&1; then
  log "terraform not found (set TERRAFORM=/path/to/terraform)"
  exit 1
fi

# --- 1. formatting ---------------------------------------------------------------------------
log "terraform fmt -check -recursive infra"
if ! TF_CLI_CONFIG_FILE=/dev/null "$TERRAFORM" fmt -check -recursive infra; then
  log "run: terraform fmt -recursive infra"
  exit 1
fi

# --- 2. checkov ------------------------------------------------------------------------------
log "checkov"
checkov_out="$(mktemp)"
trap 'rm -f "$checkov_out"' EXIT
set +e
"$VENV/bin/checkov" -d infra --framework terraform --skip-download \
  --config-file infra/.checkov.yaml --quiet --compact >"$checkov_out" 2>&1
checkov_rc=$?
set -e
summary="$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+' "$checkov_out" || true)"
if [[ $checkov_rc -ne 0 || -z "$summary" || "$summary" != *"Failed checks: 0,"* ]]; then
  cat "$checkov_out" >&2
  log "checkov failed (rc=$checkov_rc)"
  exit 1
fi
log "${summary#"${summary%%[![:space:]]*}"}"

# --- 3. structural tests ---------------------------------------------------------------------
log "pytest infra/tests"
PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -q -p no:cacheprovider infra/tests

log "ok"
