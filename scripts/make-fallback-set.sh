#!/bin/bash
# The synthetic set the never-grows fallbacks were measured on (docs/format.md section 6):
# text, flat shapes, gradients, a screenshot-like image, 4/8/16-colour palettes, a sparse
# histogram, noise, and PngSuite's basn6a08. Needs ImageMagick; PngSuite from tests/data.
# Usage: scripts/make-fallback-set.sh OUT_DIR
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1; mkdir -p "$out"; cd "$out"
convert -size 256x256 gradient:red-blue grad_redblue.png
convert -size 256x256 gradient:white-black -colorspace Gray grad_grey.png
convert -size 320x120 xc:white -font DejaVu-Sans -pointsize 28 -fill black -annotate +10+40 'pixelzip never grows' \
  -annotate +10+90 'Lorem ipsum 0123456789' text.png
convert -size 256x256 xc:skyblue -fill red -draw 'rectangle 20,20 120,100' -fill yellow -draw 'circle 180,180 220,220' \
  -fill green -draw 'polygon 30,200 100,150 120,240' -depth 8 shapes.png
convert -size 256x256 xc:white -font DejaVu-Sans -fill '#e0e0e0' -draw 'rectangle 0,0 255,24' -fill '#3070c0' \
  -draw 'rectangle 10,40 120,70' -fill black -pointsize 12 -annotate +15+60 'OK Button' -fill '#f4f4f4' \
  -draw 'rectangle 130,40 245,240' -fill '#333' -annotate +135+60 'File  Edit  View' -annotate +135+80 'settings.json' \
  -depth 8 shot.png
# plasma:fractal is random: the palette images differ from run to run (sizes vary a little).
convert -size 128x128 plasma:fractal -colors 4 +dither -type palette pal4.png
convert -size 128x128 plasma:fractal -colors 8 +dither -type palette pal8.png
convert -size 128x128 plasma:fractal -colors 16 -type palette pal16.png
convert -size 128x128 xc:black +noise Random -colors 16 +dither -type truecolor -depth 8 sparse16.png
convert -size 128x128 xc:gray +noise Random -depth 8 noise.png
convert -size 128x128 gradient:black-white -colorspace Gray -fx 'round(u*63)*4/255' sparsehist.png
cp "$here/tests/data/pngsuite/basn6a08.png" .
