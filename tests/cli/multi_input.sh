#!/usr/bin/env bash
# Several inputs to compress, decompress and inspect (zstd's convention): each is done as if
# given alone, with its output beside it; a failing one is reported and the others still run;
# the exit code is the worst one. -o, stdin and compress -c take a single input.
source "$(dirname "$0")/lib.bash"

formats="$TENZIP_SOURCE_DIR/tests/data/formats"
cp "$STORIES" a.bin
cp "$formats/st_torch.safetensors" m.safetensors
mkdir dir
cp "$STORIES" dir/w.bin
cp a.bin a.orig
cp m.safetensors m.orig
cp dir/w.bin w.orig

# ---- compress: a model file and a folder, each to its own output
run_expect 0 "$TENZIP" compress m.safetensors dir
[[ -f m.safetensors.tnz && -d dir.tnz ]] || fail "outputs missing: $(ls)"
grep -q 'safetensors' "$WORK/err" || fail "model file not detected: $(cat "$WORK/err")"
# --dtype applies to every input: the same bytes as compressing each alone
cp a.bin b.bin
run_expect 0 "$TENZIP" compress --dtype fp32 -T 2 a.bin b.bin
run_expect 0 "$TENZIP" compress --dtype fp32 -T 2 -o alone.tnz a.bin
same_file alone.tnz a.bin.tnz
same_file alone.tnz b.bin.tnz
rm alone.tnz b.bin b.bin.tnz
# Existing outputs: each refused (exit 1), both reported, nothing changed
before=$(sha a.bin.tnz)
run_expect 1 "$TENZIP" compress --dtype fp32 a.bin m.safetensors
[[ $(grep -c '^tenzip: error: .*already exists' "$WORK/err") -eq 2 ]] || fail "not both refused: $(cat "$WORK/err")"
[[ $(sha a.bin.tnz) == "$before" ]] || fail "a.bin.tnz changed"

# ---- decompress -t of all of them, then one damaged in the middle: the others still checked
run_expect 0 "$TENZIP" decompress -t a.bin.tnz m.safetensors.tnz dir.tnz
[[ $(grep -c ': OK (' "$WORK/err") -ge 3 ]] || fail "not every input tested: $(cat "$WORK/err")"
head -c 5000 a.bin.tnz >bad.tnz
run_expect 1 "$TENZIP" decompress -t m.safetensors.tnz bad.tnz a.bin.tnz
grep -q '^tenzip: error: bad.tnz: ' "$WORK/err" || fail "bad.tnz not reported: $(cat "$WORK/err")"
grep -q '^a.bin.tnz : OK (' "$WORK/err" || fail "the input after the bad one was not tested: $(cat "$WORK/err")"

# ---- decompress: each output beside its input, byte for byte; the bad one leaves nothing
rm -r a.bin m.safetensors dir
run_expect 1 "$TENZIP" decompress a.bin.tnz bad.tnz m.safetensors.tnz dir.tnz
same_file a.bin a.orig
same_file m.safetensors m.orig
same_file dir/w.bin w.orig
[[ ! -e bad ]] || fail "a failed input left an output"
only_files . a.bin a.bin.tnz a.orig bad.tnz dir dir.tnz m.orig m.safetensors m.safetensors.tnz w.orig

# ---- -c: decompressed outputs back to back on stdout (as zcat); the first failure stops
"$TENZIP" decompress -c a.bin.tnz m.safetensors.tnz >both.out
cat a.orig m.orig | cmp -s - both.out || fail "decompress -c of two inputs is not their concatenation"
ok
run_expect 1 "$TENZIP" decompress -c bad.tnz a.bin.tnz
[[ ! -s $WORK/out ]] || fail "decompress -c went on after a failure"
rm both.out

# ---- inspect: each input in turn (--json: one object per line); a bad one reported
run_expect 1 "$TENZIP" inspect a.bin.tnz bad.tnz m.safetensors.tnz
[[ $(grep -c '^  ratio ' "$WORK/out") -eq 2 ]] || fail "inspect did not report both good inputs: $(cat "$WORK/out")"
grep -q '^tenzip: error: bad.tnz: ' "$WORK/err" || fail "inspect: bad.tnz not reported: $(cat "$WORK/err")"
run_expect 0 "$TENZIP" inspect --json a.bin.tnz m.safetensors.tnz
python3 - "$WORK/out" <<'PY' || fail "inspect --json of two inputs"
import json, sys
files = [json.loads(line)["file"] for line in open(sys.argv[1])]
assert files == ["a.bin.tnz", "m.safetensors.tnz"], files
PY
ok
run_expect 2 "$TENZIP" inspect a.bin.tnz - <a.bin.tnz
check_error_line

# ---- one output, stdin, compress -c: a single input only (usage errors, nothing written)
run_expect 2 "$TENZIP" compress --dtype fp32 -o x.tnz a.bin m.safetensors
check_error_line
run_expect 2 "$TENZIP" decompress -o x a.bin.tnz m.safetensors.tnz
check_error_line
run_expect 2 "$TENZIP" compress --dtype fp32 - a.bin <a.bin
check_error_line
run_expect 2 "$TENZIP" compress --dtype fp32 -c a.bin m.safetensors
check_error_line
grep -q 'one at a time' "$WORK/err" || fail "compress -c message: $(cat "$WORK/err")"
only_files . a.bin a.bin.tnz a.orig bad.tnz dir dir.tnz m.orig m.safetensors m.safetensors.tnz w.orig

finish
