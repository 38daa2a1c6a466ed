#!/usr/bin/env bash
# `tenzip decompress -t`: decodes and checks everything decompressing would (a file, stdin, a
# folder's NAME.tnz files; deltas with their base), writes nothing, and fails exactly where
# decompression fails, with the same message.
source "$(dirname "$0")/lib.bash"

golden="$TENZIP_SOURCE_DIR/tests/golden"
errors="$TENZIP_SOURCE_DIR/tests/golden_errors"
formats="$TENZIP_SOURCE_DIR/tests/data/formats"

cp "$STORIES" a.bin
"$TENZIP" compress -q --dtype fp32 a.bin
rm a.bin

# ---- a good file, from a path and from stdin: exit 0, a summary, nothing written
run_expect 0 "$TENZIP" decompress -t a.bin.tnz
grep -q '^a.bin.tnz : OK (' "$WORK/err" || fail "no OK summary: $(cat "$WORK/err")"
[[ ! -s $WORK/out ]] || fail "-t wrote to stdout"
only_files . a.bin.tnz
run_expect 0 "$TENZIP" decompress -t - <a.bin.tnz
grep -q '^stdin : OK (' "$WORK/err" || fail "no OK summary for stdin: $(cat "$WORK/err")"
run_expect 0 "$TENZIP" decompress -t -q a.bin.tnz
[[ ! -s $WORK/err ]] || fail "-q printed: $(cat "$WORK/err")"
only_files . a.bin.tnz

# ---- it takes no output
run_expect 2 "$TENZIP" decompress -t a.bin.tnz -o out.bin
check_error_line
run_expect 2 "$TENZIP" decompress -t -c a.bin.tnz
check_error_line
only_files . a.bin.tnz

# ---- every golden error file fails as decompression does: exit 1, the expected message
n=0
for f in "$errors"/*.tnz "$errors"/model/*.tnz; do
  want=$(head -n 1 "${f%.tnz}.expected" | tr -d '\r')
  run_expect 1 "$TENZIP" decompress -t "$f"
  check_error_line
  grep -qF -- "$want" "$WORK/err" || fail "$f: error '$(cat "$WORK/err")' does not contain '$want'"
  n=$((n + 1))
done
[[ $n -ge 16 ]] || fail "only $n golden error files"
note "$n golden error files fail under -t"
# From stdin: the container's own damage (the directory is not consulted there)
run_expect 1 "$TENZIP" decompress -t - <"$errors/truncated.tnz"
check_error_line
only_files . a.bin.tnz

# ---- a model file, and a delta that needs its base (checked by hash)
run_expect 0 "$TENZIP" decompress -t "$golden/model/state_dict.pt.tnz"
delta="$golden/model/st_torch_step2.delta.tnz"
run_expect 2 "$TENZIP" decompress -t "$delta"
check_error_line
grep -q -- '--base' "$WORK/err" || fail "delta without base: $(cat "$WORK/err")"
run_expect 0 "$TENZIP" decompress -t "$delta" --base "$formats/st_torch.safetensors"
run_expect 2 "$TENZIP" decompress -t "$delta" --base "$golden/model/st_torch_step2.safetensors"  # as decompress: a usage error
check_error_line
grep -q 'wrong base file' "$WORK/err" || fail "wrong base: $(cat "$WORK/err")"
run_expect 1 "$TENZIP" decompress -t - <"$delta"
check_error_line
grep -q 'checkpoint delta' "$WORK/err" || fail "delta from stdin: $(cat "$WORK/err")"
only_files . a.bin.tnz

# ---- a folder: every NAME.tnz in it; a damaged one fails naming it
# (real weights: a fixture of a few KB would be copied, as coding would not shrink it)
mkdir -p m/sub
cp "$TENZIP_CORPUS_DIR/llm/tl_reverse_model.safetensors" m/model.safetensors
cp "$STORIES" m/sub/weights.bin
echo '{"note": "copied as it is"}' >m/config.json
"$TENZIP" compress -q m
run_expect 0 "$TENZIP" decompress -t m.tnz
grep -q '^m.tnz : OK (2 compressed files => ' "$WORK/err" || fail "folder summary: $(cat "$WORK/err")"
only_files . a.bin.tnz m m.tnz
cp "$errors/checksum_mismatch.tnz" m.tnz/sub/weights.bin.tnz
run_expect 1 "$TENZIP" decompress -t m.tnz
check_error_line
grep -q 'm.tnz/sub/weights.bin.tnz: ' "$WORK/err" || fail "folder error does not name the file: $(cat "$WORK/err")"
only_files . a.bin.tnz m m.tnz

# A folder of deltas: each against the same name in the base folder (here an unchanged copy).
mkdir -p b2
cp m/model.safetensors b2/model.safetensors
"$TENZIP" compress -q b2 --base m
run_expect 0 "$TENZIP" decompress -t b2.tnz --base m
run_expect 2 "$TENZIP" decompress -t b2.tnz
check_error_line
finish
