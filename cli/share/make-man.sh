#!/bin/sh
# Writes pixelzip's man page with help2man: the top-level --help and --version, and a
# SUBCOMMANDS section holding every subcommand's --help.
#   make-man.sh PIXELZIP_BINARY OUTPUT.1
set -eu
bin=$1
out=$2
include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo "[SUBCOMMANDS]"
  for sub in compress decompress info verify compare models train; do
    echo ".SS $sub"
    echo ".nf"
    "$bin" "$sub" --help | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    echo ".fi"
  done
  echo "[FILES]"
  echo "Bash completion: share/bash-completion/completions/pixelzip."
  echo "[SEE ALSO]"
  echo "cjxl(1), zstd(1), optipng(1)"
} > "$include"
help2man --no-info --no-discard-stderr --name "lossless image compression with a learned probability model" \
  --include "$include" "$bin" > "$out.tmp"
mv "$out.tmp" "$out"
