#!/usr/bin/env bash
# Create (or reuse) the Python venv that holds the peer compressors for bench/run_bench.sh.
#
#   bench/setup_venv.sh            prints the venv's python on its last line
#   TENZIP_BENCH_VENV=DIR          where the venv lives (default ~/.cache/tenzip/bench-venv,
#                                  outside the work tree so it survives fresh clones)
#
# Peers are pinned so that two runs of the benchmark compare the same code.
# ZipNN imports torch at module level (zipnn/zipnn.py) although its byte-compression
# path never calls it. PyPI has no CPU-only torch wheel for x86-64 Linux (those live on
# PyTorch's own index, which this project does not use), and the PyPI wheel's
# libtorch_cuda.so is linked against the nvidia-* CUDA libraries (torch --no-deps fails
# at import with "libcufile.so.0: cannot open shared object file"). So the venv takes
# torch with its CUDA dependencies, about 4 GB, once; it lives outside the work tree
# and is reused by every later run and clone.
set -euo pipefail

VENV="${TENZIP_BENCH_VENV:-$HOME/.cache/tenzip/bench-venv}"
PY_BOOT="${PYTHON:-python3}"

NUMPY_SPEC="numpy>=1.26,<3"
ZSTD_SPEC="zstandard==0.25.0"
BLOSC_SPEC="blosc2==4.14.1"
ZIPNN_SPEC="zipnn==0.5.4"
TORCH_SPEC="torch==2.15.0"
SAFETENSORS_SPEC="safetensors>=0.4"
OPENZL_SPEC="openzl==0.3.0"
STAMP_TEXT="v1 $NUMPY_SPEC $ZSTD_SPEC $BLOSC_SPEC $ZIPNN_SPEC $TORCH_SPEC $SAFETENSORS_SPEC $OPENZL_SPEC"

log() { echo "setup_venv: $*" >&2; }

if [[ -f "$VENV/.tenzip-bench-stamp" && "$(cat "$VENV/.tenzip-bench-stamp")" == "$STAMP_TEXT" ]] \
   && "$VENV/bin/python" -c "import numpy, zstandard, blosc2, zipnn" 2>/dev/null; then
  log "reusing $VENV"
  echo "$VENV/bin/python"
  exit 0
fi

log "creating $VENV (the first run downloads torch and its CUDA libraries once, about 4 GB; later runs reuse it)"
mkdir -p "$(dirname "$VENV")"
"$PY_BOOT" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install "$NUMPY_SPEC" "$ZSTD_SPEC" "$BLOSC_SPEC" "$SAFETENSORS_SPEC" >&2
"${PIP[@]}" install "$TORCH_SPEC" "$ZIPNN_SPEC" >&2
if ! "${PIP[@]}" install "$OPENZL_SPEC" >&2; then
  log "note: $OPENZL_SPEC did not install; the benchmark will skip OpenZL"
fi
"$VENV/bin/python" - <<'EOF' >&2
import warnings; warnings.simplefilter("ignore")
import numpy, zstandard, blosc2, torch, zipnn
z = zipnn.ZipNN(method="huffman", input_format="byte", bytearray_dtype="float32", threads=1)
data = numpy.linspace(-1, 1, 4096, dtype=numpy.float32).tobytes()
assert bytes(z.decompress(z.compress(bytearray(data)))) == data, "zipnn round trip failed"
print("setup_venv: zipnn", zipnn.__file__, "torch", torch.__version__, "cuda", torch.cuda.is_available())
EOF
echo "$STAMP_TEXT" > "$VENV/.tenzip-bench-stamp"
log "ready: $VENV"
echo "$VENV/bin/python"
