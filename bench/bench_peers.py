#!/usr/bin/env python3
"""Measure tenzip and its peers on the extracted corpus; write one JSON object per line.

Run by bench/run_bench.sh inside the peers' venv (numpy, zstandard, blosc2, zipnn, and
openzl when it installed). Usage:

  bench_peers.py --data bench/data --tenzip build/tenzip --out bench/results/DATE.jsonl
                 [--dtypes fp32,fp16,bf16] [--threads 1,2] [--min-time 1.0]
                 [--min-time-file 0.5] [--peers tenzip,tenzip-lanes,tenzip-l2,tenzip-l2-lanes,zipnn,zstd-3,zstd-19,blosc2,openzl]

For every dtype set, every file of bench/data/<dtype>/ (ALL.raw included) and every
thread count, each peer compresses and decompresses the bytes in memory. Each direction
is timed as the best of several runs: at least 3 runs and at least --min-time seconds
(--min-time-file for the single files, --min-time for ALL). zstd -19 compresses once
(it is slow; its compression speed is a magnitude, not a comparison). Every decompressed
result is compared byte for byte with the input; a mismatch or an exception is
recorded in the row ("verified": false / "error") rather than hidden.
MB/s = uncompressed bytes / seconds / 1e6. tenzip is measured by its own
`tenzip bench --json` (same protocol, in C++, round trip verified there).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import time
import warnings

warnings.simplefilter("ignore")  # torch (imported by zipnn) warns about deprecated jit at import

WIDTH = {"fp32": 4, "fp16": 2, "bf16": 2}
ZIPNN_DTYPE = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
# tenzip variants: the default (level 3), --lanes (exponents for AVX-512 decoders; opt-in),
# level 2 (the same split coders with 4 tables instead of 8 and no LZ: the speed tenzip gives
# up for LZ's size gains) and both (the fastest to decode on an AVX-512 CPU: no chunk waits on
# a zstd frame).
TENZIP_ARGS = {"tenzip": [], "tenzip-lanes": ["--lanes"], "tenzip-l2": ["-l", "2"], "tenzip-l2-lanes": ["-l", "2", "--lanes"]}
ALL_PEERS = ["tenzip", "tenzip-lanes", "tenzip-l2", "tenzip-l2-lanes", "zipnn", "zstd-3", "zstd-19", "blosc2", "openzl"]


def best_of(run, min_time: float, min_runs: int, prepare=None, check=None):
    """Best wall time of `run(arg)` over at least min_runs runs and min_time seconds.
    `prepare()` (untimed) makes each run's argument; `check(result)` (untimed) verifies
    each result. Returns (best seconds, runs, last result)."""
    best, total, runs, out = float("inf"), 0.0, 0, None
    gc.collect()
    while runs < min_runs or total < min_time:
        arg = prepare() if prepare else None
        t0 = time.perf_counter()
        out = run(arg)
        dt = time.perf_counter() - t0
        if check:
            check(out)
        total += dt
        runs += 1
        best = min(best, dt)
    return best, runs, out


class Mismatch(Exception):
    pass


def verify_equal(src: bytes):
    def check(out):
        if len(out) != len(src) or bytes(out) != src:
            raise Mismatch(f"round trip differs: got {len(out)} bytes, expected {len(src)}")
    return check


# ----------------------------------------------------------------------------- peers
# Each peer: (name, config string, supports_threads, factory(dtype, threads) -> (compress, decompress))
# compress(src_bytes) -> compressed; decompress(compressed) -> bytes-like.

def peer_zipnn(dtype, threads):
    import zipnn

    z = zipnn.ZipNN(method="huffman", input_format="byte", bytearray_dtype=ZIPNN_DTYPE[dtype], threads=threads)
    # ZipNN reorders the caller's buffer in place (even an immutable bytes), so every run
    # gets a fresh copy, made outside the timed region.
    return (lambda buf: z.compress(buf), lambda buf: z.decompress(buf)), True


def peer_zstd(level):
    def make(dtype, threads):
        import zstandard

        # threads=0: single-threaded in the caller's thread; N>0: N worker threads.
        c = zstandard.ZstdCompressor(level=level, threads=0 if threads <= 1 else threads)
        d = zstandard.ZstdDecompressor()
        return (lambda buf: c.compress(buf), lambda buf: d.decompress(buf)), False
    return make


def peer_blosc2(dtype, threads):
    import blosc2

    # blosc2's defaults (codec ZSTD, clevel 5, SHUFFLE, auto split) with the element size.
    def comp(buf):
        return blosc2.compress2(buf, typesize=WIDTH[dtype], codec=blosc2.Codec.ZSTD,
                                filters=[blosc2.Filter.SHUFFLE], nthreads=threads)

    def decomp(buf):
        return blosc2.decompress2(buf, nthreads=threads)
    return (comp, decomp), False


def peer_openzl(dtype, threads):
    import numpy as np
    import openzl.ext as zl
    from openzl.ext import graphs, nodes

    # The float split OpenZL is built around: exponent stream -> order-0 entropy coder,
    # sign+fraction stream -> OpenZL's generic compression graph.
    node = {"fp32": nodes.Float32Deconstruct, "fp16": nodes.Float16Deconstruct,
            "bf16": nodes.BFloat16Deconstruct}[dtype]()
    compressor = zl.Compressor()
    compressor.select_starting_graph(node(compressor, graphs.Compress(), graphs.Entropy()))
    cctx = zl.CCtx()
    cctx.ref_compressor(compressor)
    cctx.set_parameter(zl.CParam.StickyParameters, 1)  # keep the graph and version across compress calls
    cctx.set_parameter(zl.CParam.FormatVersion, zl.MAX_FORMAT_VERSION)
    dctx = zl.DCtx()
    word = np.uint32 if WIDTH[dtype] == 4 else np.uint16

    def comp(buf):
        return cctx.compress([zl.Input(zl.Type.Numeric, np.frombuffer(buf, dtype=word))])

    def decomp(buf):
        outs = dctx.decompress(buf)
        return outs[0].content.as_bytes()
    return (comp, decomp), False


def peer_versions():
    v = {}
    for mod in ("zipnn", "zstandard", "blosc2", "openzl", "numpy", "torch"):
        try:
            import importlib.metadata as md
            v[mod] = md.version(mod)
        except Exception:
            v[mod] = None
    try:
        import zstandard
        v["libzstd"] = zstandard.ZSTD_VERSION if hasattr(zstandard, "ZSTD_VERSION") else None
        if isinstance(v["libzstd"], tuple):
            v["libzstd"] = ".".join(map(str, v["libzstd"]))
    except Exception:
        pass
    return v


def python_peers(available):
    peers = []
    if "zipnn" in available:
        peers.append(("zipnn", "huffman (defaults)", peer_zipnn))
    if "zstd-3" in available:
        peers.append(("zstd-3", "level 3", peer_zstd(3)))
    if "zstd-19" in available:
        peers.append(("zstd-19", "level 19", peer_zstd(19)))
    if "blosc2" in available:
        peers.append(("blosc2", "shuffle+zstd clevel 5 (defaults), typesize = element size", peer_blosc2))
    if "openzl" in available:
        peers.append(("openzl", "FloatDeconstruct: exponent->Entropy, sign+fraction->Compress", peer_openzl))
    return peers


def measure_python(name, config, factory, dtype, threads, path, src, min_time):
    row = {"peer": name, "config": config, "threads": threads}
    try:
        (comp, decomp), mutates_nothing = factory(dtype, threads)
    except Exception as e:  # peer failed to set up: record it, keep going
        row["error"] = f"setup: {type(e).__name__}: {e}"
        return row
    single = name == "zstd-19"  # slow: compress once; decompression is timed as usual
    fresh = (lambda: bytearray(src)) if name == "zipnn" else (lambda: src)
    try:
        tc, rc, packed = best_of(comp, 0.0 if single else min_time, 1 if single else 3, prepare=fresh)
        packed = bytes(packed)
        fresh_packed = (lambda: bytearray(packed)) if name == "zipnn" else (lambda: packed)
        td, rd, _ = best_of(decomp, min_time, 3, prepare=fresh_packed, check=verify_equal(src))
    except Mismatch as e:
        row.update(verified=False, error=str(e), size=len(src))
        return row
    except Exception as e:
        row.update(verified=False, error=f"{type(e).__name__}: {e}", size=len(src))
        return row
    row.update(size=len(src), compressed_size=len(packed), ratio=len(packed) / len(src) if src else None,
               compress_MBps=len(src) / tc / 1e6, decompress_MBps=len(src) / td / 1e6,
               compress_seconds=tc, decompress_seconds=td, compress_runs=rc, decompress_runs=rd, verified=True)
    if single:
        row["note"] = "compression timed on one run"
    return row


def measure_tenzip(binary, dtype, threads, path, size, min_time, peer="tenzip"):
    extra = TENZIP_ARGS[peer]
    row = {"peer": peer, "config": " ".join(extra) or "level 3 (default)", "threads": threads, "size": size}
    cmd = [binary, "bench", *extra, "--json", "-T", str(threads), "--dtype", dtype, "--min-time", str(min_time), path]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        row.update(verified=False, error="tenzip bench timed out after 600 s")
        return row
    lines = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("{")]
    if p.returncode != 0 or len(lines) != 1:
        err = (p.stderr.strip() or p.stdout.strip()).splitlines()
        row.update(verified=False, error=f"exit {p.returncode}: " + (err[-1] if err else "no output"))
        return row
    j = json.loads(lines[0])
    if j.get("size") != size:
        row.update(verified=False, error=f"tenzip read {j.get('size')} bytes, file has {size}")
        return row
    row.update(config=f"level {j.get('level')}" + (" --lanes" if "--lanes" in extra else ""), compressed_size=j["compressed_size"], ratio=j["ratio"],
               compress_MBps=j["compress_MBps"], decompress_MBps=j["decompress_MBps"],
               compress_seconds=j.get("compress_seconds"), decompress_seconds=j.get("decompress_seconds"),
               verified=bool(j.get("verified")))
    return row


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    fl = set(line.split(":", 1)[1].split())
                    return [x for x in ("avx2", "bmi2", "avx512f", "avx512bw", "avx512vbmi") if x in fl]
    except OSError:
        pass
    return []


def cpu_busy_seconds():
    """Seconds of CPU time spent busy on the whole machine so far (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    import resource
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="extract_corpus.py output folder")
    ap.add_argument("--tenzip", help="the tenzip binary (omit to skip tenzip)")
    ap.add_argument("--out", required=True, help="JSONL file to write")
    ap.add_argument("--dtypes", default="fp32,fp16,bf16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--peers", default=",".join(ALL_PEERS))
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per direction on the ALL sets")
    ap.add_argument("--min-time-file", type=float, default=0.5, help="seconds per direction on single files")
    ap.add_argument("--files", default="", help="comma-separated output names to keep (default: all)")
    ap.add_argument("--command", default="", help="the command line to record in the results")
    args = ap.parse_args(argv)

    with open(os.path.join(args.data, "manifest.json")) as f:
        manifest = json.load(f)
    wanted = set(args.peers.split(","))
    unknown = wanted - set(ALL_PEERS)
    if unknown:
        ap.error(f"unknown peers {sorted(unknown)}")
    notes = {}
    if "openzl" in wanted:
        try:
            import openzl.ext  # noqa: F401
        except Exception as e:
            wanted.discard("openzl")
            notes["openzl"] = f"skipped: not importable ({type(e).__name__}: {e})"
    if "zipnn" in wanted:
        import zipnn  # noqa: F401  (fail loudly: ZipNN is the reference peer)
    if wanted & set(TENZIP_ARGS):
        if not args.tenzip or not os.access(args.tenzip, os.X_OK):
            sys.exit(f"bench_peers: tenzip binary {args.tenzip!r} not found or not executable")
        tz_version = subprocess.run([args.tenzip, "--version"], capture_output=True, text=True).stdout.strip()
    else:
        tz_version = None
    threads = [int(t) for t in args.threads.split(",")]
    dtypes = args.dtypes.split(",")
    keep = set(args.files.split(",")) if args.files else None
    peers = python_peers(wanted)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    t_start = time.time()
    busy0, own0 = cpu_busy_seconds(), own_cpu_seconds()
    meta = {
        "kind": "meta", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": args.command or " ".join(sys.argv), "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(), "cpu_flags": cpu_flags(), "python": platform.python_version(),
        "platform": platform.platform(), "loadavg_start": os.getloadavg(),
        "versions": peer_versions(), "tenzip_version": tz_version,
        "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain", "--", "src", "include", "cli")),
        "min_time": args.min_time, "min_time_file": args.min_time_file, "threads": threads, "dtypes": dtypes,
        "peers": [p for p in ALL_PEERS if p in wanted], "notes": notes,
        "tenzip_bin": os.path.abspath(args.tenzip) if args.tenzip else None,
        # Which source the binary was built from: $TENZIP_BIN_COMMIT when the caller knows
        # (a binary built elsewhere); otherwise it is the work tree's build (git_commit/git_dirty).
        "tenzip_bin_commit": os.environ.get("TENZIP_BIN_COMMIT") or None,
        "tenzip_bin_mtime": (datetime.datetime.fromtimestamp(os.path.getmtime(args.tenzip), datetime.timezone.utc)
                             .isoformat(timespec="seconds") if args.tenzip and os.path.exists(args.tenzip) else None),
        "corpus_note": manifest.get("note"),
    }
    tmp = args.out + ".partial"
    with open(tmp, "w") as out:
        out.write(json.dumps(meta) + "\n")
        for dtype in dtypes:
            files = [o for o in manifest["outputs"] if o["dtype"] == dtype]
            files.sort(key=lambda o: (o["source"] == "ALL", o["path"]))
            for o in files:
                name = os.path.basename(o["path"])[: -len(".raw")]
                if keep and name not in keep:
                    continue
                path = os.path.join(args.data, o["path"])
                with open(path, "rb") as f:
                    src = f.read()
                is_all = o["source"] == "ALL"
                mt = args.min_time if is_all else args.min_time_file
                base = {"kind": "result", "dtype": dtype, "file": name, "source": o["source"],
                        "derived": bool(o.get("derived")), "elements": o["elements"]}
                # Per file: tenzip first, then ZipNN, then the rest; each peer's thread counts
                # back to back, so both tenzip/ZipNN and 2-thread/1-thread are measured close
                # together in time on this shared machine.
                jobs = []
                for variant in TENZIP_ARGS:
                    if variant in wanted:
                        jobs.append((variant, lambda n, v=variant: measure_tenzip(args.tenzip, dtype, n, path, len(src),
                                                                                  mt, peer=v)))
                for name_p, config, factory in peers:
                    jobs.append((name_p, lambda n, a=(name_p, config, factory):
                                 measure_python(*a, dtype, n, path, src, mt)))
                for name_p, job in jobs:
                    for n in threads:
                        if n > 1 and name_p == "openzl":
                            continue  # its Python API has no thread setting
                        row = {**base, **job(n), "loadavg": os.getloadavg()[0]}
                        out.write(json.dumps(row) + "\n")
                        out.flush()
                        report_progress(row)
        elapsed = time.time() - t_start
        busy1, own1 = cpu_busy_seconds(), own_cpu_seconds()
        # Share of the machine's CPU time used by *other* processes during the run: the
        # whole machine's busy time minus this run's own (including tenzip subprocesses).
        others = None
        if busy0 is not None and busy1 is not None and elapsed > 0:
            others = max(0.0, ((busy1 - busy0) - (own1 - own0)) / (elapsed * (os.cpu_count() or 1)))
        out.write(json.dumps({"kind": "end", "seconds": round(elapsed, 1), "loadavg_end": os.getloadavg(),
                              "own_cpu_seconds": round(own1 - own0, 1),
                              "other_cpu_share": None if others is None else round(others, 3)}) + "\n")
    os.replace(tmp, args.out)
    print(f"bench_peers: wrote {args.out} in {time.time() - t_start:.0f} s", file=sys.stderr)


def report_progress(row):
    if row.get("error"):
        msg = f"ERROR {row['error']}"
    else:
        msg = (f"ratio {row['ratio']:.4f}  c {row['compress_MBps']:8.1f}  d {row['decompress_MBps']:8.1f} MB/s")
    print(f"  {row['dtype']:4} T{row['threads']} {row['peer']:8} {row['file'][:44]:44} {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
