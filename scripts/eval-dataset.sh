#!/usr/bin/env bash
# Rate and speed of pixelzip on a folder of PNGs: for every image, compress and
# decompress with the given model, check the pixels are identical, and print a
# Markdown table (bits per subpixel of pixelzip and of the PNG as given, encode
# and decode seconds). Usage: scripts/eval-dataset.sh DIR [PIXELZIP] [extra compress args...]
set -euo pipefail
dir=$1; bin=${2:-build/cli/pixelzip}; shift $(( $# >= 2 ? 2 : 1 ))
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
printf '| image | size | pixelzip bpsp | PNG bpsp | encode s | decode s |\n|---|---|---|---|---|---|\n'
tot_bits=0; tot_png=0; tot_sub=0; tot_enc=0; tot_dec=0
for f in "$dir"/*.png; do
  b=$(basename "$f" .png)
  t0=$(now); "$bin" compress "$f" -o "$tmp/$b.pxz" --force "$@"; t1=$(now)
  "$bin" decompress "$tmp/$b.pxz" -o "$tmp/$b.png" --force; t2=$(now)
  "$bin" verify -q "$f" "$tmp/$b.png" || { echo "$f: pixels differ after the round trip" >&2; exit 1; }
  read -r w h c < <("$bin" info "$tmp/$b.pxz" | awk '/^width/{w=$2} /^height/{h=$2} /^channels/{c=$2} END{print w, h, c}')
  sub=$((w * h * c)); bytes=$(stat -c %s "$tmp/$b.pxz"); png=$(stat -c %s "$f")
  enc=$(echo "$t1 - $t0" | bc -l); dec=$(echo "$t2 - $t1" | bc -l)
  printf '| %s | %dx%d | %.3f | %.3f | %.1f | %.1f |\n' "$b" "$w" "$h" "$(echo "$bytes*8/$sub" | bc -l)" \
    "$(echo "$png*8/$sub" | bc -l)" "$enc" "$dec"
  tot_bits=$((tot_bits + bytes * 8)); tot_png=$((tot_png + png * 8)); tot_sub=$((tot_sub + sub))
  tot_enc=$(echo "$tot_enc + $enc" | bc -l); tot_dec=$(echo "$tot_dec + $dec" | bc -l)
done
printf '| **total** | | **%.3f** | **%.3f** | %.1f | %.1f |\n' "$(echo "$tot_bits/$tot_sub" | bc -l)" \
  "$(echo "$tot_png/$tot_sub" | bc -l)" "$tot_enc" "$tot_dec"
