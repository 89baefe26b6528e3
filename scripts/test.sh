#!/usr/bin/env bash
# Installs the dependencies, builds pixelzip with its tests and runs the whole
# suite. .ci/run runs exactly this script.
#
#   bash scripts/test.sh                  # build dir: build/
#   BUILD_DIR=build-x bash scripts/test.sh
#   CTEST_ARGS="-LE slow" bash scripts/test.sh   # skip the tests labelled slow
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=${BUILD_DIR:-build}
jobs=${JOBS:-2}
# shellcheck disable=SC2086  # CMAKE_ARGS holds several words on purpose
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPIXELZIP_BUILD_TESTS=ON ${CMAKE_ARGS:-}
cmake --build "$build" -j"$jobs"
cd "$build"
# shellcheck disable=SC2086
ctest --output-on-failure -j"$jobs" ${CTEST_ARGS:-}
