#!/usr/bin/env bash
# System tools the bench tests use, installed from Debian's packages (idempotent: apt-get skips what is
# already installed). openssh-server/-client: the ssh runner test starts a real sshd on 127.0.0.1.
# gcc-arm-none-eabi + newlib + libstdc++: compile the emitted TFLM model_data.cc for Cortex-M and read its
# flash size with arm-none-eabi-size. cmake: configures the emitted Cortex-M CMake project.
set -euo pipefail
PACKAGES=(openssh-server openssh-client gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib binutils-arm-none-eabi cmake)

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
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
