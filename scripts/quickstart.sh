#!/usr/bin/env bash
# Quick start, command 1: set everything up and build the bundled digits example for one profile of
# each family (android, ios, cortex-m, jetson). Results land in examples/digits/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
cd examples/digits
exec ../../.venv/bin/edge-sdk build "$@"
