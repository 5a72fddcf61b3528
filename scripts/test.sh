#!/usr/bin/env bash
# Quick start, command 2: set up .venv if needed and run the test suite. Extra args go to pytest.
# Two workers (pytest-xdist), one test file per worker at a time so module fixtures are built once:
# most tests spend their time in single-threaded converters and interpreters, so this uses both CI
# cores. EDGE_SDK_TEST_WORKERS=0 runs in one process (a later `-n` argument also wins).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh || exit 1
.venv/bin/python -m pytest -n "${EDGE_SDK_TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's 5 means no test was collected: with a real suite here that is a broken run, not a pass.
  echo "test.sh: pytest collected no tests (exit 5); treating as failure" >&2
  exit 1
fi
exit "$rc"
