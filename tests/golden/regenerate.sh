#!/usr/bin/env bash
# Regenerates the golden files, deliberately: tests/golden/*.in, *.tnz, SHA256SUMS,
# tests/golden_errors/*.tnz + *.expected, and the fuzz seeds copied from them.
# Run after any change to the container format or to the codec's payload bytes:
#   tests/golden/regenerate.sh [build-dir]     (default build dir: /tmp/b-golden)
# Inputs come from the shared corpus (TENZIP_CORPUS_DIR, default <repo>/../shared/corpus).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-/tmp/b-golden}
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target tenzip_tests
TENZIP_REGENERATE_GOLDEN=1 "$build/tests/tenzip_tests" --gtest_filter='Golden.Regenerate' --gtest_brief=1
(cd "$src/tests/golden" && sha256sum -- *.in > SHA256SUMS)
# Fuzz seeds: small valid containers of every dtype and every golden error file.
seeds="$src/fuzz/corpus/decode_fuzzer"
mkdir -p "$seeds"
rm -f "$seeds"/golden_*.tnz "$seeds"/error_*.tnz
for f in "$src"/tests/golden/special_*.tnz "$src"/tests/golden/multi_segment.tnz "$src"/tests/golden/empty.tnz \
  "$src"/tests/golden/fp32_silero_stft.tnz "$src"/tests/golden/fp32_rwkv7_clean.tnz; do
  cp "$f" "$seeds/golden_$(basename "$f")"
done
for f in "$src"/tests/golden_errors/*.tnz; do cp "$f" "$seeds/error_$(basename "$f")"; done
# The chunk fuzzer's seed for ZSTD_ELEMENTS: chunk 0 of the STFT golden file (dtype byte,
# element count - 1 as u16, payload; see fuzz/chunk_fuzzer.cpp).
python3 - "$src/tests/golden/fp32_silero_stft.tnz" "$src/fuzz/corpus/chunk_fuzzer/payload_fp32_elements.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
frame = b[20:52]
n_elems, payload_size = struct.unpack_from("<II", frame, 4)
seed = bytes([frame[1]]) + struct.pack("<H", n_elems - 1) + b[52:52 + payload_size]
assert seed[3] == 4, "chunk 0 is not ZSTD_ELEMENTS"
open(sys.argv[2], "wb").write(seed)
PY
# And for flat codes: chunk 0 of the clean-fp32 golden file (split streams, flat 7- and 1-bit codes).
python3 - "$src/tests/golden/fp32_rwkv7_clean.tnz" "$src/fuzz/corpus/chunk_fuzzer/payload_fp32_flat.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
frame = b[20:52]
n_elems, payload_size = struct.unpack_from("<II", frame, 4)
seed = bytes([frame[1]]) + struct.pack("<H", n_elems - 1) + b[52:52 + payload_size]
assert seed[3] == 2, "chunk 0 does not start with a HUFF exponent stream"
open(sys.argv[2], "wb").write(seed)
PY
"$build/tests/tenzip_tests" --gtest_filter='Golden.*' --gtest_brief=1
echo "regenerated: review with 'git status tests/golden tests/golden_errors fuzz/corpus' and commit"
