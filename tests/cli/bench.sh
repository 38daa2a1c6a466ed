#!/usr/bin/env bash
# `tenzip bench`: text and --json output; the round trip is verified inside bench.
source "$(dirname "$0")/lib.bash"

make_derived "$STORIES" d
files=("$STORIES" "$TENZIP_CORPUS_DIR/mlp/gnubg.wd")
run_expect 0 "$TENZIP" bench --dtype fp32 -T 1 --min-time 0.05 --json "${files[@]}"
python3 - "$WORK/out" fp32 1 3 "${files[@]}" <<'PY'
import json, os, sys
out, dtype, threads, level, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
lines = [l for l in open(out).read().splitlines() if l.strip()]
def need(c, m):
    if not c:
        sys.exit(f"FAIL: bench --json: {m}\n" + "\n".join(lines))
need(len(lines) == len(files), f"{len(lines)} lines for {len(files)} files")
for line, f in zip(lines, files):
    j = json.loads(line)
    for k in ("file", "dtype", "threads", "level", "size", "compressed_size", "ratio",
              "compress_MBps", "decompress_MBps"):
        need(k in j, f"missing key {k}")
    need(j["file"] == f, f"file {j['file']} != {f}")
    need(j["dtype"] == dtype and j["threads"] == threads and j["level"] == level, "options not echoed")
    need(j["size"] == os.path.getsize(f), "size")
    need(0 < j["ratio"] <= 1.1, f"ratio {j['ratio']}")
    need(abs(j["ratio"] - j["compressed_size"] / j["size"]) < 1e-4, "ratio != compressed/size")
    need(j["compress_MBps"] > 0 and j["decompress_MBps"] > 0, "speeds")
    need(j.get("verified") is True, "round trip not verified")
PY
ok

# other dtypes and options
run_expect 0 "$TENZIP" bench --dtype bf16 -T 2 -l 1 --min-time 0.02 --json d.bf16
python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read()); assert j["dtype"]=="bf16" and j["threads"]==2 and j["level"]==1 and 0<j["ratio"]<=1.1, j' "$WORK/out" \
  || fail "bench bf16 json"
ok
run_expect 0 "$TENZIP" bench --dtype fp8_e4m3 --min-time 0.02 --json d.fp8_e4m3
python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read()); assert j["threads"]>=1 and j["size"]>0, j' "$WORK/out" \
  || fail "bench -T default json"
ok

# text output: one line per file with ratio and both speeds
run_expect 0 "$TENZIP" bench --dtype fp32 --min-time 0.02 "$STORIES"
grep -Eq 'ratio 0\.[0-9]+.*compress [0-9.]+ MB/s.*decompress [0-9.]+ MB/s' "$WORK/out" || fail "bench text: $(cat "$WORK/out")"
ok

# an empty file is measured without dividing by zero; JSON stays valid
: >empty.bin
run_expect 0 "$TENZIP" bench --min-time 0 --json empty.bin
python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read()); assert j["size"]==0, j' "$WORK/out" || fail "bench empty"
ok

# A file name is bytes: escapes, valid UTF-8 kept, and every invalid sequence (a stray byte,
# an overlong form, a surrogate, a code point above U+10FFFF) escaped, so the line is strict
# UTF-8 JSON.
odd=$'q"\\n\n\t\x01 \xc3\xa9 \xf0\x9f\x98\x80 \xff \xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80.bin'
printf 'ab' >"$odd"
run_expect 0 "$TENZIP" bench --min-time 0 --json "$odd"
python3 - "$WORK/out" <<'PY' || fail "bench --json with an odd file name"
import json, sys
j = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict: raises on invalid UTF-8
name = j["file"]
assert name.startswith('q"\\n\n\t\x01 \u00e9 \U0001f600 ') and name.endswith(".bin"), repr(name)
assert "\ufffd" not in name, repr(name)
PY
ok
rm -f "$odd"

# failures
run_expect 1 "$TENZIP" bench missing.bin
check_error_line
run_expect 2 "$TENZIP" bench --dtype nope "$STORIES"
check_error_line
finish
