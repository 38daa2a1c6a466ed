#!/usr/bin/env bash
# Every tests/golden_errors/NAME.tnz with a NAME.expected must fail to decompress: exit 1,
# no output, and one line "tenzip: error: <...>" whose message contains the .expected text.
source "$(dirname "$0")/lib.bash"

dir="$TENZIP_SOURCE_DIR/tests/golden_errors"
n=0
shopt -s nullglob
for f in "$dir"/*.tnz; do
  exp="${f%.tnz}.expected"
  [[ -f $exp ]] || continue
  name=$(basename "$f")
  want=$(head -n 1 "$exp" | tr -d '\r')
  [[ -n $want ]] || fail "$exp is empty"
  cp "$f" "$name"
  for mode in file stdin; do
    if [[ $mode == file ]]; then
      run_expect 1 "$TENZIP" decompress "$name"
    else
      run_expect 1 "$TENZIP" decompress -o from-stdin.out - <"$name"
    fi
    check_error_line
    grep -qF -- "$want" "$WORK/err" || fail "$name ($mode): error '$(cat "$WORK/err")' does not contain '$want'"
    only_files . "$name"
  done
  run_expect 1 "$TENZIP" inspect "$name"
  check_error_line
  rm -f "$name"
  n=$((n + 1))
done
# The container's golden error files are part of the suite: their absence is a failure.
[[ $n -gt 0 ]] || fail "no golden error files (*.tnz + *.expected) in $dir"
note "$n golden error files"

# Model containers whose tensor directory is damaged (valid containers otherwise): decompressing
# the file must fail the same way. From stdin the container is decoded as a plain one (every
# chunk checked; the directory, at the end of the stream, is not consulted).
m=0
for f in "$dir"/model/*.tnz; do
  exp="${f%.tnz}.expected"
  name=model_$(basename "$f")
  want=$(head -n 1 "$exp" | tr -d '\r')
  [[ -n $want ]] || fail "$exp is empty"
  cp "$f" "$name"
  run_expect 1 "$TENZIP" decompress "$name" -o restored
  check_error_line
  grep -qF -- "$want" "$WORK/err" || fail "$name: error '$(cat "$WORK/err")' does not contain '$want'"
  only_files . "$name"
  rm -f "$name"
  m=$((m + 1))
done
[[ $m -gt 0 ]] || fail "no model golden error files in $dir/model"
note "$m model golden error files"
finish
