#!/usr/bin/env bash
# pixelzip beside the classical lossless codecs on a folder of PNGs.
#
#   bench/dataset-report.sh [--pixelzip BIN] [--model NAME|FILE] [--codecs LIST] DIR OUTDIR
#
# For the *.png directly inside DIR, per codec: bits per subpixel (total coded
# bits / total subpixels, file sizes with their headers) and the mean encode and
# decode seconds per image; every decode is checked to give the input's pixels
# back. Writes
#   OUTDIR/report.md            the tables (summary; per image: bpsp, seconds;
#                               pixelzip's payload beside its model's -log2 p(x))
#   OUTDIR/report.png           bpsp against mean decode seconds (log x), one labelled point per codec
#   OUTDIR/summary.tsv          the summary table's numbers (the plot's data)
#   OUTDIR/pixelzip-compare.json  `pixelzip compare --json` on the same images
#
# Codecs (LIST: comma-separated; default all of them):
#   pixelzip-raster, pixelzip-multiscale  `pixelzip compare --json` (default models unless --model);
#                                         times are in-process Encode/Decode calls
#   png      ImageMagick, -strip -define png:compression-level=9
#   webp     cwebp -lossless -z 9 / dwebp
#   j2k      opj_compress (defaults: reversible 5/3, lossless) on a PNM/PAM of the image / opj_decompress
#   jxl-e7, jxl-e9  cjxl -d 0 -e 7|9 / djxl
# The external codecs use exactly the settings of ../shared/tools/anchors.sh, so
# their rates match it; they are timed as whole processes (start-up, reading the
# input and writing the decoded PNM included), with their default threading.
# A codec whose tool is missing is skipped with a note. A decode that does not
# give the input's pixels back (ImageMagick's `compare -metric AE`) is marked
# "NO" in the report and makes the script exit 1 after writing it.
# Needs: jq; gnuplot for report.png (skipped with a note when missing);
# ImageMagick (IM=/usr/bin/convert, IM_COMPARE=/usr/bin/compare) for the external codecs.
set -euo pipefail
export LC_ALL=C  # '.' as the decimal point in $EPOCHREALTIME, bc and printf

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pixelzip="$here/../build/cli/pixelzip"
model=default
codecs="pixelzip-raster,pixelzip-multiscale,png,webp,j2k,jxl-e7,jxl-e9"
IM=${IM:-/usr/bin/convert}  # the real ImageMagick, not a stand-in earlier on PATH (as anchors.sh)
IM_COMPARE=${IM_COMPARE:-/usr/bin/compare}

usage() { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#   /usage: /' >&2; exit 2; }
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --pixelzip) pixelzip=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --codecs) codecs=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "dataset-report: unknown option $1" >&2; usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || usage
dir=${args[0]}; out=${args[1]}
command -v jq >/dev/null || { echo "dataset-report: needs jq" >&2; exit 1; }
[[ -x $pixelzip ]] || { echo "dataset-report: no pixelzip binary at $pixelzip (build it, or give --pixelzip)" >&2; exit 1; }

