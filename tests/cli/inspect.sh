#!/usr/bin/env bash
# `tenzip inspect`: text and --json output on real containers, checked for consistency.
source "$(dirname "$0")/lib.bash"

make_derived "$STORIES" d
check_container() {  # check_container FILE DTYPE
  local f=$1 dtype=$2
  run_expect 0 "$TENZIP" compress -q -f --dtype "$dtype" -o c.tnz "$f"
  run_expect 0 "$TENZIP" inspect c.tnz
  for w in "format version" "chunk size" "segments" "streams" "ratio"; do
    grep -q "$w" "$WORK/out" || fail "inspect text lacks '$w'"
  done
  if [[ $dtype != bytes ]]; then
    grep -q "entropy\|bits" "$WORK/out" || fail "inspect text lacks exponent entropy"
  fi
  run_expect 0 "$TENZIP" inspect --json c.tnz
  python3 - "$WORK/out" "$f" "$dtype" "$(stat -c %s c.tnz)" <<'PY'
import json, math, os, sys
out, src, dtype, csize = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
j = json.load(open(out))
def need(c, m):
    if not c:
        sys.exit(f"FAIL: inspect --json: {m}\n{json.dumps(j)[:2000]}")
for k in ("file", "format_version", "chunk_elems", "container_size", "decoded_size", "ratio",
          "segments", "streams", "exponents"):
    need(k in j, f"missing key {k}")
size = os.path.getsize(src)
need(j["decoded_size"] == size, f"decoded_size {j['decoded_size']} != {size}")
need(j["container_size"] == csize, f"container_size {j['container_size']} != {csize}")
need(j["format_version"] >= 1, "format_version")
need(0 < j["ratio"] <= 1.1, f"ratio {j['ratio']}")
need(abs(j["ratio"] - csize / size) < 1e-4, "ratio != container/decoded")
segs = j["segments"]
need(len(segs) >= 1, "no segments")
need(sum(s["decoded_size"] for s in segs) == size, "segments do not cover the data")
need(any(s["dtype"] == dtype for s in segs), f"no {dtype} segment")
need(all(s["coded_size"] <= csize for s in segs), "segment coded_size > container")
need(len(j["streams"]) >= 1, "no streams")
for st in j["streams"]:
    for k in ("dtype", "stream", "raw_size", "coded_size", "chunks_by_mode"):
        need(k in st, f"stream lacks {k}")
    need(st["coded_size"] <= csize, "stream coded_size > container")
need(sum(st["raw_size"] for st in j["streams"]) >= 1, "streams carry no data")
bits = {"bf16": 8, "fp32": 8, "fp16": 5, "fp8_e4m3": 4, "fp8_e5m2": 5}
width = {"bf16": 2, "fp32": 4, "fp16": 2, "fp8_e4m3": 1, "fp8_e5m2": 1}
if dtype in bits:
    ex = [e for e in j["exponents"] if e["dtype"] == dtype]
    need(ex, "no exponent statistics")
    n = sum(e["elements"] for e in ex)
    need(n == size // width[dtype], f"exponent elements {n} != {size // width[dtype]}")
    for e in ex:
        need(sum(c for _, c in e["histogram"]) == e["elements"], "histogram does not sum to elements")
        need(all(0 <= v < 2 ** bits[dtype] for v, _ in e["histogram"]), "exponent value out of range")
        need(0 <= e["block_entropy_bits"] <= e["entropy_bits"] + 1e-9 <= bits[dtype] + 1e-9,
             f"entropies {e['block_entropy_bits']} / {e['entropy_bits']}")
    # Recompute the histogram from the data itself.
    raw = open(src, "rb").read()
    shift = {"bf16": 7, "fp32": 23, "fp16": 10, "fp8_e4m3": 3, "fp8_e5m2": 2}[dtype]
    w = width[dtype]
    hist = {}
    for i in range(0, len(raw) - w + 1, w):
        v = (int.from_bytes(raw[i:i + w], "little") >> shift) & ((1 << bits[dtype]) - 1)
        hist[v] = hist.get(v, 0) + 1
    got = {}
    for e in ex:
        for v, c in e["histogram"]:
            got[v] = got.get(v, 0) + c
    need(got == hist, "exponent histogram differs from the data")
    if len(ex) == 1:
        tot = sum(hist.values())
        h = -sum(c / tot * math.log2(c / tot) for c in hist.values())
        need(abs(h - ex[0]["entropy_bits"]) < 1e-3, f"entropy {ex[0]['entropy_bits']} != {h}")
PY
  ok
}

check_container "$STORIES" fp32
check_container d.bf16 bf16
check_container d.fp8_e4m3 fp8_e4m3
check_container d.fp8_e5m2 fp8_e5m2
while read -r f; do check_container "$f" fp16; done < <(samples fp16 1)
check_container "$TENZIP_CORPUS_DIR/cnn/face_detection_full_range.tflite" bytes

# inspect reads stdin too
"$TENZIP" compress -q -f --dtype fp32 -o c.tnz "$STORIES"
"$TENZIP" inspect --json - <c.tnz | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "inspect - (stdin)"
ok
# not a container: exit 1
run_expect 1 "$TENZIP" inspect "$STORIES"
check_error_line
run_expect 1 "$TENZIP" inspect missing.tnz
check_error_line
finish
