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

# Under TSan everything runs 5-15x slower. The whole suite takes under 2 minutes there
# today, so nothing is skipped; should it grow, put the slow single-threaded tests in
# TSAN_EXCLUDE (a ctest -E regex), e.g. '^cli\.(overwrite|golden_errors)$'.
TSAN_EXCLUDE=${TSAN_EXCLUDE:-}

# Sanitizer builds keep assertions (no NDEBUG) and frame pointers for readable reports.
SAN_FLAGS="-O1 -g -fno-omit-frame-pointer"

# The reference packages the cross-checks need (a venv; quick when already there).
TEST_PYTHON=$(scripts/test-venv.sh)
CORPUS_ARGS+=(-DTENZIP_TEST_PYTHON="$TEST_PYTHON")

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
    cat "$dir/configure.log"; failed+=("$name: configure"); n_failed=$((n_failed + 1)); return 0
  fi
  if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
    tail -n 60 "$dir/build.log"; failed+=("$name: build"); n_failed=$((n_failed + 1)); return 0
  fi
  echo "built $dir (log: $dir/build.log)"
  local rc=0
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$JOBS" "${ctest_args[@]}") 2>&1 | tee "$dir/ctest.log" \
    || rc=$?
  [[ $rc -eq 0 ]] || failed+=("$name: tests (ctest exit $rc)")
  # "N% tests passed, F tests failed out of T"
  local line
  line=$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" | tail -n 1 || true)
  if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    n_failed=$((n_failed + BASH_REMATCH[1]))
    n_passed=$((n_passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
}
n_passed=0
n_failed=0

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
      stage tsan build-tsan ${TSAN_EXCLUDE:+-E "$TSAN_EXCLUDE"} -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENZIP_SANITIZE=thread \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" ;;
    *) echo "scripts/test.sh: unknown stage '$s' (release, asan, tsan)" >&2; exit 2 ;;
  esac
done

echo
echo "==================== summary ($((SECONDS - start)) s) ===================="
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  echo "tests: $n_passed passed, $n_failed failed"
  exit 1
fi
echo "all stages passed: $STAGES"
echo "tests: $n_passed passed, $n_failed failed"
