#!/usr/bin/env bash
# Builds and tests pixelzip on a machine without network access that has a
# CUDA build of PyTorch (LibTorch comes from it) but none of Debian's -dev
# packages. Needs the .debs from scripts/fetch-offline-debs.sh in .deps/debs/.
#
#   bash scripts/gpu-build.sh                 # configure, build, run every test
#   CTEST_ARGS="-L gpu" bash scripts/gpu-build.sh   # only the tests labelled gpu
#
# Environment: BUILD_DIR (default build-gpu), DEPS_PREFIX (default
# /tmp/pixelzip-deps), JOBS (default nproc), PYTHON (default python3),
# CMAKE_ARGS (extra configure arguments), CTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=.deps/debs
prefix=${DEPS_PREFIX:-/tmp/pixelzip-deps}
build=${BUILD_DIR:-build-gpu}
python=${PYTHON:-python3}
jobs=${JOBS:-$(nproc)}

compgen -G "$debs/*.deb" > /dev/null || {
  echo "gpu-build: no packages in $debs/: run scripts/fetch-offline-debs.sh where apt works and carry .deps/" >&2
  exit 1
}

# 1. Unpack the packages into a private prefix (never into /).
mkdir -p "$prefix"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$prefix"; done
echo "gpu-build: unpacked $(find "$debs" -name '*.deb' | wc -l) packages into $prefix"

# 2. LibTorch from the installed PyTorch (a CUDA build turns on pixelzip's CUDA path).
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "gpu-build: torch $("$python" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())')"

# 3. Configure, build, test. The unpacked libraries are found through
#    CMAKE_PREFIX_PATH (headers in $prefix/usr/include, libraries in
#    $prefix/usr/lib/<arch>); LD_LIBRARY_PATH covers their shared libraries.
multiarch=$(gcc -print-multiarch 2> /dev/null || true)
export LD_LIBRARY_PATH="$prefix/usr/lib/${multiarch:-x86_64-linux-gnu}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
# shellcheck disable=SC2086
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPIXELZIP_BUILD_TESTS=ON \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" ${CMAKE_ARGS:-}
cmake --build "$build" -j"$jobs"
cd "$build"
# shellcheck disable=SC2086
ctest --output-on-failure -j"$jobs" ${CTEST_ARGS:-}
