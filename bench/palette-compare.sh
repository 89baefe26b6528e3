#!/usr/bin/env bash
# Palette and few-colour images (issue 23): bytes of the .pxz (default settings; file and
# payload, the header apart), the PNG file, `optipng -o7` and JPEG XL `cjxl -d 0 -e 9`, and
# whether `pixelzip decompress` gives the pixels and a palette PNG back. Prints a markdown table.
#   bench/palette-compare.sh [--pixelzip BIN] [--costmap BIN] PNGSUITE_DIR WORKDIR
# Images: PngSuite's palette images (names with "3p"; the 16-bit pp0n2c16 and the RGBA pp0n6a08
# are listed for the "p0" names), the synthetic palette generator of tests/adaptive (through
# bench/pixelzip_adaptive_costmap png=), and images rendered here with ImageMagick: a UI-like
# screen with text quantised to 16 and 256 colours, ImageMagick's logo: and rose: and a plasma
# quantised to 256, all written as palette PNGs (PNG8:).
set -euo pipefail
PIXELZIP=build/cli/pixelzip
COSTMAP=build/bench/pixelzip_adaptive_costmap
while [[ $# -gt 2 ]]; do
  case "$1" in
    --pixelzip) PIXELZIP=$2; shift 2 ;;
    --costmap) COSTMAP=$2; shift 2 ;;
    *) break ;;
  esac
done
SUITE=$1 WORK=$2
mkdir -p "$WORK/in" "$WORK/out"
have() { command -v "$1" >/dev/null 2>&1; }

# The inputs.
for f in "$SUITE"/*3p*.png "$SUITE"/pp0n2c16.png "$SUITE"/pp0n6a08.png; do cp "$f" "$WORK/in/"; done
for seed in 1 5; do "$COSTMAP" map png="$WORK/in/synth-palette-128x96-$seed.png" synth palette 128 96 "$seed" >/dev/null; done
"$COSTMAP" map png="$WORK/in/synth-palette-512x384-3.png" synth palette 512 384 3 >/dev/null
ui() {  # a window with a title bar, buttons, text and a gradient
  convert -size 640x400 xc:'#f0f0f0' \
    -fill '#2b579a' -draw 'rectangle 0,0 639,31' -fill white -font DejaVu-Sans-Bold -pointsize 15 -annotate +12+21 'pixelzip - settings' \
    -fill white -stroke '#a0a0a0' -draw 'rectangle 20,50 300,380' -stroke none \
    -fill '#202020' -font DejaVu-Sans -pointsize 13 \
    -annotate +32+76 'Order:  raster (best rate)' -annotate +32+100 'Model:  local-pixelcnn-rgb' \
    -annotate +32+124 'Adaptive stage:  kind 1' -annotate +32+148 'Threads:  2' \
    -annotate +32+190 'The quick brown fox jumps over the lazy dog.' -annotate +32+210 '0123456789 ()[]{} +-*/ =' \
    -fill '#0078d7' -draw 'roundrectangle 330,330 460,370 6,6' -fill white -annotate +368+356 'Compress' \
    -fill '#e1e1e1' -stroke '#adadad' -draw 'roundrectangle 480,330 610,370 6,6' -stroke none -fill '#202020' -annotate +523+356 'Cancel' \
    \( -size 280x200 gradient:'#ffd27f-#7f3fbf' \) -geometry +330+60 -composite "$1"
}
ui "$WORK/ui.png"
convert "$WORK/ui.png" -dither None -colors 16 PNG8:"$WORK/in/ui-16.png"
convert "$WORK/ui.png" -dither None -colors 256 PNG8:"$WORK/in/ui-256.png"
convert "$WORK/ui.png" -colors 256 PNG8:"$WORK/in/ui-256-dithered.png"
convert logo: -colors 256 PNG8:"$WORK/in/logo-256.png"
convert logo: -dither None -colors 16 PNG8:"$WORK/in/logo-16.png"
convert rose: -colors 256 PNG8:"$WORK/in/rose-256.png"
convert -seed 7 -size 320x240 plasma:fractal -colors 256 PNG8:"$WORK/in/plasma-256.png"
rm -f "$WORK/ui.png"

echo "| image | size | colour type | PNG | optipng -o7 | cjxl -d 0 -e 9 | .pxz | .pxz payload | coding | back as palette PNG, same pixels |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
for f in "$WORK"/in/*.png; do
  b=$(basename "$f" .png)
  dims=$(identify -format "%wx%h" "$f")
  ctype=$(file -b "$f" | cut -d, -f3 | sed "s/^ //")
  png=$(stat -c %s "$f")
  opt=-
  if have optipng; then cp "$f" "$WORK/out/$b.opt.png"; optipng -quiet -o7 "$WORK/out/$b.opt.png" && opt=$(stat -c %s "$WORK/out/$b.opt.png"); fi
  jxl=-
  if have cjxl; then cjxl -d 0 -e 9 "$f" "$WORK/out/$b.jxl" >/dev/null 2>&1 && jxl=$(stat -c %s "$WORK/out/$b.jxl") || jxl="fails"; fi
  if "$PIXELZIP" compress -q -f -o "$WORK/out/$b.pxz" "$f" 2>"$WORK/out/$b.err"; then
    pxz=$(stat -c %s "$WORK/out/$b.pxz")
    info=$("$PIXELZIP" info "$WORK/out/$b.pxz")
    payload=$(sed -n 's/^payload bytes: //p' <<<"$info")
    coding=$(sed -n 's/^coding: //p' <<<"$info" | sed 's/ (fallback, no model)//')
    "$PIXELZIP" decompress -q -f -o "$WORK/out/$b.back.png" "$WORK/out/$b.pxz"
    same=$(compare -metric AE "$f" "$WORK/out/$b.back.png" null: 2>&1 || true)
    back="$(file -b "$WORK/out/$b.back.png" | grep -q colormap && echo yes || echo NO), $([[ $same == 0 ]] && echo same || echo "AE $same")"
  else
    pxz="refused: $(head -c 60 "$WORK/out/$b.err" | sed 's/.*: //')" payload=- coding=- back=-
  fi
  echo "| $b | $dims | $ctype | $png | $opt | $jxl | $pxz | $payload | $coding | $back |"
done
