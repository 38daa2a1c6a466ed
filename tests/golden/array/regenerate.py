"""Regenerates the golden array containers, deliberately: tests/golden/array/*.tnz and MANIFEST.json.

Containers written by the Python package's tenzip.compress (doc/FORMAT.md section 13.1: array
metadata) must keep decoding to the same array: type, dtype, shape and bytes. tests/python/
test_golden.py checks that, and that compressing the decoded array gives the same file again.

Run after a change to the array metadata or to the codec's output, with a Python where the
package and its test requirements (numpy, ml_dtypes, torch) are installed:
    python tests/golden/array/regenerate.py
Values come from the shared corpus (TENZIP_CORPUS_DIR, default <repo>/../shared/corpus).
"""

import hashlib
import json
import os
from pathlib import Path

import ml_dtypes
import numpy as np
import torch

import tenzip

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("TENZIP_CORPUS_DIR", HERE.parents[2].parent / "shared" / "corpus"))


def raw_bytes(x) -> bytes:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, torch.Tensor):
        return x.reshape(-1).view(torch.uint8).numpy().tobytes()
    return x.tobytes()


def describe(x) -> dict:
    """What the golden test compares: the Python type, dtype, shape and sha256 of the bytes."""
    if isinstance(x, bytes):
        kind, dtype, shape = "bytes", "uint8", [len(x)]
    elif isinstance(x, torch.Tensor):
        kind, dtype, shape = "torch", str(x.dtype), list(x.shape)
    else:
        kind, dtype, shape = "numpy", str(x.dtype), list(x.shape)
    return {"kind": kind, "dtype": dtype, "shape": shape, "sha256": hashlib.sha256(raw_bytes(x)).hexdigest()}


def main() -> None:
    # stories260K.bin: 28-byte header, then fp32 weights (the token embedding first).
    blob = (CORPUS / "llm" / "stories260K.bin").read_bytes()
    f32 = np.frombuffer(blob, dtype="<f4", count=1200, offset=28).reshape(30, 40).copy()
    bf16 = f32.astype(ml_dtypes.bfloat16)
    cases = {
        "numpy_float32": f32,
        "numpy_bfloat16": bf16,
        "numpy_float8_e4m3fn": (f32[:8] * 16).astype(ml_dtypes.float8_e4m3fn),
        "torch_bfloat16": torch.from_numpy(f32).to(torch.bfloat16),
        "torch_float16_scalar": torch.tensor(float(f32[3, 7]), dtype=torch.float16),
        "numpy_big_endian_f4": f32[:8, :8].astype(">f4"),  # no dtype name gives it back: 'descr'
        "numpy_structured": np.frombuffer(blob[28 : 28 + 6 * 50], dtype=[("a", "<f4"), ("b", "i1", (2,))]).copy(),
        "numpy_int64_empty": np.zeros((0, 3), dtype=np.int64),
        "bytes": b"tenzip golden array: a plain buffer\n" * 20,
    }
    manifest = []
    for name, x in cases.items():
        data = tenzip.compress(x, threads=1)
        (HERE / f"{name}.tnz").write_bytes(data)
        back = tenzip.decompress(data)
        assert describe(back) == describe(x), name
        manifest.append({"file": f"{name}.tnz", **describe(x)})
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} golden array containers to {HERE}")


if __name__ == "__main__":
    main()
