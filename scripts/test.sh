#!/usr/bin/env bash
# The full test suite, in five stages:
#   1. Release build in build/ (the one setup.sh makes): every test.
#   2. Release build with clang in build-clang/ (the others use the default compiler, GCC on
#      Debian): every test; keeps the code building and correct with both compilers.
#   3. ASan + UBSan build in build-asan/: every test.
#   4. TSan build in build-tsan/: the tests that run threads (see TSAN_EXCLUDE below).
#   5. The Python package in build-python/: `pip install .` into a fresh venv, then tests/python.
# Builds what is missing or stale first. Exits non-zero if any build or test fails.
# Environment: JOBS (build parallelism, default nproc), STAGES (default "release asan tsan python"),
# TENZIP_CORPUS_DIR (default ../shared/corpus).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
STAGES=${STAGES:-release clang asan tsan python}
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

# The Python package: a fresh venv (build-python/venv, recreated every run), `pip install .`
# exactly as a user runs it (build isolation, a clean build: timed), then `import tenzip` with
# neither torch nor numpy, then the pytest suite.
# The test requirements (torch, transformers, ...: gigabytes) are not installed a second time:
# a .pth file appends the test venv's site-packages to the fresh venv's path, after the
# package's own (so tenzip comes from the fresh install). Needs the same Python version as the
# test venv, else the requirements are installed into the fresh venv.
python_stage() {
  local dir=build-python
  echo
  echo "==================== python ($dir) ===================="
  mkdir -p "$dir"
  rm -rf "$dir/venv"
  if ! python3 -m venv "$dir/venv" >"$dir/venv.log" 2>&1; then
    cat "$dir/venv.log"; failed+=("python: venv"); n_failed=$((n_failed + 1)); return 0
  fi
  local py=$dir/venv/bin/python t0=$SECONDS
  if ! CMAKE_BUILD_PARALLEL_LEVEL=$JOBS "$py" -m pip install --disable-pip-version-check -v . >"$dir/install.log" 2>&1; then
    tail -n 60 "$dir/install.log"; failed+=("python: pip install ."); n_failed=$((n_failed + 1)); return 0
  fi
  echo "pip install . took $((SECONDS - t0)) s (log: $dir/install.log)"
  if ! "$py" -c 'import sys, tenzip
assert "torch" not in sys.modules and "numpy" not in sys.modules
assert tenzip.decompress(tenzip.compress(b"tenzip" * 1000)) == b"tenzip" * 1000
print("import tenzip", tenzip.__version__, "without torch or numpy: ok")'; then
    failed+=("python: import without torch"); n_failed=$((n_failed + 1))
  fi
  local site test_site
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  test_site=$("$TEST_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [[ $("$py" -c 'import sys; print(sys.version_info[:2])') == $("$TEST_PYTHON" -c 'import sys; print(sys.version_info[:2])') ]]; then
    echo "$test_site" >"$site/zz-tenzip-test-requirements.pth"
  elif ! "$py" -m pip install -q --disable-pip-version-check -r tests/requirements.txt >>"$dir/install.log" 2>&1; then
    tail -n 30 "$dir/install.log"; failed+=("python: test requirements"); n_failed=$((n_failed + 1)); return 0
  fi
  local rc=0 cli=${TENZIP:-$PWD/build/tenzip}  # the release stage's tenzip, for the CLI cross-checks
  (cd "$dir" && TENZIP=$cli HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
     "$PWD/venv/bin/python" -m pytest -p no:cacheprovider -q -rs --junitxml=pytest.xml ../tests/python) 2>&1 \
    | tee "$dir/pytest.log" | sed '/Loading weights/d' || rc=$?
  [[ $rc -eq 0 ]] || failed+=("python: tests (pytest exit $rc)")
  local counts
  if counts=$(python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
t, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
print(t - f - e - k, f + e)' "$dir/pytest.xml" 2>/dev/null); then
    n_passed=$((n_passed + ${counts% *}))
    n_failed=$((n_failed + ${counts#* }))
  else
    n_failed=$((n_failed + 1))
  fi
}

start=$SECONDS
for s in $STAGES; do
  case $s in
    release)
      stage release build -- -DCMAKE_BUILD_TYPE=Release ;;
    clang)
      stage clang build-clang -- -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$(command -v clang++-14 || command -v clang++)" \
        -DCMAKE_C_COMPILER="$(command -v clang-14 || command -v clang)" ;;
    asan)
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      stage asan+ubsan build-asan -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENZIP_SANITIZE=address,undefined \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" ;;
    tsan)
      TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
      stage tsan build-tsan ${TSAN_EXCLUDE:+-E "$TSAN_EXCLUDE"} -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENZIP_SANITIZE=thread \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" ;;
    python)
      python_stage ;;
    *) echo "scripts/test.sh: unknown stage '$s' (release, clang, asan, tsan, python)" >&2; exit 2 ;;
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
