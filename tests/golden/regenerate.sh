#!/usr/bin/env bash
# Regenerates the golden files, deliberately: tests/golden/*.in, *.tnz, SHA256SUMS, tests/golden/model/,
# tests/golden_errors/ (and its model/), and the fuzz seeds copied from them. The Python package's
# array containers (tests/golden/array) have their own script: tests/golden/array/regenerate.py.
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
# Golden.Regenerate: the containers; GoldenModel.Regenerate: model containers (tests/golden/model,
# tests/golden_errors/model) and the model_fuzzer's golden_* seeds.
TENZIP_REGENERATE_GOLDEN=1 "$build/tests/tenzip_tests" --gtest_filter='Golden.Regenerate:GoldenModel.Regenerate' --gtest_brief=1
(cd "$src/tests/golden" && sha256sum -- *.in > SHA256SUMS)
# Fuzz seeds: small valid containers of every dtype and every golden error file.
seeds="$src/fuzz/corpus/decode_fuzzer"
mkdir -p "$seeds"
rm -f "$seeds"/golden_*.tnz "$seeds"/error_*.tnz
for f in "$src"/tests/golden/special_*.tnz "$src"/tests/golden/multi_segment.tnz "$src"/tests/golden/empty.tnz \
  "$src"/tests/golden/fp32_silero_stft.tnz "$src"/tests/golden/fp32_rwkv7_clean.tnz \
  "$src"/tests/golden/bf16_stories260k_lanes.tnz "$src"/tests/golden/fp32_rwkv7_clean_lanes.tnz; do
  cp "$f" "$seeds/golden_$(basename "$f")"
done
for f in "$src"/tests/golden_errors/*.tnz; do cp "$f" "$seeds/error_$(basename "$f")"; done
# Chunk fuzzer seeds: chunk 0 of a golden file as the fuzzer reads it (dtype byte, element
# count - 1 as u16, payload; see fuzz/chunk_fuzzer.cpp), checked to start with stream mode MODE.
#   chunk0_seed GOLDEN.tnz SEED MODE
chunk0_seed() {
  python3 - "$src/tests/golden/$1" "$src/fuzz/corpus/chunk_fuzzer/$2" "$3" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
frame = b[20:52]
n_elems, payload_size = struct.unpack_from("<II", frame, 4)
seed = bytes([frame[1]]) + struct.pack("<H", n_elems - 1) + b[52:52 + payload_size]
assert seed[3] == int(sys.argv[3]), f"{sys.argv[1]}: chunk 0 starts with mode {seed[3]}, not {sys.argv[3]}"
open(sys.argv[2], "wb").write(seed)
PY
}
chunk0_seed fp32_silero_stft.tnz payload_fp32_elements.bin 4  # ZSTD_ELEMENTS
chunk0_seed fp32_rwkv7_clean.tnz payload_fp32_flat.bin 2      # HUFF exponents; flat 7- and 1-bit codes after
chunk0_seed bf16_stories260k_lanes.tnz payload_bf16_lanes.bin 5  # LANES exponents, one table
chunk0_seed fp32_rwkv7_clean_lanes.tnz payload_fp32_lanes.bin 5  # LANES exponents, several tables
"$build/tests/tenzip_tests" --gtest_filter='Golden.*' --gtest_brief=1
echo "regenerated: review with 'git status tests/golden tests/golden_errors fuzz/corpus' and commit"
