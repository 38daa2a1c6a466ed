#!/usr/bin/env python3
"""Generates the safetensors and GGUF fixtures in tests/data/formats/ with the reference packages
(safetensors, gguf, numpy, torch), plus, for each file, what the reference *loader* sees:

  <file>.expected.json  {"format", "tensors": [{"name", "dtype", "shape", "size", "bin_offset"
                         [, "file_offset"]}]}, tensors sorted by name (safetensors) or in file
                         order (GGUF); shapes outermost first
  <file>.expected.bin   every tensor's bytes, concatenated at bin_offset

and for the corpus's safetensors files (too big to copy) a sidecar with an FNV-1a 64 hash of each
tensor's bytes instead of the bytes. It also writes the seed corpora of the two fuzz targets.

The C++ tests (tests/unit/formats_*_test.cpp) read only the committed outputs: no Python there.
Deterministic: fixed seeds, and every reference-written header has at most one metadata key (the
safetensors writer emits metadata in hash-map order).

  ~/.cache/tenzip/test-venv/bin/python tests/formats/gen_safetensors_gguf.py [--corpus DIR]
"""
import argparse
import json
import os
import struct
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy
import safetensors.torch
import torch
import gguf

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "formats"
SEEDS = ROOT / "fuzz" / "corpus"


def weights(rng, shape, scale=0.05):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def with_specials(bits, specials):
    """Puts special bit patterns (NaN payloads, -0, subnormals, inf) at the front of a flat array."""
    flat = bits.reshape(-1)
    n = min(len(specials), flat.size)
    flat[:n] = np.array(specials[:n], dtype=flat.dtype)
    return bits


F32_SPECIALS = [0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001, 0x807FFFFF, 0x7F800000, 0xFF800000]
F16_SPECIALS = [0x7E01, 0xFD00, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00]
BF16_SPECIALS = [0x7FC1, 0xFFA0, 0x8000, 0x0001, 0x807F, 0x7F80, 0xFF80]


def bf16_bits(x):
    """fp32 -> bf16 bit patterns, round to nearest even (derived data, as MANIFEST.md asks)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def write_sidecar(path, fmt, entries, extra=None):
    """entries: (name, dtype, shape, bytes[, file_offset]) as the reference loader reports them."""
    meta = {"format": fmt, "tensors": []}
    if extra:
        meta.update(extra)
    blob = bytearray()
    for e in entries:
        name, dtype, shape, data = e[:4]
        t = {"name": name, "dtype": dtype, "shape": [int(d) for d in shape], "size": len(data), "bin_offset": len(blob)}
        if len(e) > 4:
            t["file_offset"] = int(e[4])
        meta["tensors"].append(t)
        blob += data
    Path(str(path) + ".expected.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    Path(str(path) + ".expected.bin").write_bytes(bytes(blob))


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# ---------------------------------------------------------------- safetensors

def safetensors_reference_view(path):
    """The Rust reference's own deserializer: names, dtype strings, shapes and raw bytes."""
    entries = safetensors.deserialize(Path(path).read_bytes())
    return sorted((name, t["dtype"], t["shape"], bytes(t["data"])) for name, t in entries)


def st_torch(rng):
    """torch writer: every dtype torch can hold, special float bits, zero-size and scalar tensors."""
    t = {}
    t["model.embed.weight"] = torch.from_numpy(
        with_specials(weights(rng, (16, 24)).view(np.uint32), F32_SPECIALS).view(np.float32))
    t["model.layers.0.attn.f16"] = torch.from_numpy(
        with_specials(weights(rng, (4, 5, 3)).astype(np.float16).view(np.uint16), F16_SPECIALS).view(np.float16))
    t["model.layers.0.mlp.bf16"] = torch.from_numpy(
        with_specials(bf16_bits(weights(rng, (33,))), BF16_SPECIALS).view(np.int16)).view(torch.bfloat16)
    t["fp8.e4m3"] = torch.from_numpy(weights(rng, (7, 3), 1.0)).to(torch.float8_e4m3fn)
    t["fp8.e5m2"] = torch.from_numpy(weights(rng, (10,), 1.0)).to(torch.float8_e5m2)
    t["int.i8"] = torch.from_numpy(rng.integers(-128, 128, (9,), dtype=np.int8))
    t["int.u8"] = torch.from_numpy(rng.integers(0, 256, (11,), dtype=np.uint8))
    t["int.i16"] = torch.from_numpy(rng.integers(-30000, 30000, (3, 3), dtype=np.int16))
    t["int.i32"] = torch.from_numpy(rng.integers(-2**31, 2**31, (6,), dtype=np.int32))
    t["int.i64"] = torch.from_numpy(rng.integers(-2**62, 2**62, (3,), dtype=np.int64))
    t["int.u16"] = torch.from_numpy(rng.integers(0, 2**16, (5,), dtype=np.uint16).astype(np.int32)).to(torch.uint16)
    t["int.u32"] = torch.from_numpy(rng.integers(0, 2**31, (2, 2), dtype=np.int64)).to(torch.uint32)
    t["int.u64"] = torch.from_numpy(rng.integers(0, 2**62, (4,), dtype=np.int64)).to(torch.uint64)
    t["f64"] = torch.from_numpy(rng.standard_normal((2, 3)))
    t["mask"] = torch.from_numpy(rng.integers(0, 2, (5,)).astype(bool))
    t["c64"] = torch.complex(torch.from_numpy(weights(rng, (3,))), torch.from_numpy(weights(rng, (3,))))
    t["empty.f32"] = torch.zeros((0, 4), dtype=torch.float32)
    t["empty.bf16"] = torch.zeros((3, 0), dtype=torch.bfloat16)
    t["scalar.f32"] = torch.tensor(1.5, dtype=torch.float32)
    t["scalar.i64"] = torch.tensor(-7, dtype=torch.int64)
    path = OUT / "st_torch.safetensors"
    safetensors.torch.save_file(t, str(path), metadata={"format": "pt"})
    return path


