#!/usr/bin/env bash
# Model files through the command: detection, byte-exact round trips (alone and inside a folder),
# extract against the reference loaders' bytes, checkpoint deltas, and refusals.
source "$(dirname "$0")/lib.bash"

DATA="$TENZIP_SOURCE_DIR/tests/data/formats"
[[ -d $DATA ]] || fail "missing $DATA"

# Real model files of the corpus (every file; formats without a parser take the bytes path).
mapfile -t CORPUS_FILES < <(cd "$TENZIP_CORPUS_DIR" && find . -type f ! -name 'MANIFEST.md' ! -name 'SHA256SUMS' | sort)
[[ ${#CORPUS_FILES[@]} -ge 10 ]] || fail "corpus looks incomplete: ${#CORPUS_FILES[@]} files"

# ---- every corpus file and every fixture: file -> .tnz -> file, sha256 equal
for f in "${CORPUS_FILES[@]}" ; do
  src="$TENZIP_CORPUS_DIR/$f"
  name=$(basename "$f")
  cp "$src" "$name"
  run_expect 0 "$TENZIP" compress -q "$name"
  rm "$name"
  run_expect 0 "$TENZIP" decompress -q "$name.tnz"
  [[ $(sha "$name") == $(sha "$src") ]] || fail "$f: round trip differs"
  ok
  rm -f "$name" "$name.tnz"
done
mapfile -t FIXTURES < <(find "$DATA" -type f ! -name '*.expected.json' ! -name '*.expected.bin' ! -name '*.md' | sort)
[[ ${#FIXTURES[@]} -ge 5 ]] || fail "too few fixtures in $DATA"
for src in "${FIXTURES[@]}"; do
  name=$(basename "$src")
  run_expect 0 "$TENZIP" compress -q -o "$name.tnz" "$src"
  run_expect 0 "$TENZIP" decompress -q -c "$name.tnz"
  cmp -s "$WORK/out" "$src" || fail "$name: round trip differs"
  ok
  rm -f "$name.tnz"
done

# ---- detection: a safetensors file keeps its tensors apart
cp "$TENZIP_CORPUS_DIR/llm/tl_reverse_model.safetensors" tl.safetensors
run_expect 0 "$TENZIP" compress tl.safetensors
grep -q '\[safetensors, 38 tensors\]' "$WORK/err" || { cat "$WORK/err"; fail "format not reported"; }
run_expect 0 "$TENZIP" inspect --json tl.safetensors.tnz
python3 - "$WORK/out" <<'EOF' || fail "inspect --json: model section"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["model"]
assert m["format"] == "safetensors" and len(m["tensors"]) == 38, m["format"]
assert all(t["codec_dtype"] == "fp32" for t in m["tensors"])
EOF
ok
run_expect 0 "$TENZIP" extract --list tl.safetensors.tnz
[[ $(wc -l <"$WORK/out") -eq 38 ]] || fail "extract --list: $(wc -l <"$WORK/out") names"
ok

# ---- extract == the reference loader's bytes (fixtures carry them: .expected.{json,bin} sidecars
# written by tests/formats/gen_*.py from safetensors, gguf, torch and onnx themselves)
check_extract() {  # check_extract FILE.tnz EXPECTED_JSON EXPECTED_BIN
  local tnz=$1 js=$2 bin=$3
  python3 - "$TENZIP" "$tnz" "$js" "$bin" <<'EOF' || fail "extract of $tnz differs from the reference"
import json, subprocess, sys
tenzip, tnz, js, binf = sys.argv[1:]
exp = json.load(open(js))
ref = open(binf, "rb").read()
listed = set(subprocess.run([tenzip, "extract", "--list", tnz], capture_output=True, check=True).stdout.decode().splitlines())
n = 0
for t in exp["tensors"]:
    if t.get("in_layout") is False:  # the generator says: not a byte range tenzip can see (e.g. deflated)
        continue
    if t["name"] not in listed:
        # ONNX tensors held in typed varint fields are not byte ranges of the file; all others must be there
        assert t.get("storage", "raw_data") != "raw_data", f"{t['name']} not listed"
        continue
    off = t.get("bin_offset", t.get("offset"))
    size = t.get("size", t.get("nbytes"))
    out = subprocess.run([tenzip, "extract", tnz, "--tensor", t["name"], "-c"], capture_output=True)
    assert out.returncode == 0, (t["name"], out.stderr)
    assert out.stdout == ref[off:off + size], f"{t['name']}: {len(out.stdout)} bytes, expected {size}"
    n += 1
assert n > 0, "nothing compared"
EOF
  ok
}
n_checked=0
for js in $(find "$DATA" -name '*.expected.json' | sort); do
  bin=${js%.json}.bin
  src=${js%.expected.json}
  [[ -f $src ]] || src=$(ls "$src".* 2>/dev/null | grep -v '\.expected\.' | head -n 1 || true)
  [[ -f $src && -f $bin ]] || continue
  python3 -c "import json,sys; sys.exit(0 if json.load(open('$js'))['tensors'] else 1)" || continue
  name=$(basename "$src")
  "$TENZIP" compress -q -f -o "$name.tnz" "$src" || fail "compress $name"
  check_extract "$name.tnz" "$js" "$bin"
  n_checked=$((n_checked + 1))
  rm -f "$name.tnz"
done
[[ $n_checked -ge 15 ]] || fail "only $n_checked fixtures had their extracts checked"

run_expect 1 "$TENZIP" extract tl.safetensors.tnz --tensor no.such.tensor
check_error_line
grep -q "no tensor named 'no.such.tensor'" "$WORK/err" || fail "missing tensor not named"
run_expect 2 "$TENZIP" extract tl.safetensors.tnz
run_expect 1 "$TENZIP" extract --list no-such-file.tnz
check_error_line
# A broadcast view: 12 bytes of storage, 13 TB as a contiguous array. Refused up front, no output.
run_expect 0 "$TENZIP" compress -q -o broadcast.pt.tnz "$DATA/pytorch/broadcast.pt"
run_expect 1 "$TENZIP" extract broadcast.pt.tnz --tensor x -o x.bin
check_error_line
grep -q "tensor 'x' takes 13194139533312 bytes as a contiguous array: more than this machine's memory" "$WORK/err" \
  || fail "broadcast view: $(cat "$WORK/err")"
[[ ! -e x.bin ]] || fail "a refused extract left x.bin"
run_expect 0 "$TENZIP" extract broadcast.pt.tnz --tensor y -c
[[ $(wc -c <"$WORK/out") -eq 40 ]] || fail "y: $(wc -c <"$WORK/out") bytes"
rm -f broadcast.pt.tnz
ok

# ---- checkpoint delta: a copy whose floats moved by a few units in the last place
python3 - tl.safetensors tl2.safetensors <<'EOF'
import json, struct, sys, random
src, dst = sys.argv[1:]
b = bytearray(open(src, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
random.seed(1)
for name, t in hdr.items():
    if name == "__metadata__" or t["dtype"] != "F32":
        continue
    lo, hi = t["data_offsets"]
    for off in range(8 + n + lo, 8 + n + hi, 4):
        (u,) = struct.unpack_from("<I", b, off)
        if (u & 0x7F800000) != 0x7F800000:
            struct.pack_into("<I", b, off, (u + random.randint(-300, 300)) & 0xFFFFFFFF)
open(dst, "wb").write(b)
EOF
run_expect 0 "$TENZIP" compress -q -o alone.tnz tl2.safetensors
run_expect 0 "$TENZIP" compress -o delta.tnz --base tl.safetensors tl2.safetensors
grep -q '38 stored against the base' "$WORK/err" || { cat "$WORK/err"; fail "delta regions not reported"; }
[[ $(stat -c %s delta.tnz) -lt $(( $(stat -c %s alone.tnz) * 2 / 3 )) ]] || fail "delta not much smaller than alone"
ok
run_expect 2 "$TENZIP" decompress -o back.safetensors delta.tnz          # no base
check_error_line
grep -q -- '--base' "$WORK/err" || fail "missing base not explained"
[[ ! -e back.safetensors ]] || fail "output left behind"
run_expect 2 "$TENZIP" decompress -o back.safetensors --base tl2.safetensors delta.tnz  # wrong base
check_error_line
grep -q 'wrong base' "$WORK/err" || fail "wrong base not explained"
[[ ! -e back.safetensors ]] || fail "output left behind"
run_expect 1 "$TENZIP" decompress -c - <delta.tnz                          # streamed: refused at the end
grep -q 'checkpoint delta' "$WORK/err" || fail "streamed delta not refused"
run_expect 0 "$TENZIP" decompress -q -o back.safetensors --base tl.safetensors delta.tnz
same_file back.safetensors tl2.safetensors
run_expect 0 "$TENZIP" extract delta.tnz --base tl.safetensors --tensor b1.a.k_proj.W -o k.bin
run_expect 0 "$TENZIP" extract alone.tnz --tensor b1.a.k_proj.W -o k2.bin
same_file k.bin k2.bin
rm -f back.safetensors k.bin k2.bin alone.tnz delta.tnz

# ---- malformed model files: clear error, exit 1, no output
head -c 20000 tl.safetensors >cut.safetensors  # header intact, data cut
run_expect 1 "$TENZIP" compress cut.safetensors
check_error_line
grep -q 'safetensors' "$WORK/err" || fail "truncated safetensors not named"
[[ ! -e cut.safetensors.tnz ]] || fail "partial output left"
# one damaged file per detected format: the parser's message, exit 1, no output
cut_file() {  # cut_file SRC BYTES DST
  head -c "$2" "$1" >"$3"
}
cut_file "$TENZIP_CORPUS_DIR/llm/tl_reverse_model.safetensors" 1000 cut2.safetensors  # the header itself cut
cut_file "$DATA/gguf_mixed.gguf" 200 cut.gguf
cut_file "$DATA/pytorch/state_dict.pt" 3000 cut.pt
cut_file "$TENZIP_CORPUS_DIR/cnn/face_detection_full_range.tflite" 5000 cut.tflite
for f in cut2.safetensors cut.gguf cut.pt cut.tflite; do
  run_expect 1 "$TENZIP" compress "$f"
  check_error_line
  grep -qiE 'safetensors|gguf|pytorch|zip|tflite' "$WORK/err" || fail "$f: the format is not named: $(cat "$WORK/err")"
  [[ ! -e $f.tnz ]] || fail "$f: partial output left"
done
rm -f cut2.safetensors cut.gguf cut.pt cut.tflite
run_expect 2 "$TENZIP" compress --format nosuch tl.safetensors -f
run_expect 2 "$TENZIP" compress --dtype fp32 --base tl.safetensors tl2.safetensors
run_expect 2 "$TENZIP" compress --format safetensors - <tl.safetensors
# --format raw stores any file as bytes
run_expect 0 "$TENZIP" compress -q -f --format raw -o raw.tnz tl.safetensors
run_expect 0 "$TENZIP" extract --list raw.tnz
[[ ! -s $WORK/out ]] || fail "raw container lists tensors"
rm -f raw.tnz

# ---- folders: nested dirs, a symlinked file (as in Hugging Face snapshots), an existing .tnz
mkdir -p model/sub blobs
cp tl.safetensors model/model.safetensors
cp "$TENZIP_CORPUS_DIR/llm/stories260K.bin" model/sub/pytorch_model.bin
printf '{"hidden_size": 128}\n' >model/config.json
printf 'not ours' >model/notes.tnz
cp "$DATA/st_handmade.safetensors" model/sub/tiny.safetensors  # coded, it would grow: copied
cp "$TENZIP_CORPUS_DIR/audio/silero_vad_16k.safetensors" blobs/abc123
ln -s ../blobs/abc123 model/linked.safetensors
chmod 640 model/config.json
run_expect 0 "$TENZIP" compress -T 2 model
[[ -f model.tnz/model.safetensors.tnz && -f model.tnz/sub/pytorch_model.bin.tnz && -f model.tnz/notes.tnz.tnz ]] \
  || fail "weight files not compressed: $(cd model.tnz && find . | sort | tr '\n' ' ')"
# A weight file coding would not shrink is copied as it is (but a NAME.tnz, like notes.tnz,
# always stays coded: every NAME.tnz of a compressed folder is decompressed)
[[ ! -e model.tnz/sub/tiny.safetensors.tnz ]] || fail "a file that grows when coded was coded"
same_file model.tnz/sub/tiny.safetensors model/sub/tiny.safetensors
"$TENZIP" compress -q -o tiny.tnz model/sub/tiny.safetensors
[[ $(stat -c %s tiny.tnz) -ge $(stat -c %s model/sub/tiny.safetensors) ]] || fail "tiny.safetensors shrinks when coded: pick a smaller file"
rm tiny.tnz
ok
same_file model.tnz/config.json model/config.json
[[ $(stat -c %a model.tnz/config.json) == 640 ]] || fail "permissions not kept"
[[ ! -L model.tnz/linked.safetensors.tnz ]] || fail "symlink copied as a link"
ok
run_expect 1 "$TENZIP" compress model                                     # exists: refused
check_error_line
mv model model.orig
run_expect 0 "$TENZIP" decompress -T 2 model.tnz
diff -r model model.orig >/dev/null || fail "folder round trip differs"
ok
[[ ! -L model/linked.safetensors ]] || fail "restored a symlink"
same_file model/linked.safetensors blobs/abc123
only_files . model model.orig model.tnz blobs tl.safetensors tl.safetensors.tnz tl2.safetensors cut.safetensors
rm -rf model

# the whole corpus as one folder: every file back, byte for byte
cp -r "$TENZIP_CORPUS_DIR" corpus
run_expect 0 "$TENZIP" compress -q -T 2 corpus
run_expect 0 "$TENZIP" decompress -q -T 2 -o corpus.back corpus.tnz
diff -r corpus corpus.back >/dev/null || fail "corpus folder round trip differs"
ok
rm -rf corpus corpus.tnz corpus.back

# folder deltas: the same folder with one weight file fine-tuned
cp -r model.orig model2
cp tl2.safetensors model2/model.safetensors
run_expect 0 "$TENZIP" compress -q --base model.orig -o model2.tnz model2
run_expect 2 "$TENZIP" decompress -o model2.back model2.tnz
[[ ! -e model2.back ]] || fail "partial folder left"
run_expect 0 "$TENZIP" decompress -q --base model.orig -o model2.back model2.tnz
diff -r model2 model2.back >/dev/null || fail "folder delta round trip differs"
ok

# a failure inside a folder leaves no output folder
cp cut.safetensors model2/broken.safetensors
run_expect 1 "$TENZIP" compress -o model3.tnz model2
[[ ! -e model3.tnz ]] || fail "partial output folder left"
ls -A | grep -q 'tmp-' && fail "temp folder left: $(ls -A)"
ok

finish
