#!/usr/bin/env bash
# Installs the pixelzip build into a temporary prefix, builds samples/ against
# it twice, with find_package(pixelzip) and with pkg-config, and runs the
# round-trip programs on a synthetic image and on the sample photo (decoded by
# the installed binary). Checks that neither the library, the sample programs nor
# the binary link LibTorch (the plugin alone does). No network.
# Usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR CXX_COMPILER "EXTRA_FLAGS" "PREFIX_PATH"
set -euo pipefail
cmake=$1 build=$2 src=$3 cxx=$4 flags=${5:-} prefix_path=${6:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pixelzip-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== cmake --install $build --prefix $tmp/prefix"
"$cmake" --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
for f in bin/pixelzip include/pixelzip/codec.h include/pixelzip/image.h include/pixelzip/error.h; do
  test -e "$tmp/prefix/$f" || { echo "missing after install: $f"; exit 1; }
done
config=$(find "$tmp/prefix" -name pixelzipConfig.cmake | head -n1)
test -n "$config" || { echo "missing after install: pixelzipConfig.cmake"; exit 1; }
test -e "$(dirname "$config")/pixelzipConfigVersion.cmake"
test -e "$(dirname "$config")/pixelzipTargets.cmake"

echo "== configure samples/ against $tmp/prefix"
# The sample must find pixelzip only through the install prefix, never the build tree.
"$cmake" -S "$src/samples" -B "$tmp/sample-build" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix${prefix_path:+;$prefix_path}" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
grep "pixelzip .* found in $tmp/prefix" "$tmp/configure.log"

echo "== build"
"$cmake" --build "$tmp/sample-build" -j2 > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }

echo "== run: synthetic image"
"$tmp/sample-build/roundtrip"

echo "== no LibTorch in the binary, the library or the sample"
for f in "$tmp/prefix/bin/pixelzip" "$tmp/sample-build/roundtrip" $(find "$tmp/prefix" -name 'libpixelzip.so*' -type f); do
  if ldd "$f" | grep -E 'libtorch|libc10'; then echo "$f links LibTorch"; exit 1; fi
done
"$tmp/prefix/bin/pixelzip" --version

echo "== build samples/roundtrip.cpp with pkg-config"
pc=$(find "$tmp/prefix" -name pixelzip.pc | head -n1)
test -n "$pc" || { echo "missing after install: pixelzip.pc"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
pkg-config --exists pixelzip || { echo "pkg-config does not find pixelzip"; exit 1; }
# shellcheck disable=SC2046
"$cxx" $flags -O1 "$src/samples/roundtrip.cpp" -o "$tmp/roundtrip-pc" $(pkg-config --cflags --libs pixelzip) \
  > "$tmp/pc-build.log" 2>&1 || { cat "$tmp/pc-build.log"; pkg-config --cflags --libs pixelzip; exit 1; }
LD_LIBRARY_PATH="$(pkg-config --variable=libdir pixelzip)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/roundtrip-pc"

echo "== run: sample photo, decoded to PPM by the installed pixelzip"
"$tmp/prefix/bin/pixelzip" compress "$src/samples/chelsea-256x192.png" -o "$tmp/chelsea.pxz"
"$tmp/prefix/bin/pixelzip" decompress "$tmp/chelsea.pxz" -o "$tmp/chelsea.ppm"
"$tmp/sample-build/roundtrip" "$tmp/chelsea.ppm"
LD_LIBRARY_PATH="$(pkg-config --variable=libdir pixelzip)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/roundtrip-pc" "$tmp/chelsea.ppm"
echo "install test passed"
