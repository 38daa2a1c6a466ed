#!/usr/bin/env bash
# End-to-end benchmark: tenzip vs ZipNN, zstd, Blosc2 and OpenZL on the real corpus.
#
#   bench/run_bench.sh [--quick] [extra bench_peers.py options]
#
# 1. creates or reuses the peers' venv (bench/setup_venv.sh; $TENZIP_BENCH_VENV)
# 2. extracts the corpus tensors to bench/data/ (bench/extract_corpus.py; skipped when
#    up to date; corpus from $TENZIP_CORPUS_DIR, default ../shared/corpus)
# 3. builds build/tenzip if it is missing ($TENZIP_BIN to use another binary, and
#    $TENZIP_BIN_COMMIT to record which commit that binary was built from)
# 4. measures every codec in one run -> bench/results/<UTC date>.jsonl
# 5. writes BENCHMARKS.md from it (bench/report.py)
#
# --quick: short timings (0.2 s on ALL, 0.05 s per file) to check the pipeline; its
# results go to bench/results/quick-<date>.jsonl and BENCHMARKS.md is left alone unless
# you pass --report.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CORPUS="${TENZIP_CORPUS_DIR:-$REPO/../shared/corpus}"
TENZIP_BIN="${TENZIP_BIN:-build/tenzip}"
COMMAND="bench/run_bench.sh${*:+ $*}"
for v in TENZIP_BIN TENZIP_BIN_COMMIT TENZIP_CORPUS_DIR TENZIP_BENCH_VENV; do  # record non-default settings
  if [[ -n "${!v:-}" ]]; then COMMAND="$v=${!v} $COMMAND"; fi
done

QUICK=0
REPORT=1
ARGS=()
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1; REPORT=0 ;;
    --report) REPORT=2 ;;
    *) ARGS+=("$a") ;;
  esac
done
if ((REPORT == 2)); then REPORT=1; fi

die() { echo "run_bench: error: $*" >&2; exit 1; }
T0=$SECONDS

[[ -d "$CORPUS" ]] || die "corpus not found at $CORPUS (set TENZIP_CORPUS_DIR)"

PY="$(bench/setup_venv.sh | tail -n 1)"
[[ -x "$PY" ]] || die "venv setup did not give a python ($PY)"

python3 bench/extract_corpus.py --corpus "$CORPUS" --out bench/data

if [[ ! -x "$TENZIP_BIN" ]]; then
  [[ "$TENZIP_BIN" == build/tenzip ]] || die "TENZIP_BIN=$TENZIP_BIN is not an executable"
  echo "run_bench: building build/tenzip (Release)" >&2
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build build -j2 --target tenzip_cli >&2
fi
"$TENZIP_BIN" --version >/dev/null || die "$TENZIP_BIN --version failed"

DATE="$(date -u +%F)"
mkdir -p bench/results
if ((QUICK)); then
  OUT="bench/results/quick-$DATE.jsonl"
  TIMES=(--min-time 0.2 --min-time-file 0.05)
else
  OUT="bench/results/$DATE.jsonl"
  TIMES=()
fi
echo "run_bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; measuring -> $OUT" >&2
"$PY" bench/bench_peers.py --data bench/data --tenzip "$TENZIP_BIN" --out "$OUT" \
  --command "$COMMAND" "${TIMES[@]}" "${ARGS[@]}"

if ((REPORT)); then
  python3 bench/report.py "$OUT" --out BENCHMARKS.md
fi
echo "run_bench: done in $(( (SECONDS - T0) / 60 )) min $(( (SECONDS - T0) % 60 )) s; results $OUT" >&2
