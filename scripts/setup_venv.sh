#!/usr/bin/env bash
# Create .venv (if missing) and install edge-sdk with every extra; re-installs only when pyproject.toml
# changed since the last install. Used by both quick-start commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "edge-sdk setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.edge-sdk-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "edge-sdk setup: installing edge-deploy-sdk[all,dev] (this checkout, editable) into .venv (first time: several minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first and pinned: the CPU wheel on this machine; any other torch would download GBs.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".[all,dev]"
  touch "$stamp"
fi
