#!/usr/bin/env bash
# Quick start, command 2: set up .venv if needed and run the test suite. Extra args go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's 5 means no test was collected: with a real suite here that is a broken run, not a pass.
  echo "test.sh: pytest collected no tests (exit 5); treating as failure" >&2
  exit 1
fi
exit "$rc"