def st_all_dtypes(rng):
    """Every dtype the reference knows (22), sub-byte F4/F6 too. Its serializer cannot write F6, so
    the header is written here (in a writer's layout: sorted by name, padded to 8 with spaces) and
    the reference loader is the judge."""
    specs = [("BOOL", [5], 5), ("F4", [4, 6], 12), ("F6_E2M3", [8], 6), ("F6_E3M2", [4, 4], 12),
             ("U8", [7], 7), ("I8", [2, 3], 6), ("F8_E5M2", [9], 9), ("F8_E4M3", [3, 3], 9),
             ("F8_E8M0", [4], 4), ("F8_E4M3FNUZ", [5], 5), ("F8_E5M2FNUZ", [6], 6), ("I16", [3], 6),
             ("U16", [4], 8), ("F16", [2, 2], 8), ("BF16", [5], 10), ("I32", [3], 12), ("U32", [2], 8),
             ("F32", [2, 3], 24), ("C64", [2], 16), ("F64", [3], 24), ("I64", [1, 2], 16), ("U64", [2], 16)]
    header = {"__metadata__": {"source": "tenzip gen_safetensors_gguf.py"}}
    data = b""
    for dtype, shape, size in sorted(specs, key=lambda s: "t_" + s[0].lower()):
        header["t_" + dtype.lower()] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    path = OUT / "st_all_dtypes.safetensors"
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + data)
    return path


def st_numpy(rng):
    """numpy writer, no metadata; a weight matrix big enough to be worth compressing."""
    t = {"encoder.weight": weights(rng, (64, 64)), "encoder.bias": weights(rng, (64,)),
         "decoder.weight": weights(rng, (32, 64)).astype(np.float16), "steps": np.array([1000], dtype=np.int64)}
    path = OUT / "st_numpy.safetensors"
    safetensors.numpy.save_file(t, str(path))
    return path


def st_handmade(rng):
    """A header no reference writer produces but the reference reads: keys out of offset order,
    leading whitespace, a length that is not a multiple of 8, UTF-8 and escaped names, an unknown
    field, a null __metadata__, and two zero-size tensors at one offset."""
    a = weights(rng, (3, 4)).tobytes()
    b = bf16_bits(weights(rng, (6,))).tobytes()
    c = rng.integers(0, 256, 5, dtype=np.uint8).tobytes()
    header = (' \n\t{"\\u0041.escaped": {"dtype": "F32", "shape": [3, 4], "data_offsets": [%d, %d], "note": [1, {"x": null}]},'
              '"__metadata__": null,'
              '"z.zero": {"shape": [0], "dtype": "I32", "data_offsets": [0, 0]},'
              '"poids.\u00e9t\u00e9.\u91cd\u307f": {"data_offsets": [0, %d], "dtype": "BF16", "shape": [2, 3]},'
              '"a.zero": {"dtype": "F16", "shape": [4, 0, 2], "data_offsets": [0, 0]},'
              '"last": {"dtype": "U8", "shape": [5], "data_offsets": [%d, %d]}} ') % (
        len(b), len(b) + len(a), len(b), len(b) + len(a), len(b) + len(a) + len(c))
    hb = header.encode("utf-8")
    assert len(hb) % 8 != 0
    path = OUT / "st_handmade.safetensors"
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + b + a + c)
    return path


def st_empty(rng):
    path = OUT / "st_empty.safetensors"
    path.write_bytes(safetensors.serialize({}, metadata={"empty": "no tensors"}))
    return path


# ---------------------------------------------------------------- GGUF

