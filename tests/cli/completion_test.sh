#!/usr/bin/env bash
# The bash completion script completes subcommands and options; the man page (when
# help2man built one) names every subcommand and option. Usage: completion_test.sh SRC_SHARE [MAN_PAGE]
set -euo pipefail
shopt -s extglob
source "$1/pixelzip.bash-completion"
complete_words() {  # the words, the index of the word being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _pixelzip
  printf '%s\n' "${COMPREPLY[@]}"
}
[[ "$(complete_words pixelzip comp)" == $'compress\ncompare' ]] || { echo "subcommands: $(complete_words pixelzip comp)"; exit 1; }
complete_words pixelzip compress --st | grep -qx -- --strip || { echo "no --strip"; exit 1; }
complete_words pixelzip decompress --order r | grep -qx raster || { echo "no raster"; exit 1; }
complete_words pixelzip compare --order b | grep -qx both || { echo "no both"; exit 1; }
if [[ $# -ge 2 && -n "$2" ]]; then
  man=$2
  [[ -s $man ]] || { echo "no man page at $man"; exit 1; }
  for word in compress decompress info verify compare models strip keep output 'Exit codes'; do
    grep -q -- "$word" "$man" || { echo "man page lacks $word"; exit 1; }
  done
fi
echo ok
