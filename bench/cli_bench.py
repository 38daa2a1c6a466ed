#!/usr/bin/env python3
"""The `tenzip` command end to end, against the `zstd` command and `tenzip bench` (BENCHMARKS.md).

`tenzip bench` times the codec on a file already in memory. What a user waits for is the
command: process start, reading the input, the codec, writing the output. This script times

    tenzip compress -q -T N --dtype D -c IN > /dev/null
    tenzip decompress -q -T N -c IN.tnz > /dev/null
    zstd -q -3 -T N -c IN > /dev/null        (the default level; -T N as given)
    zstd -q -d -c IN.zst > /dev/null         (zstd decompresses with one thread)

on the corpus tensors per dtype (bench/data/<dtype>/ALL.raw, 15-30 MB), on a larger file
(the fp32 tensors 8 times over, 236 MB) and, with --model, on a model file (its format
detected: the model path), and reads `tenzip bench` on the same file for the codec alone. Output goes to /dev/null so that the disk's write speed does not enter; a file
adds the kernel's page-cache writes and an fsync to every tool alike.

Rounds alternate between the commands (and --baseline, another tenzip binary, e.g. the
previous commit's) so that load from other processes hits them alike; each figure is the
best over the rounds. MB/s = 10^6 bytes of uncompressed data per second.

    python3 bench/cli_bench.py [--tenzip build/tenzip] [--baseline OLD/tenzip] [--rounds 7]
                               [--out bench/results/sections/cli.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

DTYPES = ["bf16", "fp32", "fp16"]


def run_time(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def version_of(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True)
    return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) else "?"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenzip", default="build/tenzip")
    ap.add_argument("--baseline", help="another tenzip binary to time alongside (e.g. the previous commit's)")
    ap.add_argument("--baseline-label", default="baseline")
    ap.add_argument("--data", default="bench/data")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--large-copies", type=int, default=8)
    ap.add_argument("--model", help="a model file (e.g. a safetensors) to time as well: tenzip detects its "
                    "format; its bench figure is `tenzip bench --dtype fp32` on the file")  # fmt: skip
    ap.add_argument("--out", default="bench/results/sections/cli.md")
    ap.add_argument("--tenzip-commit", help="the commit --tenzip was built from (default: this tree's HEAD)")
    ap.add_argument("--note", default="", help="a paragraph to add under the table (what the run compared)")
    ap.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = ap.parse_args(argv)
    zstd = shutil.which("zstd")
    if not zstd:
        sys.exit("cli_bench: the zstd command is not installed (apt-get install zstd)")
    for b in [args.tenzip] + ([args.baseline] if args.baseline else []):
        if not os.access(b, os.X_OK):
            sys.exit(f"cli_bench: {b} is not an executable")

    if not args.tenzip_commit:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        args.tenzip_commit = (head.stdout.strip() or "?") + ("+changes" if dirty.stdout.strip() else "")
    t0 = time.time()
    load_start = loadavg()
    work = tempfile.mkdtemp(prefix="tz-cli-bench-")
    try:
        inputs = []  # (label, dtype, path)
        for d in DTYPES:
            p = os.path.join(args.data, d, "ALL.raw")
            if not os.path.exists(p):
                sys.exit(f"cli_bench: {p} is missing (bench/run_bench.sh extracts the corpus)")
            inputs.append((f"{d} corpus", d, p))
        if args.large_copies > 1:
            big = os.path.join(work, "fp32x.raw")
            with open(big, "wb") as f, open(os.path.join(args.data, "fp32", "ALL.raw"), "rb") as src:
                block = src.read()
                for _ in range(args.large_copies):
                    f.write(block)
            inputs.append((f"fp32 corpus x{args.large_copies}", "fp32", big))
        if args.model:
            inputs.append((f"model {os.path.basename(args.model)}", None, args.model))

        tools = [("tenzip", args.tenzip)] + ([(args.baseline_label, args.baseline)] if args.baseline else [])
        results = []
        for label, dtype, path in inputs:
            size = os.path.getsize(path)
            stem = os.path.join(work, os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path))
            tnz, zst = stem + ".tnz", stem + ".zst"
            as_dtype = ["--dtype", dtype] if dtype else []  # a model file: its format decides
            subprocess.run([args.tenzip, "compress", "-q", "-f", "-T", "1", *as_dtype, "-o", tnz, path], check=True)
            subprocess.run([zstd, "-q", "-f", "-3", path, "-o", zst], check=True)
            for T in args.threads:
                cmds = {}
                for name, binary in tools:
                    cmds[(name, "c")] = [binary, "compress", "-q", "-T", str(T), *as_dtype, "-c", path]
                    cmds[(name, "d")] = [binary, "decompress", "-q", "-T", str(T), "-c", tnz]
                cmds[("zstd", "c")] = [zstd, "-q", "-3", f"-T{T}", "-c", path]
                cmds[("zstd", "d")] = [zstd, "-q", "-d", "-c", zst]
                best = {k: float("inf") for k in cmds}
                inproc = {"c": 0.0, "d": 0.0}
                for _ in range(args.rounds):
                    for k, cmd in cmds.items():
                        best[k] = min(best[k], run_time(cmd))
                    j = json.loads(subprocess.run(
                        [args.tenzip, "bench", "--json", "-T", str(T), "--dtype", dtype or "fp32", "--min-time", "0.3", path],
                        check=True, capture_output=True, text=True).stdout.splitlines()[0])  # fmt: skip
                    inproc["c"] = max(inproc["c"], j["compress_MBps"])
                    inproc["d"] = max(inproc["d"], j["decompress_MBps"])
                row = {"input": label, "dtype": dtype, "size": size, "threads": T,
                       "tnz_size": os.path.getsize(tnz), "zst_size": os.path.getsize(zst),
                       "bench_compress_MBps": inproc["c"], "bench_decompress_MBps": inproc["d"]}  # fmt: skip
                for (name, direction), s in best.items():
                    row[f"{name}_{'compress' if direction == 'c' else 'decompress'}_MBps"] = size / s / 1e6
                results.append(row)
                print(f"cli_bench: {label} -T{T}: " + ", ".join(
                    f"{k}={v:.0f}" for k, v in row.items() if k.endswith("MBps")), file=sys.stderr)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=1))
    text = render(results, args, time.time() - t0, load_start, loadavg(), zstd)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(f"cli_bench: wrote {args.out}", file=sys.stderr)


def render(results, args, seconds, load_start, load_end, zstd) -> str:
    base = args.baseline_label if args.baseline else None
    cmdline = "python3 bench/cli_bench.py" + (f" --baseline {args.baseline} --baseline-label {base}" if base else "")
    cmdline += f" --model {args.model}" if args.model else ""
    lines = [
        "## The `tenzip` command end to end (`compress -c` / `decompress -c` to /dev/null)",
        "",
        f"Made by [`bench/cli_bench.py`](bench/cli_bench.py): `{cmdline}`",
        "",
        f"- **Date:** {time.strftime('%Y-%m-%dT%H:%M:%S%z')}, {seconds / 60:.1f} min, {args.rounds} rounds; "
        f"**load average** at start {load_start}, at end {load_end} (nproc {os.cpu_count()}; the machine is shared)",
        f"- `{version_of([args.tenzip, '--version'])}` built from {args.tenzip_commit}; `{version_of([zstd, '--version'])}`"
        + (f"; {base}: `{args.baseline}`" if base else ""),
        "- Wall time of the whole command, best over the rounds (rounds alternate between the commands):",
        "  process start, reading the input, the codec, writing to /dev/null. **bench** is `tenzip bench`",
        "  on the same file (the codec alone, file in memory). zstd at its default level 3;",
        "  `-T N` is given to zstd's compression too (its decompression has one thread).",
        "",
        "| input | -T | tenzip c MB/s | tenzip d MB/s | zstd c MB/s | zstd d MB/s | c vs zstd | d vs zstd | c vs bench | d vs bench |"
        + (f" c vs {base} | d vs {base} |" if base else ""),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if base else ""),
    ]
    for r in results:
        tc, td = r["tenzip_compress_MBps"], r["tenzip_decompress_MBps"]
        line = (f"| {r['input']} ({r['size'] / 1e6:.1f} MB) | {r['threads']} | {tc:,.0f} | {td:,.0f} | "
                f"{r['zstd_compress_MBps']:,.0f} | {r['zstd_decompress_MBps']:,.0f} | "
                f"{tc / r['zstd_compress_MBps']:.2f}× | {td / r['zstd_decompress_MBps']:.2f}× | "
                f"{tc / r['bench_compress_MBps']:.2f} | {td / r['bench_decompress_MBps']:.2f} |")  # fmt: skip
        if base:
            line += f" {tc / r[base + '_compress_MBps']:.2f}× | {td / r[base + '_decompress_MBps']:.2f}× |"
        lines.append(line)
    sizes = "; ".join(
        f"{r['input']}: .tnz {r['tnz_size'] / r['size']:.3f}, .zst {r['zst_size'] / r['size']:.3f}"
        for r in results if r["threads"] == results[0]["threads"])  # fmt: skip
    lines += ["", f"Sizes (compressed / original): {sizes}.", ""]
    if args.note:
        lines += [args.note, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
