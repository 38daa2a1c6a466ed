#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan and fuzzes one of them.
#   fuzz/run_fuzz.sh SECONDS [TARGET]        (TARGET defaults to decode_fuzzer)
# Env: BUILD (default /tmp/b-fuzz), WORK (default /tmp/tenzip-fuzz), JOBS (default 1).
# New inputs go to $WORK/corpus/TARGET (the seeds in fuzz/corpus/TARGET are only read);
# crashes to $WORK/artifacts/. Copy a crash into fuzz/corpus/TARGET/ once fixed.
set -euo pipefail
seconds=${1:?usage: run_fuzz.sh SECONDS [TARGET]}
target=${2:-decode_fuzzer}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-/tmp/b-fuzz}
work=${WORK:-/tmp/tenzip-fuzz}
cxx=$(command -v clang++-14 || command -v clang++)
cc=$(command -v clang-14 || command -v clang)

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DTENZIP_FUZZ=ON -DTENZIP_SANITIZE=address,undefined -DTENZIP_BUILD_TESTS=OFF -DTENZIP_BUILD_CLI=OFF >/dev/null
cmake --build "$build" -j2 --target "$target"

mkdir -p "$work/corpus/$target" "$work/artifacts"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
parallel=()
if [[ ${JOBS:-1} -gt 1 ]]; then parallel=(-jobs="$JOBS" -workers="$JOBS"); fi
exec "$build/fuzz/$target" -max_total_time="$seconds" -max_len=70000 -timeout=20 -rss_limit_mb=2560 \
  "${parallel[@]}" -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus/$target" "$src/fuzz/corpus/$target"
