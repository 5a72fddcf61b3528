#!/usr/bin/env bash
# System tools some tests use, from Debian's packages; idempotent (installs only what is missing).
#   openssh-server/-client: the ssh runner test starts a real sshd on 127.0.0.1
#   gcc-arm-none-eabi + newlib + libstdc++ + binutils: compile the emitted TFLM model_data.cc for
#     Cortex-M and read its flash size with arm-none-eabi-size; cmake: the emitted Cortex-M project
#   chromium + chromium-driver: render report.html / index.html headless in the report tests
#   fonts-dejavu-core: without any font, --no-install-recommends leaves Chromium's text unrendered
set -euo pipefail
PACKAGES=(openssh-server openssh-client gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
          binutils-arm-none-eabi cmake chromium chromium-driver fonts-dejavu-core)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci_system_deps: all installed (${PACKAGES[*]})"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "ci_system_deps: installing ${missing[*]}"
LOCK=(-o DPkg::Lock::Timeout=600)  # wait for another apt/dpkg run instead of failing on its lock
$SUDO apt-get "${LOCK[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${LOCK[@]}" install -y -qq --no-install-recommends "${missing[@]}"