def gguf_reference_view(path):
    """gguf.GGUFReader: tensors in file order. ReaderTensor.shape is ggml order (innermost first);
    the layout reports outermost first, as ReaderTensor.data.shape does for unquantized types."""
    r = gguf.GGUFReader(str(path))
    entries = []
    for t in r.tensors:
        data = np.ascontiguousarray(t.data).tobytes()
        assert len(data) == t.n_bytes, (t.name, len(data), t.n_bytes)
        entries.append((t.name, t.tensor_type.name, list(reversed(t.shape.tolist())), data, t.data_offset))
    return entries, {"alignment": int(r.alignment), "data_offset": int(r.data_offset)}


def quantized(rng, shape, qtype):
    """Real quantized blocks where gguf-py can quantize, else random block bytes of the right size."""
    x = weights(rng, shape)
    try:
        return gguf.quants.quantize(x, qtype)
    except NotImplementedError:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        byte_shape = gguf.quants.quant_shape_to_byte_shape(shape, qtype)
        return rng.integers(0, 256, byte_shape, dtype=np.uint8)


def gguf_mixed(rng):
    """Every metadata value type (nested arrays too), F32/F16/BF16, ints, F64 and quantized types."""
    path = OUT / "gguf_mixed.gguf"
    w = gguf.GGUFWriter(str(path), arch="tenzip-test")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -300)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 0.25)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "h\u00e9llo \u4e16\u754c")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -2**40)
    w.add_float64("t.f64", -1.5e300)
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_f32", [0.5, 1.5])
    w.add_array("t.arr_str", ["a", "", "\u00e7a"])
    w.add_array("t.arr_bool", [True, False, True])
    w.add_array("t.arr_nested", [[1, 2], [3], [4, 5, 6]])
    w.add_array("t.arr_nested_str", [["x", "yz"], ["w"]])
    w.add_key_value("t.arr_u8", [1, 2, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
    w.add_tensor("token_embd.weight", with_specials(weights(rng, (8, 16)).view(np.uint32), F32_SPECIALS).view(np.float32))
    w.add_tensor("blk.0.attn_q.weight",
                 with_specials(weights(rng, (2, 3, 32)).astype(np.float16).view(np.uint16), F16_SPECIALS).view(np.float16))
    w.add_tensor("blk.0.attn_k.weight", with_specials(bf16_bits(weights(rng, (4, 16))), BF16_SPECIALS),
                 raw_dtype=gguf.GGMLQuantizationType.BF16)
    for name, qtype, shape in [("blk.0.ffn_up.weight", gguf.GGMLQuantizationType.Q8_0, (4, 64)),
                               ("blk.0.ffn_down.weight", gguf.GGMLQuantizationType.Q4_0, (2, 64)),
                               ("blk.0.ffn_gate.weight", gguf.GGMLQuantizationType.Q4_K, (2, 256)),
                               ("blk.0.attn_v.weight", gguf.GGMLQuantizationType.Q6_K, (1, 256)),
                               ("blk.0.attn_output.weight", gguf.GGMLQuantizationType.IQ4_NL, (3, 32)),
                               ("blk.0.ffn_norm.mx", gguf.GGMLQuantizationType.MXFP4, (1, 64))]:
        w.add_tensor(name, quantized(rng, shape, qtype), raw_dtype=qtype)
    w.add_tensor("ints.i8", rng.integers(-128, 128, (7,), dtype=np.int8))
    w.add_tensor("ints.i16", rng.integers(-3000, 3000, (3, 2), dtype=np.int16))
    w.add_tensor("ints.i32", rng.integers(-2**31, 2**31, (3, 3), dtype=np.int32))
    w.add_tensor("ints.i64", rng.integers(-2**62, 2**62, (2,), dtype=np.int64))
    w.add_tensor("output_norm.f64", rng.standard_normal((5,)))
    w.add_tensor("empty.f32", np.zeros((0, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gguf_align64(rng):
    path = OUT / "gguf_align64.gguf"
    w = gguf.GGUFWriter(str(path), arch="tenzip-test")
    w.add_custom_alignment(64)
    w.add_tensor("a.f32", weights(rng, (3, 5)))
    w.add_tensor("b.f16", weights(rng, (7,)).astype(np.float16))
    w.add_tensor("c.q8_0", quantized(rng, (1, 32), gguf.GGMLQuantizationType.Q8_0),
                 raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("d.f32", weights(rng, (2, 2, 2, 3)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gguf_v2(rng):
    """GGUF v2 has v3's layout (v3 only added big-endian files): a v3 file with its version set to 2."""
    path = OUT / "gguf_v2.gguf"
    w = gguf.GGUFWriter(str(path), arch="tenzip-test")
    w.add_string("general.name", "v2")
    w.add_tensor("w", weights(rng, (4, 8)))
    w.add_tensor("b", weights(rng, (8,)).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = bytearray(path.read_bytes())
    assert data[4:8] == struct.pack("<I", 3)
    data[4:8] = struct.pack("<I", 2)
    path.write_bytes(bytes(data))
    return path


def gguf_kv_only(rng):
    path = OUT / "gguf_kv_only.gguf"
    w = gguf.GGUFWriter(str(path), arch="tenzip-test")
    w.add_string("general.name", "no tensors")
    w.add_array("t.arr", [1, 2, 3])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ---------------------------------------------------------------- fuzz seeds

def st_bytes(header, data=b""):
    hb = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(hb)) + hb + data


def safetensors_seeds(fixtures):
    d = SEEDS / "safetensors_fuzzer"
    d.mkdir(parents=True, exist_ok=True)
    for p in fixtures:
        if p.stat().st_size <= 8192:
            (d / ("valid_" + p.stem)).write_bytes(p.read_bytes())
    one = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    bad = {
        "bad_header_too_long": struct.pack("<Q", 100_000_001) + b"{}",
        "bad_truncated_header": struct.pack("<Q", 64) + b'{"a":',
        "bad_json": st_bytes('{"a":{"dtype":"F32",]}', b"\0" * 8),
        "bad_overlap": st_bytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
        "bad_hole": st_bytes(one, b"\0" * 12),
        "bad_out_of_range": st_bytes('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 8),
        "bad_size_mismatch": st_bytes('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
        "bad_shape_overflow": st_bytes('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}',
                                       b"\0" * 8),
        "bad_duplicate": st_bytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
        "bad_metadata": st_bytes('{"__metadata__":{"k":1}}'),
        "bad_dtype": st_bytes('{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
        "bad_deep": st_bytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + "[" * 200 + "]" * 200 + "}}",
                             b"\0" * 8),
        "bad_utf8": st_bytes(b'{"\xc3\x28":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
        "bad_f4_half_byte": st_bytes('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', b"\0"),
    }
    for name, data in bad.items():
        (d / name).write_bytes(data)


def gguf_seeds(fixtures):
    d = SEEDS / "gguf_fuzzer"
    d.mkdir(parents=True, exist_ok=True)
    for p in fixtures:
        if p.stat().st_size <= 16384:
            (d / ("valid_" + p.stem)).write_bytes(p.read_bytes())
    small = (OUT / "gguf_v2.gguf").read_bytes()
    (d / "bad_truncated").write_bytes(small[: len(small) // 2])
    (d / "bad_magic").write_bytes(b"GGUG" + small[4:])
    (d / "bad_big_endian").write_bytes(small[:4] + struct.pack(">I", 3) + small[8:])
    (d / "bad_version_1").write_bytes(small[:4] + struct.pack("<I", 1) + small[8:])
    (d / "bad_tensor_count").write_bytes(small[:8] + struct.pack("<Q", 2**40) + small[16:])
    (d / "bad_kv_count").write_bytes(small[:16] + struct.pack("<Q", 2**62) + small[24:])


# ---------------------------------------------------------------- corpus sidecars

def corpus_sidecars(corpus):
    for rel in ["llm/tl_reverse_model.safetensors", "audio/silero_vad_16k.safetensors"]:
        src = Path(corpus) / rel
        if not src.exists():
            print("skipping missing corpus file", src)
            continue
        meta = {"format": "safetensors", "file": rel, "file_size": src.stat().st_size, "tensors": []}
        for name, dtype, shape, data in safetensors_reference_view(src):
            meta["tensors"].append({"name": name, "dtype": dtype, "shape": shape, "size": len(data),
                                    "fnv1a64": "%016x" % fnv1a64(data)})
        out = OUT / ("corpus_" + Path(rel).name + ".expected.json")
        out.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("TENZIP_CORPUS_DIR", str(ROOT.parent / "shared" / "corpus")))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20260522)

    st = [st_torch(rng), st_all_dtypes(rng), st_numpy(rng), st_handmade(rng), st_empty(rng)]
    for p in st:
        write_sidecar(p, "safetensors", safetensors_reference_view(p))
    gg = [gguf_mixed(rng), gguf_align64(rng), gguf_v2(rng), gguf_kv_only(rng)]
    for p in gg:
        entries, extra = gguf_reference_view(p)
        write_sidecar(p, "gguf", entries, extra)
    safetensors_seeds(st)
    gguf_seeds(gg)
    corpus_sidecars(args.corpus)

    total = sum(f.stat().st_size for f in OUT.iterdir())
    print("wrote %d files, %d bytes, to %s" % (len(list(OUT.iterdir())), total, OUT))
    assert total < 1_000_000, "fixtures must stay under 1 MB"


if __name__ == "__main__":
    main()
