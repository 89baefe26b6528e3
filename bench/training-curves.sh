#!/usr/bin/env bash
# Plots held-out bits per subpixel against cumulative training time for the
# training logs in docs/training/*.tsv (the TSV the trainer writes with --log).
# The seconds column restarts at each resume; the curve adds the runs up.
#
#   bash bench/training-curves.sh [OUT.png] [LOG.tsv ...]
# Default: docs/training/curves.png from every RGB model's log (docs/training/*-rgb.tsv).
# Held-out points of quantisation-aware steps are fake-quantised, the others float. Needs gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/training/curves.png}
shift || true
logs=("$@")
if [ ${#logs[@]} -eq 0 ]; then
  logs=(docs/training/*-rgb.tsv)
fi
command -v gnuplot >/dev/null || { echo "training-curves: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
by_time=""
by_step=""
for log in "${logs[@]}"; do
  name=$(basename "$log" .tsv)
  # cumulative minutes, held-out bpd; a smaller seconds value than the previous line starts a new run
  awk -F'\t' 'NR > 1 && $5 != "" { if ($2 + 0 < prev) offset += prev; prev = $2 + 0; printf "%.2f\t%s\t%s\n", (offset + $2) / 60, $5, $1 }' "$log" > "$tmp/$name.dat"
  by_time+="${by_time:+, }'$tmp/$name.dat' using 1:2 with linespoints title '$name'"
  by_step+="${by_step:+, }'$tmp/$name.dat' using 3:2 with linespoints title '$name'"
done
gnuplot <<GP
set terminal pngcairo size 1300,520 font ',11' noenhanced
set output '$out'
set multiplot layout 1,2 title 'Held-out bits per subpixel (photos-train 037-039, EMA weights)'
set ylabel 'bits per subpixel'
set yrange [3.15:5.5]
set grid
set key top right
set xlabel 'training steps'
plot $by_step
set xlabel 'cumulative wall-clock minutes (2-core CPU shared with other work)'
plot $by_time
unset multiplot
GP
echo "wrote $out"
