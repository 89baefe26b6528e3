#!/usr/bin/env bash
# Installs the dependencies, builds pixelzip (Release) and runs the main job on
# a sample image: compress, decompress, check the pixels are identical, and
# print the rate in bits per subpixel beside the PNG file's.
#
#   bash scripts/demo.sh                  # samples/chelsea-256x192.png
#   bash scripts/demo.sh photo.png        # any 8-bit PNG or PNM
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-samples/chelsea-256x192.png}
[[ -r "$image" ]] || { echo "demo: $image: cannot read" >&2; exit 1; }

bash scripts/install-deps.sh

build=${BUILD_DIR:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPIXELZIP_BUILD_TESTS=OFF -DPIXELZIP_BUILD_BENCH=OFF > /dev/null
cmake --build "$build" --target pixelzip -j"${JOBS:-$(nproc)}"
pixelzip=$build/cli/pixelzip

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pixelzip-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo
echo "\$ pixelzip compress $image -o sample.pxz"
"$pixelzip" compress "$image" -o "$tmp/sample.pxz"
echo "\$ pixelzip decompress sample.pxz -o decoded.png"
"$pixelzip" decompress "$tmp/sample.pxz" -o "$tmp/decoded.png"
echo "\$ pixelzip verify $image decoded.png"
"$pixelzip" verify "$image" "$tmp/decoded.png"   # exits 1 if any pixel differs
# Once more without the PNG writer in between: verify decodes the .pxz itself.
"$pixelzip" verify -q "$image" "$tmp/sample.pxz"

info() { "$pixelzip" info "$tmp/sample.pxz" | sed -n "s/^$1: //p"; }
width=$(info width) height=$(info height) channels=$(info channels)
subpixels=$((width * height * channels))
png_bytes=$(stat -c %s "$image")
pxz_bytes=$(stat -c %s "$tmp/sample.pxz")
echo
echo "$image: ${width}x${height}, $channels channels, $subpixels subpixels; pixels after the round trip: identical"
echo "model: $(info architecture) (weights sha256 $(info 'weights sha256' | cut -c1-16)...)"
awk -v png="$png_bytes" -v pxz="$pxz_bytes" -v n="$subpixels" -v name="$(basename "$image")" 'BEGIN {
  printf "  %-32s %9d bytes  %6.3f bits/subpixel\n", name " (as given)", png, 8 * png / n
  printf "  %-32s %9d bytes  %6.3f bits/subpixel  (%+.1f%% vs the file as given)\n", "pixelzip .pxz", pxz, 8 * pxz / n, 100 * (pxz - png) / png
}'