shopt -s nullglob
files=("$dir"/*.png)
shopt -u nullglob
[[ ${#files[@]} -gt 0 ]] || { echo "dataset-report: no *.png in $dir" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out/report.md" "$out/report.png" "$out/summary.tsv" "$out/pixelzip-compare.json"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

wanted() { [[ ",$codecs," == *",$1,"* ]]; }
drop() {  # removes codec $1 from run
  local kept=() c
  for c in "${run[@]}"; do [[ $c == "$1" ]] || kept+=("$c"); done
  run=(${kept[@]+"${kept[@]}"})
}
have() { local t; for t in "$@"; do [[ $t == /* ]] && { [[ -x $t ]] || return 1; } || command -v "$t" >/dev/null || return 1; done; }
declare -A label=(
  [pixelzip-raster]="pixelzip raster" [pixelzip-multiscale]="pixelzip multiscale"
  [png]="PNG (ImageMagick -9)" [webp]="WebP lossless -z 9" [j2k]="JPEG 2000 (OpenJPEG)"
  [jxl-e7]="JPEG XL -e 7" [jxl-e9]="JPEG XL -e 9")
declare -A tools=([png]="$IM" [webp]="cwebp dwebp" [j2k]="opj_compress opj_decompress"
  [jxl-e7]="cjxl djxl" [jxl-e9]="cjxl djxl")
for c in ${codecs//,/ }; do
  [[ -n ${label[$c]:-} ]] || { echo "dataset-report: unknown codec '$c' (known: ${!label[*]})" >&2; exit 2; }
done
run=()      # the codecs measured, in the order above
notes=()    # the ones skipped, and why
for c in pixelzip-raster pixelzip-multiscale png webp j2k jxl-e7 jxl-e9; do
  wanted "$c" || continue
  if [[ $c != pixelzip-* ]]; then
    # shellcheck disable=SC2086
    if ! have ${tools[$c]}; then notes+=("${label[$c]}: skipped, ${tools[$c]// / or } not installed"); continue; fi
    if ! have "$IM" "$IM_COMPARE"; then notes+=("${label[$c]}: skipped, no ImageMagick to check its decodes"); continue; fi
  fi
  run+=("$c")
done

# ---- pixelzip: one `compare --json` run gives rates, times and the model bits ----
order=""
if wanted pixelzip-raster && wanted pixelzip-multiscale; then
  order=both
elif wanted pixelzip-raster; then
  order=raster
elif wanted pixelzip-multiscale; then
  order=multiscale
fi
if [[ -n $order ]]; then
  echo "dataset-report: pixelzip compare --order $order on ${#files[@]} images" >&2
  "$pixelzip" compare --json --order "$order" --model "$model" "${files[@]}" >"$out/pixelzip-compare.json"
else
  # Still needed for the image sizes and subpixel counts: the cheapest order, order0 model.
  "$pixelzip" compare --json --order raster --model order0-adaptive "${files[@]}" >"$tmp/sizes.json"
fi
json=$out/pixelzip-compare.json; [[ -n $order ]] || json=$tmp/sizes.json

declare -A bytes enc dec bad   # per "codec|image"
declare -A sub chans size
names=()
while IFS=$'\t' read -r file w h ch s; do
  b=$(basename "$file" .png); names+=("$b")
  sub[$b]=$s; chans[$b]=$ch; size[$b]="${w}x${h}x${ch}"
done < <(jq -r '.images[] | [.file, .width, .height, .channels, .subpixels] | @tsv' "$json")

for o in raster multiscale; do
  c=pixelzip-$o
  [[ " ${run[*]} " == *" $c "* ]] || continue
  if [[ $(jq -r ".total.${o}_bytes" "$json") == null ]]; then
    notes+=("${label[$c]}: skipped, the model does not code every image in $o order")
    drop "$c"; continue
  fi
  while IFS=$'\t' read -r file by e d; do
    b=$(basename "$file" .png)
    bytes[$c|$b]=$by; enc[$c|$b]=$e; dec[$c|$b]=$d; bad[$c|$b]=0  # compare checked every decode
  done < <(jq -r ".images[] | [.file, .${o}_bytes, .${o}_encode_s, .${o}_decode_s] | @tsv" "$json")
done

# ---- the external codecs ----
now() { echo "$EPOCHREALTIME"; }
secs() { echo "$2 - $1" | bc -l; }
# Runs a codec's tool with its chatter kept aside in $tmp/tool.log.
quiet() { "$@" >"$tmp/tool.log" 2>&1; }
measure() {  # codec image-path base; sets bytes, enc, dec, bad; returns 1 when a tool fails
  local c=$1 f=$2 b=$3 ch=${chans[$3]} t0 t1 t2 coded decoded raw ext
  case $ch in 1) ext=pgm ;; 3) ext=ppm ;; *) ext=pam ;; esac
  local ref=$tmp/$b.ref.$ext
  [[ -e $ref ]] || "$IM" "$f" "$ref"
  case $c in
    png)
      coded=$tmp/$b.png; decoded=$tmp/$b.png.$ext
      t0=$(now); quiet "$IM" "$f" -strip -define png:compression-level=9 "$coded" || return 1; t1=$(now)
      quiet "$IM" "$coded" "$decoded" || return 1; t2=$(now) ;;
    webp)
      coded=$tmp/$b.webp; decoded=$tmp/$b.webp.$([[ $ext == pam ]] && echo pam || echo ppm)
      t0=$(now); quiet cwebp -quiet -lossless -z 9 "$f" -o "$coded" || return 1; t1=$(now)
      quiet dwebp -quiet "$coded" "-${decoded##*.}" -o "$decoded" || return 1; t2=$(now) ;;
    j2k)
      raw=$ref  # anchors.sh codes a PGM/PPM made by ImageMagick (a PAM here when there is alpha)
      coded=$tmp/$b.j2k; decoded=$tmp/$b.j2k.$([[ $ext == pam ]] && echo png || echo "$ext")
      t0=$(now); quiet opj_compress -i "$raw" -o "$coded" || return 1; t1=$(now)
      quiet opj_decompress -i "$coded" -o "$decoded" || return 1; t2=$(now) ;;
    jxl-e7|jxl-e9)
      coded=$tmp/$b.$c.jxl; decoded=$tmp/$b.$c.$ext
      t0=$(now); quiet cjxl "$f" "$coded" -d 0 -e "${c#jxl-e}" || return 1; t1=$(now)
      quiet djxl "$coded" "$decoded" || return 1; t2=$(now) ;;
  esac
  bytes[$c|$b]=$(stat -c %s "$coded"); enc[$c|$b]=$(secs "$t0" "$t1"); dec[$c|$b]=$(secs "$t1" "$t2")
  if "$IM_COMPARE" -metric AE "$ref" "$decoded" null: 2>/dev/null; then bad[$c|$b]=0; else bad[$c|$b]=1; fi
  rm -f "$coded" "$decoded"
}
# A codec whose tool fails on an image (e.g. OpenJPEG's default 6 resolution
# levels need 32 pixels a side) is left out of the report with a note.
for c in "${run[@]}"; do
  [[ $c == pixelzip-* ]] && continue
  echo "dataset-report: ${label[$c]}" >&2
  for f in "${files[@]}"; do
    if ! measure "$c" "$f" "$(basename "$f" .png)"; then
      why=$(grep -v '^[[:space:]]*$' "$tmp/tool.log" | tail -n 1 || true)
      notes+=("${label[$c]}: left out, its tool failed on $(basename "$f")${why:+: $why}")
      echo "dataset-report: ${notes[-1]}" >&2
      drop "$c"; break
    fi
  done
done

# ---- totals ----
total_sub=0
for b in "${names[@]}"; do total_sub=$((total_sub + sub[$b])); done
n=${#names[@]}
declare -A tb te td tbad
for c in "${run[@]}"; do
  tb[$c]=0; te[$c]=0; td[$c]=0; tbad[$c]=0
  for b in "${names[@]}"; do
    tb[$c]=$((tb[$c] + bytes[$c|$b])); tbad[$c]=$((tbad[$c] + bad[$c|$b]))
    te[$c]=$(echo "${te[$c]} + ${enc[$c|$b]}" | bc -l); td[$c]=$(echo "${td[$c]} + ${dec[$c|$b]}" | bc -l)
  done
done
bpsp() { printf '%.4f' "$(echo "$1 * 8 / $2" | bc -l)"; }
fmt() { printf "%.${2:-3}f" "$1"; }
# A table with a column per codec and a row per image: the header "$1" (its first columns,
# e.g. "| image |") and the codecs' labels, then per image the cells "$2 image" prints (its
# first columns, each ending in "|") and a cell "$3 codec image" per codec.
per_image_table() {
  local line rule c b
  line=$1; rule=$(sed 's/[^|][^|]*/---/g' <<<"$1")
  for c in "${run[@]}"; do line+=" ${label[$c]} |"; rule+="---|"; done
  echo "$line"; echo "$rule"
  for b in "${names[@]}"; do
    line=$("$2" "$b")
    for c in "${run[@]}"; do line+=" $("$3" "$c" "$b") |"; done
    echo "$line"
  done
}
name_cells() { echo "| $1 |"; }
size_cells() { echo "| $1 | ${size[$1]} |"; }
bpsp_cell() { echo "$(bpsp "${bytes[$1|$2]}" "${sub[$2]}")$([[ ${bad[$1|$2]} -eq 0 ]] || echo ' (NOT lossless)')"; }
seconds_cell() { echo "$(fmt "${enc[$1|$2]}") / $(fmt "${dec[$1|$2]}")"; }

