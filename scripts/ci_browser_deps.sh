#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the tests that render report.html / index.html in a real
# browser (tests/report/test_browser.py). Idempotent: does nothing when the packages are installed.
set -euo pipefail
# fonts-dejavu-core: without any font installed, --no-install-recommends leaves text unrendered.
PACKAGES=(chromium chromium-driver fonts-dejavu-core)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci_browser_deps: all installed (${PACKAGES[*]})"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "ci_browser_deps: installing ${missing[*]}"
# Wait for another apt/dpkg run (e.g. ci_system_deps.sh) instead of failing on its lock.
LOCK=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${LOCK[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${LOCK[@]}" install -y -qq --no-install-recommends "${missing[@]}"
