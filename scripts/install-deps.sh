#!/usr/bin/env bash
# Installs everything pixelzip needs to build and test, from Debian 12
# (bookworm) packages. Run as root, or as a user with sudo. Returns at once
# when every package is already installed.
#
#   bash scripts/install-deps.sh            # install what is missing
#   bash scripts/install-deps.sh --list     # print the package list and exit
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake make g++ clang libclang-rt-14-dev pkg-config
  # libraries (LibTorch brings its own dependencies: protobuf, glog, gflags, ...)
  libtorch-dev libpng-dev zlib1g-dev libssl-dev
  libhwy-dev   # Highway: the SIMD kernels of models/nn/runtime/int_simd.cpp
  # command line, tests, benchmarks
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  ca-certificates
  # the man page (cli/share/make-man.sh)
  help2man
  # reports (bench/dataset-report.sh, bench/training-curves.sh; the test script.dataset_report):
  # the classical codecs pixelzip is compared with, jq and gnuplot
  jq gnuplot-nox imagemagick webp libjxl-tools libopenjp2-tools
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo > /dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
