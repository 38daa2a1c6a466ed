#!/usr/bin/env bash
# Round trips through files and through stdin/stdout pipes, for every dtype, on real weights.
source "$(dirname "$0")/lib.bash"

# roundtrip DTYPE FILE [extra compress options...]
roundtrip() {
  local dtype=$1 src=$2; shift 2
  local base sum
  base="in.$(basename "$src")"
  cp "$src" "$base"
  sum=$(sha "$base")

  # file -> file.tnz -> file (default names), then compare
  run_expect 0 "$TENZIP" compress --dtype "$dtype" "$@" "$base"
  [[ -s $base.tnz ]] || fail "$base.tnz not written"
  grep -q "^$base : \([0-9.]*% \)\?(.* => .*, $base.tnz)$" "$WORK/err" || { cat "$WORK/err"; fail "summary line"; }
  [[ $(sha "$base") == "$sum" ]] || fail "compress modified its input"
  mv "$base" "$base.orig"
  run_expect 0 "$TENZIP" decompress -q "$base.tnz"
  [[ ! -s $WORK/err ]] || fail "-q printed: $(cat "$WORK/err")"
  [[ $(sha "$base") == "$sum" ]] || fail "$dtype $src: file round trip differs"
  ok

  # pipes: stdin -> stdout both ways, with -T 1 and with all threads
  "$TENZIP" compress --dtype "$dtype" -T 1 "$@" - <"$base" >"p.tnz" || fail "pipe compress"
  "$TENZIP" decompress - <p.tnz | cmp -s - "$base" || fail "$dtype $src: pipe round trip differs"
  ok
  "$TENZIP" compress --dtype "$dtype" -T 0 "$@" -c "$base" | "$TENZIP" decompress -T 2 -c - | cmp -s - "$base" \
    || fail "$dtype $src: -c pipe round trip differs"
  ok
  # streamed and file containers decode alike (the container does not depend on the input kind)
  cmp -s p.tnz "$base.tnz" || note "$dtype: stdin and file containers differ in bytes (allowed)"
  run_expect 0 "$TENZIP" decompress -o p.out p.tnz -q
  same_file p.out "$base"
  rm -f "$base" "$base.orig" "$base.tnz" p.tnz p.out
}

for d in fp32 fp16 bf16; do
  while read -r f; do
    [[ -n $f ]] || continue
    roundtrip "$d" "$f"
  done < <(samples "$d" 2)
done

# A stream of many decode batches (43 chunks; the decoder reads the next batch while one
# decodes): the corpus's largest file as raw fp32, through pipes, with 1 and 2 threads.
big_onnx="$TENZIP_CORPUS_DIR/hybrid/ch_PP-OCRv4_rec_infer.onnx"
"$TENZIP" compress --dtype fp32 -c "$big_onnx" >big.tnz || fail "compress $big_onnx"
for t in 1 2; do
  "$TENZIP" decompress -T $t -c - <big.tnz | cmp -s - "$big_onnx" || fail "many batches, -T $t: round trip differs"
  ok
done
rm -f big.tnz

# bf16 / fp8 derived from real fp32 weights (no bf16 or fp8 file is in the corpus)
make_derived "$STORIES" derived
roundtrip bf16 derived.bf16
roundtrip fp8_e4m3 derived.fp8_e4m3
roundtrip fp8_e5m2 derived.fp8_e5m2
# --lanes (exponents for AVX-512 decoders): format version 3, exponents coded LANES.
roundtrip bf16 derived.bf16 --lanes
run_expect 0 "$TENZIP" compress --dtype bf16 --lanes -q -o lanes.tnz derived.bf16
[[ $(od -An -tu2 -j8 -N2 lanes.tnz | tr -d ' ') == 3 ]] || fail "--lanes: not format version 3"
run_expect 0 "$TENZIP" inspect --json lanes.tnz
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); e=[s for s in j["streams"] if s["stream"]=="exponent"][0]; assert e["chunks_by_mode"]["lanes"] > 0, e' "$WORK/out" \
  || fail "--lanes: no LANES exponent stream"
ok
run_expect 0 "$TENZIP" compress --dtype bf16 -q -o plain.tnz derived.bf16
[[ $(od -An -tu2 -j8 -N2 plain.tnz | tr -d ' ') == 2 ]] || fail "without --lanes: not format version 2"
ok
rm -f derived.* lanes.tnz plain.tnz

# Whole model files (headers and all), as bytes and as their main dtype; aliases; all levels.
roundtrip fp32 "$STORIES"
roundtrip bytes "$TENZIP_CORPUS_DIR/cnn/face_detection_full_range.tflite"
roundtrip float32 "$TENZIP_CORPUS_DIR/mlp/gnubg.wd"
for l in 1 9; do roundtrip fp32 "$STORIES" -l "$l"; done

# Sizes that are not a whole number of elements, empty input, one byte.
head -c 1001 "$STORIES" >odd.bin
roundtrip fp32 odd.bin
: >empty.bin
roundtrip bf16 empty.bin
printf 'x' >one.bin
roundtrip fp32 one.bin
rm -f odd.bin empty.bin one.bin

# A FIFO as a named input (size unknown, like stdin).
mkfifo fifo
cat "$STORIES" >fifo &
run_expect 0 "$TENZIP" compress --dtype fp32 -q -o fifo.tnz fifo
wait
"$TENZIP" decompress -c fifo.tnz | cmp -s - "$STORIES" || fail "fifo round trip differs"
ok

# Larger input: several corpus files, multiple chunks, threads 1 vs 2 give the same bytes back.
cat "$TENZIP_CORPUS_DIR"/llm/*.bin >big.bin
run_expect 0 "$TENZIP" compress --dtype fp32 -T 1 -o big1.tnz big.bin
run_expect 0 "$TENZIP" compress --dtype fp32 -T 2 -o big2.tnz big.bin
cmp -s big1.tnz big2.tnz || fail "compressed bytes depend on the thread count"
ok
run_expect 0 "$TENZIP" decompress -T 2 -o big.out big1.tnz
same_file big.out big.bin

finish
