#!/usr/bin/env bash
# bench/dataset-report.sh on two tiny PNGs made here: report.md has a summary
# row per codec it could run, a row per image and a total, rates that agree with
# pixelzip compare's JSON and with the codecs run directly, every decode
# lossless; report.png is a PNG. External codecs that are not installed are
# skipped by the script (and so here). Exit 77 (skipped) without jq or gnuplot.
#   dataset_report_test.sh SCRIPT PIXELZIP
set -euo pipefail
export LC_ALL=C
script=$1; pixelzip=$2
for tool in jq gnuplot bc; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; [[ -e $tmp/out/report.md ]] && cat "$tmp/out/report.md" >&2; exit 1; }

# Two small RGB images (smooth gradients plus a little noise; at least 32 pixels
# a side, as OpenJPEG's default 6 resolution levels need) as binary PPM, turned
# into PNG by pixelzip itself so that no other tool is needed.
mkdir "$tmp/in"
make_image() {  # name width height seed
  local name=$1 w=$2 h=$3 seed=$4
  { printf 'P6\n%d %d\n255\n' "$w" "$h"
    awk -v w="$w" -v h="$h" -v s="$seed" 'BEGIN {
      for (y = 0; y < h; y++) for (x = 0; x < w; x++) for (c = 0; c < 3; c++) {
        s = (s * 1103515245 + 12345) % 2147483648
        printf "%c", (x * 20 + y * 13 + c * 60 + int(s / 2147483648 * 9)) % 256 }}'
  } >"$tmp/$name.ppm"
  "$pixelzip" compress "$tmp/$name.ppm" -o "$tmp/$name.pxz" --model order0-adaptive
  "$pixelzip" decompress "$tmp/$name.pxz" -o "$tmp/in/$name.png"
  "$pixelzip" verify -q "$tmp/$name.ppm" "$tmp/in/$name.png"
}
make_image alpha 40 33 7
make_image beta 35 32 11

rc=0
"$script" --pixelzip "$pixelzip" "$tmp/in" "$tmp/out" 2>"$tmp/stderr" || rc=$?
[[ $rc -eq 0 ]] || { cat "$tmp/stderr" >&2; fail "script exit $rc"; }
if grep -q "left out" "$tmp/stderr"; then cat "$tmp/stderr" >&2; fail "a codec was left out"; fi
md=$tmp/out/report.md
[[ -s $md ]] || fail "no report.md"
[[ $(head -c 8 "$tmp/out/report.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "report.png is not a PNG"

# The summary row of a codec: "| label | bpsp | enc | dec | yes |"
summary_bpsp() { awk -F' [|] ' -v l="$1" '$1 == "| " l && NF == 5 { print $2; exit }' "$md"; }
expect_row() {  # label expected-bpsp (empty: any)
  local got; got=$(summary_bpsp "$1")
  [[ -n $got ]] || fail "no summary row for $1"
  grep -qF "| $1 | $got | " "$md" || fail "row for $1"
  grep -F "| $1 | $got | " "$md" | grep -q '| yes |$' || fail "$1 not marked lossless"
  if [[ -n ${2:-} ]]; then
    [[ $(echo "d = $got - $2; if (d < 0) d = -d; d < 0.00006" | bc -l) == 1 ]] || fail "$1: bpsp $got, expected $2"
  fi
}
subpixels=$(( (40 * 33 + 35 * 32) * 3 ))
json=$tmp/out/pixelzip-compare.json
for o in raster multiscale; do
  expect_row "pixelzip $o" "$(jq -r ".total.${o}_bytes * 8 / $subpixels" "$json")"
done
[[ $(jq -r '.images | length' "$json") == 2 ]] || fail "compare JSON does not hold 2 images"

# An external codec, run here directly: the same total rate.
direct_bytes() {  # command-template-with-IN-and-OUT
  local total=0 f
  for f in "$tmp"/in/*.png; do
    eval "${1//IN/\"$f\"}" >/dev/null 2>&1 || fail "direct run of: $1"
    total=$((total + $(stat -c %s "$tmp/direct.out"))); rm -f "$tmp/direct.out"
  done
  echo "scale=6; $total * 8 / $subpixels" | bc -l
}
IM=${IM:-/usr/bin/convert}
if [[ -x $IM && -x /usr/bin/compare ]]; then
  expect_row "PNG (ImageMagick -9)" "$(direct_bytes "$IM IN -strip -define png:compression-level=9 png:\$tmp/direct.out")"
  if command -v cwebp >/dev/null && command -v dwebp >/dev/null; then
    expect_row "WebP lossless -z 9" "$(direct_bytes "cwebp -quiet -lossless -z 9 IN -o \$tmp/direct.out")"
  fi
  if command -v opj_compress >/dev/null && command -v opj_decompress >/dev/null; then expect_row "JPEG 2000 (OpenJPEG)"; fi
  if command -v cjxl >/dev/null && command -v djxl >/dev/null; then
    expect_row "JPEG XL -e 7" "$(direct_bytes "cjxl IN \$tmp/direct.out -d 0 -e 7")"
    expect_row "JPEG XL -e 9"
  fi
fi

# Per image: both images and a total, in the rate and the seconds tables, and
# pixelzip's payload beside its model bits.
for name in alpha beta; do
  [[ $(grep -c "^| $name |" "$md") == 3 ]] || fail "$name is not in all three per-image tables"
done
grep -q '^| alpha | 40x33x3 |' "$md" || fail "size of alpha"
grep -q '^| \*\*total\*\* | |' "$md" || fail "no total row of rates"
grep -q '^| \*\*mean\*\* |' "$md" || fail "no mean row of seconds"
[[ $(grep -c '^| \*\*total\*\* |' "$md") == 2 ]] || fail "no total row of payload bits"
echo "PASS"
