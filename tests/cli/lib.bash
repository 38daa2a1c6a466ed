# Shared helpers for tests/cli/*.sh (sourced; not a test itself: ctest registers *.sh only).
# Environment (set by ctest): TENZIP, TENZIP_SOURCE_DIR, TENZIP_CORPUS_DIR, TENZIP_CORPUS_TENSORS.
set -euo pipefail

: "${TENZIP:?TENZIP must be the path of the tenzip binary}"
: "${TENZIP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${TENZIP_CORPUS_DIR:=$TENZIP_SOURCE_DIR/../shared/corpus}"
: "${TENZIP_CORPUS_TENSORS:=}"
[[ -x $TENZIP ]] || { echo "FAIL: TENZIP=$TENZIP is not executable" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenzip-cli-test.XXXXXX")
cleanup() {
  local rc=$?
  # Leave no background process behind (killed-mid-run tests).
  local j
  for j in $(jobs -p); do kill -9 "$j" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
# Tests run in $WORK/run; captured output lives beside it so directory listings stay exact.
mkdir "$WORK/run"
cd "$WORK/run"

N_CHECKS=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { N_CHECKS=$((N_CHECKS + 1)); }
note() { echo "# $*"; }
finish() { echo "PASS: $(basename "$0") ($N_CHECKS checks)"; }

# run_expect CODE CMD... : run CMD, capture stdout/stderr in $WORK/out, $WORK/err, check its exit code.
run_expect() {
  local want=$1; shift
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  if [[ $rc -ne $want ]]; then
    echo "--- stderr:" >&2; head -c 2000 "$WORK/err" >&2 || true
    fail "expected exit $want, got $rc: $*"
  fi
  ok
}

# The one-line error format: exactly one line, starting with "tenzip: error: ".
check_error_line() {
  local f=${1:-$WORK/err}
  [[ $(wc -l <"$f") -eq 1 ]] || { cat "$f" >&2; fail "stderr is not exactly one line"; }
  grep -q '^tenzip: error: ' "$f" || { cat "$f" >&2; fail "stderr does not start with 'tenzip: error: '"; }
  ok
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

same_file() {
  cmp -s "$1" "$2" || fail "$1 and $2 differ"
  ok
}

# No file in DIR except those named (temp files from a failed run must be gone too).
only_files() {
  local dir=$1; shift
  local want got
  want=$(printf '%s\n' "$@" | sort)
  got=$(cd "$dir" && ls -A | sort)
  [[ "$got" == "$want" ]] || fail "files in $dir: [$(echo $got)] expected [$(echo $want)]"
  ok
}

# Sample inputs for a dtype: extracted corpus tensors if present, else whole corpus files.
# Prints one path per line (at most $2 files, default 3).
samples() {
  local dtype=$1 max=${2:-3}
  local dir="$TENZIP_CORPUS_TENSORS/$dtype"
  if [[ -n $TENZIP_CORPUS_TENSORS && -d $dir ]]; then
    ls "$dir"/*.raw 2>/dev/null | grep -v '/ALL\.raw$' | head -n "$max"
    return
  fi
  case $dtype in
    fp32) printf '%s\n' "$TENZIP_CORPUS_DIR/llm/stories260K.bin" "$TENZIP_CORPUS_DIR/mlp/gnubg.wd" \
            "$TENZIP_CORPUS_DIR/llm/tiny-rwkv-7v0-834K-FP32.bin" | head -n "$max" ;;
    fp16) printf '%s\n' "$TENZIP_CORPUS_DIR/llm/tiny-rwkv-7v0-834K-FP16.bin" \
            "$TENZIP_CORPUS_DIR/cnn/face_detection_full_range.tflite" | head -n "$max" ;;
    *) printf '%s\n' "$TENZIP_CORPUS_DIR/llm/stories260K.bin" | head -n "$max" ;;
  esac
}

# A real fp32 file, always present.
STORIES="$TENZIP_CORPUS_DIR/llm/stories260K.bin"
[[ -f $STORIES ]] || fail "corpus not found: $STORIES (set TENZIP_CORPUS_DIR)"

# bf16 and fp8 data derived from real fp32 weights (bf16: round to nearest even; fp8: the top
# byte of the bf16/fp16 word, i.e. a truncation: fine for a lossless round-trip test).
make_derived() {
  local src=$1 out_prefix=$2
  python3 - "$src" "$out_prefix" <<'EOF'
import struct, sys
src, pre = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
n = len(b) // 4
w = struct.unpack("<%dI" % n, b[: 4 * n])
bf = bytearray()
for x in w:
    if (x & 0x7F800000) == 0x7F800000 and (x & 0x7FFFFF):
        h = (x >> 16) | 0x40          # keep NaNs NaN
    else:
        h = (x + 0x7FFF + ((x >> 16) & 1)) >> 16
    bf += struct.pack("<H", h & 0xFFFF)
open(pre + ".bf16", "wb").write(bf)
# fp8 e5m2 is the top byte of an fp16; e4m3-like bytes: the top byte of bf16 shifted to keep
# sign + 4 exponent bits + 3 mantissa bits (real distribution shape, any byte is valid).
e5m2 = bytearray()
for x in w:
    f = struct.unpack("<f", struct.pack("<I", x))[0]
    try:
        h = struct.unpack("<H", struct.pack("<e", f))[0]
    except OverflowError:
        h = 0x7C00 | ((x >> 16) & 0x8000)
    e5m2.append(h >> 8)
open(pre + ".fp8_e5m2", "wb").write(e5m2)
e4m3 = bytearray()
for x in w:
    s = (x >> 31) & 1
    e = (x >> 23) & 0xFF
    m = (x >> 20) & 7
    eb = min(max(e - 127 + 7, 0), 15)
    e4m3.append((s << 7) | (eb << 3) | m)
open(pre + ".fp8_e4m3", "wb").write(e4m3)
EOF
}
