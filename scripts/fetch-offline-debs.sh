#!/usr/bin/env bash
# Downloads (never installs) the Debian 12 packages a machine without network
# access needs to build pixelzip, into .deps/debs/ (ignored by git). Run it
# here, where apt works; carry .deps/ to the other machine and run
# scripts/gpu-build.sh there, which unpacks them with `dpkg -x` into a prefix.
#
# The GPU machine is assumed to have a compiler, CMake and a CUDA build of
# PyTorch (whose LibTorch we link); what it lacks are the C/C++ libraries below.
#
#   bash scripts/fetch-offline-debs.sh              # the default list
#   bash scripts/fetch-offline-debs.sh extra-pkg    # ... plus more packages
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  libpng-dev libpng16-16          # PNG I/O (formats/)
  zlib1g-dev                      # CRC-32, libpng
  libssl-dev libssl3              # SHA-256 of model weights
  libcli11-dev                    # the command line (header-only)
  googletest libgtest-dev libgmock-dev   # tests (static libraries + CMake config)
  libbenchmark-dev libbenchmark1debian   # bench/
  libhwy-dev libhwy1              # Highway SIMD kernels (models/nn/runtime/int_simd.cpp)
  "$@"
)

dest=.deps/debs
rm -rf "$dest"
mkdir -p "$dest"
if [[ -z "$(apt-cache policy libcli11-dev 2>/dev/null | grep Candidate || true)" ]]; then
  echo "fetch-offline-debs: apt knows no packages yet; running apt-get update" >&2
  if [[ "$(id -u)" == 0 ]]; then apt-get update -q; else sudo apt-get update -q; fi
fi
# apt-get download writes into the current directory; _apt can't write to it
# when it belongs to root, which only costs a warning.
(
  cd "$dest"
  apt-get download "${PACKAGES[@]}" 2>&1 | { grep -v "^W: Download is performed unsandboxed" || true; }
)
for pkg in "${PACKAGES[@]}"; do
  ls "$dest"/"${pkg}"_*.deb > /dev/null 2>&1 || { echo "fetch-offline-debs: $pkg was not downloaded" >&2; exit 1; }
done
printf '%s\n' "${PACKAGES[@]}" > "$dest/PACKAGES"
echo "fetch-offline-debs: $(find "$dest" -name '*.deb' | wc -l) packages, $(du -sh "$dest" | cut -f1), in $dest/"
