#!/usr/bin/env bash
# Golden containers (tests/golden/NAME.tnz + NAME.in) must decode forever, through the
# command too: file and stdin paths, and inspect must read them (multi-segment included).
# tests/golden/v1/NAME.tnz were written by format version 1 and decode to the same NAME.in.
source "$(dirname "$0")/lib.bash"

dir="$TENZIP_SOURCE_DIR/tests/golden"
n=0
shopt -s nullglob
for f in "$dir"/*.tnz "$dir"/v1/*.tnz; do
  in="$dir/$(basename "${f%.tnz}").in"
  [[ -f $in ]] || continue
  name=${f#"$dir"/}
  run_expect 0 "$TENZIP" decompress -q -o out.bin "$f"
  cmp -s out.bin "$in" || fail "$name: decoded bytes differ from $(basename "$in")"
  rm -f out.bin
  "$TENZIP" decompress -c - <"$f" | cmp -s - "$in" || fail "$name: stdin decode differs"
  ok
  run_expect 0 "$TENZIP" inspect --json "$f"
  python3 - "$WORK/out" "$(stat -c %s "$in")" <<'PY' || fail "$name: inspect --json"
import json, sys
j = json.load(open(sys.argv[1]))
size = int(sys.argv[2])
assert j["decoded_size"] == size, (j["decoded_size"], size)
assert sum(s["decoded_size"] for s in j["segments"]) == size
for e in j["exponents"]:
    assert sum(c for _, c in e["histogram"]) == e["elements"]
PY
  run_expect 0 "$TENZIP" inspect "$f"
  n=$((n + 1))
done
[[ $n -gt 0 ]] || fail "no golden files (*.tnz + *.in) in $dir"
note "$n golden files"
finish
