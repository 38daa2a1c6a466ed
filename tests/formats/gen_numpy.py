#!/usr/bin/env python3
"""Generates the .npy/.npz fixtures in tests/data/formats/numpy/ with numpy's own writers
(np.save, np.savez, np.savez_compressed, numpy.lib.format.write_array), plus, for each file,
what np.load sees (the sidecars gen_safetensors_gguf.py describes): every array that tenzip should
report as a tensor, by name, with its dtype string, shape and C-order bytes. It also writes the
seed corpus of fuzz/numpy_fuzzer.cpp.

The C++ tests (tests/unit/formats_numpy_test.cpp) read only the committed outputs. Deterministic:
fixed seeds, and zip timestamps pinned.

  ~/.cache/tenzip/test-venv/bin/python tests/formats/gen_numpy.py
"""
import io
import os
import struct
import sys
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_safetensors_gguf import F16_SPECIALS, F32_SPECIALS, weights, with_specials, write_sidecar  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "formats" / "numpy"
SEEDS = ROOT / "fuzz" / "corpus" / "numpy_fuzzer"


def loader_view(path):
    """(name, dtype string, shape, C-order bytes) of every array np.load returns; "array" for a .npy."""
    got = np.load(path, allow_pickle=True) if str(path).endswith(".npz") else {"array": np.load(path, allow_pickle=True)}
    return [(name, a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())
            for name, a in got.items() if isinstance(a, np.ndarray)]  # np.load gives other members as bytes


def write_npy(name, a, version=None):
    path = OUT / name
    with open(path, "wb") as f:
        if version is None:
            np.save(f, a, allow_pickle=True)
        else:
            np.lib.format.write_array(f, a, version=version, allow_pickle=True)
    return path


def pin_zip_times(path):
    """np.savez stamps the current time into every member: overwrite the DOS time and date
    fields in place (local headers and central directory), leaving every other byte as numpy
    wrote it (ZIP64 extras included), so that regenerating gives the same files."""
    data = bytearray(path.read_bytes())
    dos = struct.pack("<HH", 0, ((2026 - 1980) << 9) | (1 << 5) | 1)  # 2026-01-01 00:00
    z = zipfile.ZipFile(io.BytesIO(bytes(data)))
    pos = z.start_dir
    for info in z.infolist():
        assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
        data[info.header_offset + 10:info.header_offset + 14] = dos
        assert data[pos:pos + 4] == b"PK\x01\x02"
        data[pos + 12:pos + 16] = dos
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        pos += 46 + n + m + k
    path.write_bytes(bytes(data))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    SEEDS.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261124)
    f32 = with_specials(weights(rng, (24, 16)).view(np.uint32), F32_SPECIALS).view(np.float32)
    f16 = with_specials(weights(rng, (5, 7)).astype(np.float16).view(np.uint16), F16_SPECIALS).view(np.float16)

    files = []
    # .npy: one per kind of header or dtype
    files.append(write_npy("f32.npy", f32))
    files.append(write_npy("f16.npy", f16))
    files.append(write_npy("fortran_f32.npy", np.asfortranarray(weights(rng, (3, 4, 5)))))
    files.append(write_npy("scalar_f64.npy", np.float64(2.5)))
    files.append(write_npy("empty_f32.npy", np.zeros((0, 3), np.float32)))
    files.append(write_npy("v2_i64.npy", rng.integers(-2**40, 2**40, (6,)), version=(2, 0)))
    files.append(write_npy("v3_c64.npy", (weights(rng, (4,)) + 1j * weights(rng, (4,))).astype(np.complex64), version=(3, 0)))
    files.append(write_npy("bigendian_f32.npy", weights(rng, (9,)).astype(">f4")))
    files.append(write_npy("unicode.npy", np.array(["alpha", "β", "gamma"])))
    files.append(write_npy("bool.npy", rng.integers(0, 2, (11,)).astype(bool)))
    files.append(write_npy("datetime.npy", np.array(["2026-11-24T12:00"], dtype="datetime64[ns]")))
    # not tensors: the data of these stays bytes
    files.append(write_npy("object.npy", np.array([{"a": 1}, None], dtype=object)))
    files.append(write_npy("structured.npy", np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2")])))

    # .npz: np.savez (stored members), np.savez_compressed (deflated: no tensor is readable in place)
    arrays = {"emb.weight": weights(rng, (64, 32)), "norm": f16, "fortran": np.asfortranarray(weights(rng, (4, 6))),
              "ids": np.arange(10, dtype=np.int64), "obj": np.array([1, "x"], dtype=object), "scalar": np.float32(1.0)}
    path = OUT / "savez.npz"
    np.savez(path, **arrays)
    pin_zip_times(path)
    files.append(path)
    path = OUT / "savez_compressed.npz"
    np.savez_compressed(path, a=weights(rng, (8, 8)), b=np.arange(3))
    pin_zip_times(path)
    files.append(path)
    # a stored .npy next to a member that is not one (np.load returns that one as bytes)
    path = OUT / "mixed.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, a in (("w", weights(rng, (16,))),):
            b = io.BytesIO()
            np.save(b, a)
            z.writestr(zipfile.ZipInfo(name + ".npy", (2026, 1, 1, 0, 0, 0)), b.getvalue())
        z.writestr(zipfile.ZipInfo("notes.txt", (2026, 1, 1, 0, 0, 0)), b"not an array\n")
        b = io.BytesIO()
        np.save(b, weights(rng, (3, 2)))
        z.writestr(zipfile.ZipInfo("later.npy", (2026, 1, 1, 0, 0, 0), ), b.getvalue())
    files.append(path)
    # ml_dtypes' bfloat16 is saved as '<V2': weights (coded as bf16) and random bytes (as bytes)
    files.append(write_npy("bf16_v2.npy", weights(rng, (64, 48)).astype(ml_dtypes.bfloat16)))
    files.append(write_npy("random_v2.npy", rng.integers(0, 256, (1500, 2), dtype=np.uint8).view("V2").reshape(-1)))

    skipped = {"object.npy": [], "structured.npy": []}  # np.load reads them, tenzip keeps them as bytes
    for p in files:
        fmt = "npz" if p.suffix == ".npz" else "npy"
        view = skipped.get(p.name)
        if view is None:
            view = [e for e in loader_view(p) if e[1] != "|O"]
            if p.name == "savez_compressed.npz":
                view = []
            if p.name == "savez.npz":
                view = [e for e in view if e[0] != "obj"]
        write_sidecar(p, fmt, view)
        (SEEDS / p.name).write_bytes(p.read_bytes())
    print(f"wrote {len(files)} fixtures to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
