#!/usr/bin/env bash
# Copy built artifacts from edge-sdk's OUT/ into app projects (run after `edge-sdk build`).
#
#   copy_artifacts.sh OUT android PROFILE APP_DIR     -> APP_DIR/src/main/assets/model.tflite (or model.pte)
#   copy_artifacts.sh OUT ios PROFILE XCODE_DIR       -> XCODE_DIR/model.mlpackage (or model.pte)
#   copy_artifacts.sh OUT cortex-m PROFILE FW_DIR     -> FW_DIR/model_data.cc, model_data.h (+ op_resolver.h)
#
# Refuses to copy a target whose report says it is infeasible (budgets not met), unless FORCE=1.
set -euo pipefail
if [ "$#" -ne 4 ]; then
  sed -n '2,8p' "$0" >&2
  exit 2
fi
out=$1 family=$2 profile=$3 dest=$4
src="$out/$profile"
[ -f "$src/report.json" ] || { echo "error: $src/report.json not found; run edge-sdk build first" >&2; exit 2; }
if ! python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["feasible"] else 1)' "$src/report.json"; then
  [ "${FORCE:-0}" = 1 ] || { echo "error: $profile is infeasible (see $src/report.html); FORCE=1 to copy anyway" >&2; exit 1; }
fi
case "$family" in
  android) files=(model.tflite model.pte); dest="$dest/src/main/assets" ;;
  ios) files=(model.mlpackage model.pte) ;;
  cortex-m) files=(model_data.cc model_data.h op_resolver.h) ;;
  *) echo "error: family $family: expected android, ios or cortex-m" >&2; exit 2 ;;
esac
copied=0
mkdir -p "$dest"
for f in "${files[@]}"; do
  if [ -e "$src/$f" ]; then
    rm -rf "${dest:?}/$f"
    cp -R "$src/$f" "$dest/"
    echo "copied $src/$f -> $dest/"
    copied=$((copied + 1))
  fi
done
[ "$copied" -gt 0 ] || { echo "error: no ${files[*]} in $src" >&2; exit 2; }
