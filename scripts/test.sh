#!/usr/bin/env bash
# The full test suite, three times:
#   1. Release build in build/ (the one setup.sh makes): every test.
#   2. ASan + UBSan build in build-asan/: every test.
#   3. TSan build in build-tsan/: the tests that run threads (see TSAN_EXCLUDE below).
# Builds what is missing or stale first. Exits non-zero if any build or test fails.
# Environment: JOBS (build parallelism, default nproc), STAGES (default "release asan tsan"),
# TENZIP_CORPUS_DIR (default ../shared/corpus).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
STAGES=${STAGES:-release asan tsan}
CORPUS_ARGS=()
[[ -n ${TENZIP_CORPUS_DIR:-} ]] && CORPUS_ARGS=(-DTENZIP_CORPUS_DIR="$TENZIP_CORPUS_DIR")

# Under TSan everything runs 5-15x slower: skip the tests that only repeat single-threaded
# work on big inputs, or whose subject is not threading (error paths, golden files, usage).
# The CLI round-trip and kill tests, the thread pool and all codec/stream unit tests still run.
TSAN_EXCLUDE=${TSAN_EXCLUDE:-'^(cli\.(overwrite|golden_errors|inspect|bench)|fuzz_replay\..*)$'}

# Sanitizer builds keep assertions (no NDEBUG) and frame pointers for readable reports.
SAN_FLAGS="-O1 -g -fno-omit-frame-pointer"

failed=()
stage() {  # stage NAME BUILD_DIR [ctest args...] -- [cmake args...]
  local name=$1 dir=$2; shift 2
  local ctest_args=()
  while [[ $# -gt 0 && $1 != -- ]]; do ctest_args+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  echo
  echo "==================== $name ($dir) ===================="
  mkdir -p "$dir"
  if ! cmake -S . -B "$dir" "${CORPUS_ARGS[@]}" "$@" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log"; failed+=("$name: configure"); return 0
  fi
  if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
    tail -n 60 "$dir/build.log"; failed+=("$name: build"); return 0
  fi
  echo "built $dir (log: $dir/build.log)"
  local rc=0
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$JOBS" "${ctest_args[@]}") || rc=$?
  [[ $rc -eq 0 ]] || failed+=("$name: tests (ctest exit $rc)")
}

start=$SECONDS
for s in $STAGES; do
  case $s in
    release)
      stage release build -- -DCMAKE_BUILD_TYPE=Release ;;
    asan)
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      stage asan+ubsan build-asan -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENZIP_SANITIZE=address,undefined \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" ;;
    tsan)
      TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
      stage tsan build-tsan -E "$TSAN_EXCLUDE" -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENZIP_SANITIZE=thread \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" ;;
    *) echo "scripts/test.sh: unknown stage '$s' (release, asan, tsan)" >&2; exit 2 ;;
  esac
done

echo
echo "==================== summary ($((SECONDS - start)) s) ===================="
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all stages passed: $STAGES"
