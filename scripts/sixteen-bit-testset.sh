#!/bin/bash
# Makes the 16-bit test images of docs/sixteen-bit.md and measures pixelzip, optipng and
# JPEG XL on them (bytes; every pixelzip stream is decoded and compared with its input).
#
#   scripts/sixteen-bit-testset.sh PHOTOS_TRAIN_DIR OUTDIR [PIXELZIP]
#
# Images (512x384 crops of photos-train 037-039, never Kodak; and synthetic gradients):
#   photoNNN-x257   the 8-bit crop scaled to 16 bits (ImageMagick -depth 16: v * 257)
#   photoNNN-noise  x257 plus uniform noise in [-128, 127] (random low bytes), clamped
#   photoNNN-12bit  (x257 >> 4) + uniform noise in [-4, 4], clamped to 12 bits, shifted left by 4
#   gradient-rgb, gradient-rgb-noise (+-3), gradient-grey: smooth synthetic 16-bit images
# Needs ImageMagick (convert), python3, optipng, cjxl. Prints one line per image:
#   name png-bytes optipng-o2-bytes cjxl-e7-bytes cjxl-e9-bytes pixelzip-bytes roundtrip
set -euo pipefail
SRC=$1 OUT=$2 P=${3:-build/cli/pixelzip}
P=$(realpath "$P")
mkdir -p "$OUT" && cd "$OUT"
for n in 037 038 039; do
  convert "$SRC/$n.png" -gravity center -crop 512x384+0+0 +repage -depth 16 -strip photo$n-x257.ppm
done
python3 - <<'PY'
import math, random, struct
def read_ppm(p):
    d = open(p, 'rb').read().split(b'\n', 3)
    w, h = map(int, d[1].split()); assert int(d[2]) == 65535
    return w, h, list(struct.unpack('>%dH' % (len(d[3]) // 2), d[3]))
def write(p, w, h, c, v):
    with open(p, 'wb') as f:
        f.write({1: b'P5', 3: b'P6'}[c] + b'\n%d %d\n65535\n' % (w, h)); f.write(struct.pack('>%dH' % len(v), *v))
rnd = random.Random(1234)
for n in ('037', '038', '039'):
    w, h, v = read_ppm('photo%s-x257.ppm' % n)
    write('photo%s-noise.ppm' % n, w, h, 3, [min(65535, max(0, x + rnd.randint(-128, 127))) for x in v])
    write('photo%s-12bit.ppm' % n, w, h, 3, [min(4095, max(0, (x >> 4) + rnd.randint(-4, 4))) << 4 for x in v])
W, H = 512, 384
g = []
for y in range(H):
    for x in range(W):
        g += [int(65535 * (x / (W - 1)) ** 1.3), int(65535 * (y / (H - 1))),
              int(32767 + 30000 * math.sin(x / 90.0) * math.cos(y / 70.0))]
write('gradient-rgb.ppm', W, H, 3, g)
write('gradient-rgb-noise.ppm', W, H, 3, [min(65535, max(0, x + rnd.randint(-3, 3))) for x in g])
def radial(x, y):
    d = math.hypot(x - W / 2, y - H / 2) / math.hypot(W / 2, H / 2)
    return int(65535 * (1 - d * d))
write('gradient-grey.pgm', W, H, 1, [radial(x, y) for y in range(H) for x in range(W)])
PY
for f in *.ppm *.pgm; do convert "$f" -define png:bit-depth=16 -strip "${f%.*}.png"; done
for f in *.png; do
  case $f in *.opt.png|*.out.png) continue;; esac
  b=${f%.png}
  cp "$f" "$b.opt.png"; optipng -quiet -o2 "$b.opt.png"
  cjxl -d 0 -e 7 "$f" "$b.e7.jxl" >/dev/null 2>&1
  cjxl -d 0 -e 9 "$f" "$b.e9.jxl" >/dev/null 2>&1
  "$P" compress -q -f "$f" -o "$b.pxz" && "$P" decompress -q -f "$b.pxz" -o "$b.out.png"
  "$P" verify -q "$f" "$b.out.png" && ok=ok || ok=DIFF
  echo "$b $(stat -c%s "$f") $(stat -c%s "$b.opt.png") $(stat -c%s "$b.e7.jxl") $(stat -c%s "$b.e9.jxl") $(stat -c%s "$b.pxz") $ok"
done