# ---- report.md ----
{
  echo "# Dataset report: $(basename "$(cd "$dir" && pwd)")"
  echo
  echo "$n images, $total_sub subpixels; $(jq -r '"cpu: \(.machine.cpu), \(.machine.threads) threads"' "$json"); $(date -u '+%Y-%m-%d %H:%M UTC')."
  if [[ -n $order ]]; then
    for o in raster multiscale; do
      m=$(jq -r "[.images[].${o}_model // empty] | unique | join(\", \")" "$json")
      [[ -n $m ]] && echo "pixelzip $o model: $m (--model $model)."
    done
  fi
  echo
  echo "bpsp: total coded bits / total subpixels (whole files, headers included). Seconds: mean per image;"
  echo "pixelzip's are in-process Encode/Decode calls (\`pixelzip compare\`), the other codecs' are whole"
  echo "processes (start-up, reading the input and writing the decoded PNM/PAM included). lossless: every"
  echo "decode gave the input's pixels back."
  echo
  echo "| codec | bpsp | mean encode s | mean decode s | lossless |"
  echo "|---|---|---|---|---|"
  for c in "${run[@]}"; do
    ok=yes; [[ ${tbad[$c]} -eq 0 ]] || ok="**NO** (${tbad[$c]} of $n images)"
    echo "| ${label[$c]} | $(bpsp "${tb[$c]}" "$total_sub") | $(fmt "$(echo "${te[$c]} / $n" | bc -l)") | $(fmt "$(echo "${td[$c]} / $n" | bc -l)") | $ok |"
  done
  for note in ${notes[@]+"${notes[@]}"}; do echo; echo "$note."; done
  echo
  echo "## Bits per subpixel per image"
  echo
  per_image_table "| image | size |" size_cells bpsp_cell
  line="| **total** | |"
  for c in "${run[@]}"; do line+=" **$(bpsp "${tb[$c]}" "$total_sub")** |"; done
  echo "$line"
  echo
  echo "## Encode / decode seconds per image"
  echo
  per_image_table "| image |" name_cells seconds_cell
  line="| **mean** |"
  for c in "${run[@]}"; do
    line+=" $(fmt "$(echo "${te[$c]} / $n" | bc -l)") / $(fmt "$(echo "${td[$c]} / $n" | bc -l)") |"
  done
  echo "$line"
  if [[ -n $order ]]; then
    echo
    echo "## pixelzip: payload beside the integer model's ideal code length"
    echo
    echo "payload bits: the range-coded payload (the .pxz less its header); model bits: -log2 p(x) under the"
    echo "integer model, from the same CDFs; overhead: (payload - model) / model."
    echo
    line="| image |"; rule="|---|"
    for o in $([[ $order == both ]] && echo raster multiscale || echo "$order"); do
      line+=" $o payload bits | $o model bits | $o overhead % |"; rule+="---|---|---|"
    done
    echo "$line"; echo "$rule"
    # One line per image and the total: name, then payload, model, overhead per order ("null" for n/a).
    jq -r --arg order "$order" '
      def orders: if $order == "both" then ["raster", "multiscale"] else [$order] end;
      def cells: [orders[] as $o | .[$o + "_payload_bits"], .[$o + "_model_bits"], .[$o + "_overhead_percent"]];
      (.images[] | [(.file | split("/") | last | rtrimstr(".png"))] + cells | map(tostring) | @tsv),
      (.total | ["**total**"] + cells | map(tostring) | @tsv)' "$json" |
      while IFS=$'\t' read -ra f; do
        line="| ${f[0]} |"
        for ((i = 1; i < ${#f[@]}; i += 3)); do
          if [[ ${f[i]} == null ]]; then
            line+=" n/a | n/a | n/a |"
          else
            line+=" ${f[i]} | $(fmt "${f[i + 1]}" 1) | $(fmt "${f[i + 2]}" 4) |"
          fi
        done
        echo "$line"
      done
  fi
} >"$out/report.md"

# ---- summary.tsv and report.png ----
{
  printf 'codec\tbpsp\tmean_encode_s\tmean_decode_s\tlossless\n'
  for c in "${run[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "${label[$c]}" "$(bpsp "${tb[$c]}" "$total_sub")" \
      "$(fmt "$(echo "${te[$c]} / $n" | bc -l)" 6)" "$(fmt "$(echo "${td[$c]} / $n" | bc -l)" 6)" \
      "$([[ ${tbad[$c]} -eq 0 ]] && echo yes || echo no)"
  done
} >"$out/summary.tsv"
if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 900,600 font ",11"
set output "$out/report.png"
set datafile separator "\t"
set title "$(basename "$(cd "$dir" && pwd)"): $n images, lossless coding"
set xlabel "mean decode seconds per image (log scale)"
set ylabel "bits per subpixel"
set logscale x
set grid
set offsets graph 0.12, graph 0.25, graph 0.08, graph 0.08
set key off
is_pixelzip(name) = strstrt(name, "pixelzip") > 0
plot "$out/summary.tsv" skip 1 using 4:(is_pixelzip(strcol(1)) ? \$2 : NaN) with points pt 7 ps 1.6 lc rgb "#c0392b", \
     "" skip 1 using 4:(is_pixelzip(strcol(1)) ? NaN : \$2) with points pt 5 ps 1.3 lc rgb "#2c6fbb", \
     "" skip 1 using 4:2:1 with labels offset char 1,0.8 left
EOF
else
  echo "dataset-report: gnuplot not installed, no report.png" >&2
fi
echo "dataset-report: wrote $out/report.md$([[ -e $out/report.png ]] && echo " and $out/report.png")" >&2
for c in "${run[@]}"; do
  if [[ ${tbad[$c]} -ne 0 ]]; then
    echo "dataset-report: ${label[$c]} did not decode ${tbad[$c]} of $n images to their pixels" >&2; exit 1
  fi
done
