#!/usr/bin/env python3
"""Extract the raw little-endian weight tensors of every file in the tenzip corpus.

Usage: extract_corpus.py --corpus DIR --out OUTDIR [--force]

Standard library only: it runs inside the C++ test suite (ctest), where no numpy,
onnx, torch or flatbuffers package is installed. Every format is parsed from its byte
layout as described in shared/corpus/MANIFEST.md, and every size is checked: a file
that does not parse exactly as its layout says is an error (exit status 2), never a
silent partial extraction.

Output (OUTDIR):
  fp32/<name>.raw   the concatenation of that file's fp32 tensors, as stored
  fp16/<name>.raw   the same for fp16 tensors
  bf16/<name>.raw   DERIVED: fp32/<name>.raw rounded to bf16 (round to nearest even)
  <dtype>/ALL.raw   the concatenation of every file of that dtype, in name order
  manifest.json     every output with its source, dtype, tensor and element counts,
                    bytes and sha256; written last, so its presence marks a finished run
<name> is the corpus path with '/' replaced by '__' (llm/stories260K.bin ->
llm__stories260K.bin). A TFJS model is named after its model.json; its .bin shards are
part of it and are not extracted on their own.

The run is skipped when OUTDIR/manifest.json is newer than this script and every
corpus file, and every output it lists is present with its recorded size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickletools
import struct
import sys
import time
import zipfile
from dataclasses import dataclass, field

SCHEMA = 1

# Element width in bytes of the dtypes written out. Only fp32 and fp16 are extracted
# as stored; bf16 is derived from fp32.
WIDTH = {"fp32": 4, "fp16": 2, "bf16": 2}

NON_WEIGHT_FILES = {"MANIFEST.md", "SHA256SUMS", "README.md", "LICENSE"}


class CorpusError(Exception):
    """A corpus file does not match the layout MANIFEST.md gives for its format."""


def need(cond: bool, msg: str) -> None:
    if not cond:
        raise CorpusError(msg)


@dataclass
class Extracted:
    """The tensors of one corpus file, grouped by dtype, in file order."""

    fmt: str
    chunks: dict = field(default_factory=lambda: {"fp32": [], "fp16": []})
    tensors: dict = field(default_factory=lambda: {"fp32": 0, "fp16": 0})
    skipped: dict = field(default_factory=dict)  # other dtype -> [tensor count, bytes]
    notes: dict = field(default_factory=dict)

    def add(self, dtype: str, data, count_tensor: bool = True) -> None:
        need(len(data) % WIDTH[dtype] == 0, f"{dtype} tensor of {len(data)} bytes is not a whole number of elements")
        self.chunks[dtype].append(bytes(data))
        if count_tensor:
            self.tensors[dtype] += 1

    def skip(self, dtype: str, nbytes: int) -> None:
        entry = self.skipped.setdefault(dtype, [0, 0])
        entry[0] += 1
        entry[1] += nbytes


def prod(shape) -> int:
    return math.prod(int(d) for d in shape)


# ----------------------------------------------------------------------------- llama2.c

def parse_llama2c(path: str, data: bytes) -> Extracted:
    need(len(data) >= 28, "llama2.c: file shorter than its 28-byte header")
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    need(min(dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len) > 0,
         f"llama2.c: non-positive header field {(dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len)}")
    need(dim % n_heads == 0, "llama2.c: dim is not a multiple of n_heads")
    head = dim // n_heads
    kv_dim = dim * n_kv_heads // n_heads
    L = n_layers
    layout = [
        ("token_embedding", vocab * dim),
        ("rms_att", L * dim),
        ("wq", L * dim * dim),
        ("wk", L * kv_dim * dim),
        ("wv", L * kv_dim * dim),
        ("wo", L * dim * dim),
        ("rms_ffn", L * dim),
        ("w1", L * hidden * dim),
        ("w2", L * dim * hidden),
        ("w3", L * hidden * dim),
        ("rms_final", dim),
        ("freq_cis_real", seq_len * head // 2),
        ("freq_cis_imag", seq_len * head // 2),
    ]
    if not shared:
        layout.append(("wcls", vocab * dim))
    total = sum(n for _, n in layout)
    need(28 + 4 * total == len(data),
         f"llama2.c: header implies {28 + 4 * total} bytes ({total} floats), file has {len(data)}")
    ex = Extracted("llama2.c")
    off = 28
    for _, n in layout:
        ex.add("fp32", data[off:off + 4 * n])
        off += 4 * n
    ex.notes["header"] = dict(dim=dim, hidden_dim=hidden, n_layers=L, n_heads=n_heads,
                              n_kv_heads=n_kv_heads, vocab_size=vocab, seq_len=seq_len, shared_classifier=shared)
    return ex


# ----------------------------------------------------------------------------- rwkv.cpp

GGMF_MAGIC = 0x67676D66


def parse_ggmf(path: str, data: bytes) -> Extracted:
    need(len(data) >= 24, "ggmf: file shorter than its 24-byte header")
    magic, version, n_vocab, n_embed, n_layer, ftype = struct.unpack_from("<6I", data, 0)
    need(magic == GGMF_MAGIC, f"ggmf: bad magic {magic:#x}")
    need(version == 101, f"ggmf: version {version}, expected 101")
    ex = Extracted("rwkv.cpp ggmf v101")
    ex.notes["header"] = dict(n_vocab=n_vocab, n_embed=n_embed, n_layer=n_layer, data_type=ftype)
    off = 24
    while off < len(data):
        need(off + 12 <= len(data), f"ggmf: truncated record header at {off}")
        n_dims, key_len, dtype = struct.unpack_from("<3i", data, off)
        off += 12
        need(0 < n_dims <= 4 and 0 < key_len <= 4096, f"ggmf: implausible record (n_dims {n_dims}, key_len {key_len}) at {off - 12}")
        dims = struct.unpack_from(f"<{n_dims}i", data, off)
        off += 4 * n_dims
        off += key_len
        need(all(d > 0 for d in dims), f"ggmf: non-positive dims {dims}")
        if dtype == 0:
            width, name = 4, "fp32"
        elif dtype == 1:
            width, name = 2, "fp16"
        else:
            raise CorpusError(f"ggmf: tensor data_type {dtype} (quantized) is not extracted and its size is unknown")
        n = prod(dims) * width
        need(off + n <= len(data), f"ggmf: tensor of {n} bytes runs past the end of the file")
        ex.add(name, data[off:off + n])
        off += n
    need(off == len(data), "ggmf: records do not end at the end of the file")
    return ex


# ----------------------------------------------------------------------------- CTranslate2

CT2_DTYPES = {0: ("fp32", 4), 1: ("i8", 1), 2: ("i16", 2), 3: ("i32", 4), 4: ("fp16", 2), 5: ("bf16_stored", 2)}


def parse_ct2(path: str, data: bytes) -> Extracted:
    pos = 0

    def u(fmt):
        nonlocal pos
        need(pos + struct.calcsize(fmt) <= len(data), f"ct2: truncated at {pos}")
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string():
        nonlocal pos
        n = u("<H")
        need(n >= 1 and pos + n <= len(data), f"ct2: bad string length {n} at {pos}")
        s = data[pos:pos + n]
        need(s[-1] == 0, "ct2: string is not NUL-terminated")
        pos += n
        return s[:-1].decode("utf-8")

    version = u("<I")
    need(version == 6, f"ct2: model.bin version {version}, expected 6")
    spec = string()
    revision = u("<I")
    n_vars = u("<I")
    ex = Extracted("CTranslate2 model.bin v6")
    ex.notes.update(spec=spec, revision=revision, variables=n_vars)
    for _ in range(n_vars):
        name = string()
        rank = u("<B")
        dims = [u("<I") for _ in range(rank)]
        dt = u("<B")
        need(dt in CT2_DTYPES, f"ct2: variable {name}: unknown dtype {dt}")
        nbytes = u("<I")
        kind, width = CT2_DTYPES[dt]
        need(nbytes == prod(dims) * width, f"ct2: variable {name}: {nbytes} bytes for dims {dims} x {width}")
        need(pos + nbytes <= len(data), f"ct2: variable {name} runs past the end of the file")
        if kind in ("fp32", "fp16"):
            ex.add(kind, data[pos:pos + nbytes])
        else:
            ex.skip(kind, nbytes)
        pos += nbytes
    n_aliases = u("<I")
    for _ in range(n_aliases):
        string()
        string()
    need(pos == len(data), f"ct2: {len(data) - pos} bytes left after the aliases")
    ex.notes["aliases"] = n_aliases
    return ex


# ----------------------------------------------------------------------------- safetensors

ST_DTYPES = {"F32": ("fp32", 4), "F16": ("fp16", 2), "BF16": ("bf16_stored", 2), "F64": ("f64", 8),
             "I64": ("i64", 8), "I32": ("i32", 4), "I16": ("i16", 2), "I8": ("i8", 1), "U8": ("u8", 1),
             "BOOL": ("bool", 1)}


def parse_safetensors(path: str, data: bytes) -> Extracted:
    need(len(data) >= 8, "safetensors: shorter than 8 bytes")
    (n,) = struct.unpack_from("<Q", data, 0)
    need(8 + n <= len(data) and n <= 100 * 1024 * 1024, f"safetensors: header length {n} out of range")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    body = len(data) - base
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        need(info["dtype"] in ST_DTYPES, f"safetensors: {name}: unknown dtype {info['dtype']}")
        kind, width = ST_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        need(0 <= b <= e <= body, f"safetensors: {name}: offsets {b}..{e} outside the data section")
        need(e - b == prod(info["shape"]) * width, f"safetensors: {name}: {e - b} bytes for shape {info['shape']}")
        entries.append((b, e, kind, name))
    entries.sort()
    cursor = 0
    for b, e, _, name in entries:
        need(b == cursor, f"safetensors: hole or overlap before {name} ({cursor} vs {b})")
        cursor = e
    need(cursor == body, "safetensors: tensors do not cover the data section exactly")
    ex = Extracted("safetensors")
    for b, e, kind, _ in entries:  # file order
        if kind in ("fp32", "fp16"):
            ex.add(kind, data[base + b:base + e])
        else:
            ex.skip(kind, e - b)
    return ex


# ----------------------------------------------------------------------------- ONNX (protobuf)

def _varint(buf, pos):
    result = shift = 0
    while True:
        need(pos < len(buf), "protobuf: truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        need(shift < 70, "protobuf: varint too long")


def pb_fields(buf, start=0, end=None):
    """Yield (field_number, wire_type, value) of one protobuf message. Length-delimited
    values are memoryview slices; varints are ints; fixed32/64 are raw bytes."""
    mv = memoryview(buf)
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = _varint(mv, pos)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(mv, pos)
        elif wt == 1:
            need(pos + 8 <= end, "protobuf: truncated fixed64")
            v, pos = mv[pos:pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(mv, pos)
            need(pos + n <= end, "protobuf: length-delimited field runs past its message")
            v, pos = mv[pos:pos + n], pos + n
        elif wt == 5:
            need(pos + 4 <= end, "protobuf: truncated fixed32")
            v, pos = mv[pos:pos + 4], pos + 4
        else:
            raise CorpusError(f"protobuf: unsupported wire type {wt}")
        yield fno, wt, v
    need(pos == end, "protobuf: message overruns its length")


def _packed_varints(mv):
    out, pos = [], 0
    while pos < len(mv):
        v, pos = _varint(mv, pos)
        out.append(v)
    return out


ONNX_FLOAT, ONNX_FLOAT16, ONNX_BFLOAT16, ONNX_DOUBLE = 1, 10, 16, 11
ONNX_WIDTH = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
ONNX_NAMES = {1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
              9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16"}


def onnx_tensor(mv, ex: Extracted, where: str) -> None:
    dims, dtype, raw, float_data, int32_data, external, name = [], 0, None, bytearray(), [], False, ""
    for fno, wt, v in pb_fields(mv):
        if fno == 1:
            dims.extend(_packed_varints(v) if wt == 2 else [v])
        elif fno == 2:
            dtype = v
        elif fno == 4:
            float_data += bytes(v)  # packed (wt 2) or one fixed32 (wt 5): both are LE floats
        elif fno == 5:
            int32_data.extend(_packed_varints(v) if wt == 2 else [v])
        elif fno == 8:
            name = bytes(v).decode("utf-8", "replace")
        elif fno == 9:
            raw = bytes(v)
        elif fno == 14:
            external = v == 1
    need(not external, f"onnx: tensor {name!r} ({where}) keeps its data outside the file")
    n = prod(dims)
    label = ONNX_NAMES.get(dtype, str(dtype))
    if raw is not None:
        data = raw
    elif dtype == ONNX_FLOAT:
        data = bytes(float_data)
    elif dtype in (ONNX_FLOAT16, ONNX_BFLOAT16):
        data = struct.pack(f"<{len(int32_data)}H", *int32_data)  # one 16-bit value per int32_data entry
    else:
        ex.skip(label, n * ONNX_WIDTH.get(dtype, 0))
        return
    width = ONNX_WIDTH.get(dtype)
    if width is not None:
        need(len(data) == n * width, f"onnx: tensor {name!r} ({where}): {len(data)} bytes for dims {dims} x {width}")
    if dtype == ONNX_FLOAT:
        ex.add("fp32", data)
    elif dtype == ONNX_FLOAT16:
        ex.add("fp16", data)
    else:
        ex.skip(label, len(data))


def onnx_graph(mv, ex: Extracted, depth: int) -> None:
    need(depth < 64, "onnx: subgraphs nested too deep")
    for fno, _, v in pb_fields(mv):
        if fno == 5:  # initializer
            onnx_tensor(v, ex, "initializer")
            ex.notes["initializers"] = ex.notes.get("initializers", 0) + 1
        elif fno == 1:  # node
            for nf, _, nv in pb_fields(v):
                if nf == 5:  # attribute
                    for af, _, av in pb_fields(nv):
                        if af == 5:  # t
                            onnx_tensor(av, ex, "node attribute")
                            ex.notes["node_tensors"] = ex.notes.get("node_tensors", 0) + 1
                        elif af == 10:  # tensors
                            onnx_tensor(av, ex, "node attribute list")
                            ex.notes["node_tensors"] = ex.notes.get("node_tensors", 0) + 1
                        elif af in (6, 11):  # g, graphs
                            ex.notes["subgraphs"] = ex.notes.get("subgraphs", 0) + 1
                            onnx_graph(av, ex, depth + 1)
        elif fno == 15:  # sparse_initializer
            ex.skip("sparse", len(v))


def parse_onnx(path: str, data: bytes) -> Extracted:
    ex = Extracted("onnx")
    graphs = 0
    for fno, wt, v in pb_fields(data):
        if fno == 7:
            need(wt == 2, "onnx: ModelProto.graph is not a message")
            onnx_graph(v, ex, 0)
            graphs += 1
        elif fno == 1:
            ex.notes["ir_version"] = v
    need(graphs == 1, f"onnx: expected one ModelProto.graph, found {graphs}")
    return ex


# ----------------------------------------------------------------------------- TorchScript

TORCH_STORAGES = {"FloatStorage": ("fp32", 4), "HalfStorage": ("fp16", 2), "BFloat16Storage": ("bf16_stored", 2),
                  "DoubleStorage": ("f64", 8), "LongStorage": ("i64", 8), "IntStorage": ("i32", 4),
                  "ShortStorage": ("i16", 2), "CharStorage": ("i8", 1), "ByteStorage": ("u8", 1),
                  "BoolStorage": ("bool", 1)}


class _Mark:
    pass


def pickle_persistent_ids(blob: bytes) -> list:
    """Run a symbolic pickle machine over the opcodes (pickletools.genops, which only
    parses) and return the persistent ids (BINPERSID/PERSID arguments) in order.
    Nothing is imported or called: GLOBALs become ('global', module, name) tuples and
    REDUCE/NEWOBJ/BUILD results are opaque placeholders."""
    stack, memo, pids = [], {}, []
    mark = _Mark()

    def pop_mark():
        items = []
        while True:
            need(stack, "pickle: MARK not found")
            x = stack.pop()
            if x is mark:
                return items[::-1]
            items.append(x)

    for op, arg, _ in pickletools.genops(blob):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            break
        if name == "MARK":
            stack.append(mark)
        elif name in ("GLOBAL",):
            mod, _, nm = arg.partition(" ")
            stack.append(("global", mod, nm))
        elif name == "STACK_GLOBAL":
            nm, mod = stack.pop(), stack.pop()
            stack.append(("global", mod, nm))
        elif name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BINSTRING",
                      "SHORT_BINSTRING", "STRING", "BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT",
                      "LONG", "BINFLOAT", "FLOAT", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
            stack.append(arg)
        elif name == "NONE":
            stack.append(None)
        elif name == "NEWTRUE":
            stack.append(True)
        elif name == "NEWFALSE":
            stack.append(False)
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = stack[-n:]
            del stack[-n:]
            stack.append(tuple(items))
        elif name == "TUPLE":
            stack.append(tuple(pop_mark()))
        elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
            stack.append(("container",))
        elif name in ("LIST", "DICT", "FROZENSET"):
            pop_mark()
            stack.append(("container",))
        elif name in ("APPEND", "SETITEM", "SETITEMS", "APPENDS", "ADDITEMS"):
            if name == "APPEND":
                stack.pop()
            elif name == "SETITEM":
                stack.pop()
                stack.pop()
            else:
                pop_mark()
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            need(arg in memo, f"pickle: memo key {arg} missing")
            stack.append(memo[arg])
        elif name in ("BINPERSID", "PERSID"):
            pid = stack.pop() if name == "BINPERSID" else arg
            pids.append(pid)
            stack.append(("persistent", pid))
        elif name == "REDUCE":
            stack.pop()
            stack.pop()
            stack.append(("object",))
        elif name == "NEWOBJ":
            stack.pop()
            stack.pop()
            stack.append(("object",))
        elif name == "NEWOBJ_EX":
            del stack[-3:]
            stack.append(("object",))
        elif name == "BUILD":
            stack.pop()
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            pop_mark()
        elif name == "DUP":
            stack.append(stack[-1])
        else:
            raise CorpusError(f"pickle: opcode {name} not handled")
    return pids


def parse_torchscript(path: str, data: bytes) -> Extracted:
    import io

    zf = zipfile.ZipFile(io.BytesIO(data))
    names = zf.namelist()
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    need(len(pkls) == 1, f"torchscript: expected one <root>/data.pkl, found {pkls}")
    root = pkls[0].split("/")[0]
    bo = f"{root}/byteorder"
    if bo in names:
        need(zf.read(bo).strip() == b"little", "torchscript: storages are not little-endian")
    ex = Extracted("TorchScript zip")
    storage_counts = {}
    for pkl, folder in (("data.pkl", "data"), ("constants.pkl", "constants")):
        entry = f"{root}/{pkl}"
        if entry not in names:
            continue
        seen = {}
        for pid in pickle_persistent_ids(zf.read(entry)):
            need(isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage",
                 f"torchscript: {pkl}: unexpected persistent id {pid!r}")
            _, cls, key, _location, numel = pid
            need(isinstance(cls, tuple) and cls[0] == "global" and cls[1] == "torch",
                 f"torchscript: {pkl}: storage type {cls!r} is not a torch.*Storage")
            need(cls[2] in TORCH_STORAGES, f"torchscript: unknown storage type torch.{cls[2]}")
            prev = seen.get(key)
            need(prev is None or prev == (cls[2], numel), f"torchscript: storage {key} declared twice differently")
            seen[key] = (cls[2], numel)
        storage_counts[folder] = len(seen)
        for key in sorted(seen, key=lambda k: (len(k), k)):
            stype, numel = seen[key]
            kind, width = TORCH_STORAGES[stype]
            member = f"{root}/{folder}/{key}"
            need(member in names, f"torchscript: storage {member} missing from the archive")
            info = zf.getinfo(member)
            need(info.file_size == numel * width,
                 f"torchscript: {member}: {info.file_size} bytes, pickle says {numel} x {width}")
            if kind in ("fp32", "fp16"):
                ex.add(kind, zf.read(member))
            else:
                ex.skip(kind, info.file_size)
    on_disk = {n for n in names if n.startswith((f"{root}/data/", f"{root}/constants/"))}
    need(len(on_disk) == sum(storage_counts.values()),
         f"torchscript: {len(on_disk)} storage entries in the archive, pickles reference {sum(storage_counts.values())}")
    ex.notes["storages"] = storage_counts
    return ex


# ----------------------------------------------------------------------------- TFLite (FlatBuffer)

class FB:
    """Minimal FlatBuffer table reader (little-endian, offsets checked against the buffer)."""

    def __init__(self, buf: bytes):
        self.b = buf

    def u32(self, p):
        need(0 <= p and p + 4 <= len(self.b), f"flatbuffer: read at {p} outside the file")
        return struct.unpack_from("<I", self.b, p)[0]

    def table(self, p):
        (soff,) = struct.unpack_from("<i", self.b, p)
        vt = p - soff
        need(0 <= vt and vt + 4 <= len(self.b), "flatbuffer: vtable outside the file")
        vsize, _ = struct.unpack_from("<HH", self.b, vt)
        return p, vt, vsize

    def field(self, t, idx):
        p, vt, vsize = t
        o = 4 + 2 * idx
        if o + 2 > vsize:
            return None
        (off,) = struct.unpack_from("<H", self.b, vt + o)
        return p + off if off else None

    def scalar(self, t, idx, fmt, default=0):
        f = self.field(t, idx)
        return default if f is None else struct.unpack_from(fmt, self.b, f)[0]

    def deref(self, f):
        return f + self.u32(f)

    def vector(self, t, idx):
        """(start, length) of a vector field, or (0, 0) when absent."""
        f = self.field(t, idx)
        if f is None:
            return 0, 0
        v = self.deref(f)
        n = self.u32(v)
        return v + 4, n

    def tables(self, t, idx):
        start, n = self.vector(t, idx)
        return [self.table(self.deref(start + 4 * i)) for i in range(n)]


TFL_TYPES = {0: ("fp32", 4), 1: ("fp16", 2), 2: ("i32", 4), 3: ("u8", 1), 4: ("i64", 8), 6: ("bool", 1),
             7: ("i16", 2), 9: ("i8", 1), 10: ("f64", 8)}


def parse_tflite(path: str, data: bytes) -> Extracted:
    need(len(data) >= 8 and data[4:8] == b"TFL3", "tflite: file identifier TFL3 missing")
    fb = FB(data)
    model = fb.table(fb.u32(0))
    buffers = fb.tables(model, 4)  # Model.buffers
    subgraphs = fb.tables(model, 2)  # Model.subgraphs
    need(buffers and subgraphs, "tflite: no buffers or no subgraphs")

    def buffer_bytes(i):
        b = buffers[i]
        start, n = fb.vector(b, 0)  # Buffer.data
        if n:
            need(start + n <= len(data), "tflite: buffer data outside the file")
            return data[start:start + n]
        off = fb.scalar(b, 1, "<Q")  # Buffer.offset / size (files over 2 GB)
        size = fb.scalar(b, 2, "<Q")
        if off > 1 and size:
            need(off + size <= len(data), "tflite: buffer offset/size outside the file")
            return data[off:off + size]
        return b""

    ex = Extracted("tflite")
    used = {}
    for sg in subgraphs:
        for t in fb.tables(sg, 0):  # SubGraph.tensors
            shape_start, rank = fb.vector(t, 0)
            shape = struct.unpack_from(f"<{rank}i", data, shape_start) if rank else ()
            ttype = fb.scalar(t, 1, "<b")
            bidx = fb.scalar(t, 2, "<I")
            need(bidx < len(buffers), f"tflite: tensor buffer index {bidx} out of range")
            if bidx == 0:
                continue  # buffer 0 is the empty sentinel
            raw = buffer_bytes(bidx)
            if not raw:
                continue  # activations: no constant data
            kind, width = TFL_TYPES.get(ttype, (f"type{ttype}", 0))
            if width:
                need(len(raw) == prod(shape) * width,
                     f"tflite: buffer {bidx}: {len(raw)} bytes for shape {list(shape)} x {width}")
            if bidx in used:
                need(used[bidx] == kind, f"tflite: buffer {bidx} shared by tensors of different types")
                continue
            used[bidx] = kind
            if kind in ("fp32", "fp16"):
                ex.add(kind, raw)
            else:
                ex.skip(kind, len(raw))
    return ex


# ----------------------------------------------------------------------------- TFJS graph-model

def parse_tfjs(path: str, data: bytes) -> tuple:
    model = json.loads(data)
    need("weightsManifest" in model, "tfjs: model.json has no weightsManifest")
    folder = os.path.dirname(path)
    ex = Extracted("TFJS graph-model")
    shards = []
    for group in model["weightsManifest"]:
        blob = b""
        for p in group["paths"]:
            sp = os.path.normpath(os.path.join(folder, p))
            need(os.path.isfile(sp), f"tfjs: shard {p} missing")
            shards.append(sp)
            with open(sp, "rb") as f:
                blob += f.read()
        off = 0
        for w in group["weights"]:
            q = w.get("quantization")
            if q:
                qd = q.get("dtype")
                width = {"float16": 2, "uint8": 1, "uint16": 2}.get(qd)
                need(width is not None, f"tfjs: {w['name']}: unknown quantization dtype {qd}")
            else:
                need(w["dtype"] != "string", f"tfjs: {w['name']}: string tensors are not supported")
                width = 1 if w["dtype"] == "bool" else 4
            n = prod(w["shape"]) * width
            need(off + n <= len(blob), f"tfjs: {w['name']} runs past the end of its shards")
            chunk = blob[off:off + n]
            off += n
            if q and q.get("dtype") == "float16" and w["dtype"] == "float32":
                ex.add("fp16", chunk)
            elif not q and w["dtype"] == "float32":
                ex.add("fp32", chunk)
            else:
                ex.skip(f"{w['dtype']}" + (f"/{q['dtype']}" if q else ""), n)
        need(off == len(blob), f"tfjs: manifest accounts for {off} bytes, shards hold {len(blob)}")
    ex.notes["shards"] = [os.path.basename(s) for s in shards]
    return ex, shards


# ----------------------------------------------------------------------------- gnubg

GNUBG_MAGIC = 472.3782


def parse_gnubg(path: str, data: bytes) -> Extracted:
    need(len(data) >= 8, "gnubg: shorter than its header")
    magic, version = struct.unpack_from("<2f", data, 0)
    need(abs(magic - GNUBG_MAGIC) < 1e-3, f"gnubg: magic {magic}, expected {GNUBG_MAGIC}")
    need(version == 1.0, f"gnubg: version {version}, expected 1.0")
    ex = Extracted("gnubg.wd")
    nets = []
    off = 8
    while off < len(data):
        need(off + 24 <= len(data), "gnubg: truncated network header")
        c_in, c_hid, c_out, _trained = struct.unpack_from("<4i", data, off)
        need(0 < c_in <= 4096 and 0 < c_hid <= 4096 and 0 < c_out <= 64, f"gnubg: implausible net {c_in}-{c_hid}-{c_out}")
        off += 16 + 8  # the four int32 and betaHidden, betaOutput (hyper-parameters, not weights)
        for n in (c_in * c_hid, c_hid * c_out, c_hid, c_out):
            need(off + 4 * n <= len(data), "gnubg: weights run past the end of the file")
            ex.add("fp32", data[off:off + 4 * n])
            off += 4 * n
        nets.append(f"{c_in}-{c_hid}-{c_out}")
    need(off == len(data), "gnubg: networks do not end at the end of the file")
    need(len(nets) == 6, f"gnubg: {len(nets)} networks, expected 6")
    ex.notes["nets"] = nets
    return ex


# ----------------------------------------------------------------------------- detection

def detect(rel: str, head: bytes) -> str | None:
    low = rel.lower()
    if low.endswith(".safetensors"):
        return "safetensors"
    if low.endswith(".onnx"):
        return "onnx"
    if low.endswith(".tflite") or head[4:8] == b"TFL3":
        return "tflite"
    if low.endswith(".json"):
        return "tfjs"
    if low.endswith(".wd"):
        return "gnubg"
    if head[:4] == b"PK\x03\x04":
        return "torchscript"
    if len(head) >= 4 and struct.unpack_from("<I", head, 0)[0] == GGMF_MAGIC:
        return "ggmf"
    if len(head) >= 6:
        (ver,) = struct.unpack_from("<I", head, 0)
        (slen,) = struct.unpack_from("<H", head, 4)
        if ver == 6 and 1 < slen < 256 and head[6:6 + slen - 1].isascii() and head[6:6 + slen - 1].endswith(b"Spec"):
            return "ct2"
    if low.endswith(".bin") and len(head) >= 28:
        return "llama2c"
    return None


PARSERS = {"llama2c": parse_llama2c, "ggmf": parse_ggmf, "ct2": parse_ct2, "safetensors": parse_safetensors,
           "onnx": parse_onnx, "torchscript": parse_torchscript, "tflite": parse_tflite, "gnubg": parse_gnubg}


# ----------------------------------------------------------------------------- bf16

def fp32_to_bf16(buf: bytes) -> bytes:
    """Round fp32 words (LE) to bf16 with round-to-nearest-even on the uint32 bits.
    NaN keeps its sign and top payload bits and is made quiet (bit 6 of the bf16).

    SWAR on one big Python int, 32-bit lanes: no lane carries into the next because
    the rounding addend (<= 0x8000) cannot overflow a non-NaN word (<= 0xFF800000);
    NaN lanes are zeroed before the add and patched afterwards."""
    n = len(buf) // 4
    need(len(buf) == 4 * n, "bf16: fp32 input is not a whole number of words")
    if n == 0:
        return b""
    x = int.from_bytes(buf, "little")
    ones = int.from_bytes(b"\x01\x00\x00\x00" * n, "little")
    abs_mask = ones * 0x7FFFFFFF
    # Bit 31 of a lane is set iff (word & 0x7FFFFFFF) > 0x7F800000, i.e. the word is a NaN.
    nan_bits = ((x & abs_mask) + ones * 0x007FFFFF) & (ones << 31)
    nan_lanes = []
    if nan_bits:
        nb = nan_bits.to_bytes(4 * n, "little")
        i = nb.find(b"\x80")
        while i >= 0:
            nan_lanes.append(i // 4)
            i = nb.find(b"\x80", i + 1)
        lane_masks = (nan_bits >> 31) * 0xFFFFFFFF
        x &= ~lane_masks
    y = x + ones * 0x7FFF + ((x >> 16) & ones)
    yb = y.to_bytes(4 * n, "little")
    out = bytearray(2 * n)
    out[0::2] = yb[2::4]
    out[1::2] = yb[3::4]
    for lane in nan_lanes:
        (w,) = struct.unpack_from("<I", buf, 4 * lane)
        struct.pack_into("<H", out, 2 * lane, (w >> 16) | 0x0040)
    return bytes(out)


def fp32_to_bf16_reference(buf: bytes) -> bytes:
    """Per-element version of fp32_to_bf16, for the self-test."""
    out = bytearray()
    for (w,) in struct.iter_unpack("<I", buf):
        if (w & 0x7FFFFFFF) > 0x7F800000:
            h = (w >> 16) | 0x0040
        else:
            h = (w + 0x7FFF + ((w >> 16) & 1)) >> 16
        out += struct.pack("<H", h)
    return bytes(out)


# ----------------------------------------------------------------------------- driver

def out_name(rel: str) -> str:
    return rel.replace(os.sep, "/").replace("/", "__")


def corpus_files(corpus: str) -> list:
    files = []
    for dp, dns, fns in os.walk(corpus):
        dns.sort()
        for fn in sorted(fns):
            if fn in NON_WEIGHT_FILES or fn.startswith("."):
                continue
            files.append(os.path.relpath(os.path.join(dp, fn), corpus))
    return sorted(files)


def up_to_date(corpus: str, out: str) -> bool:
    mpath = os.path.join(out, "manifest.json")
    try:
        mtime = os.stat(mpath).st_mtime
        with open(mpath) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("schema") != SCHEMA or os.path.realpath(corpus) != manifest.get("corpus"):
        return False
    newest = os.stat(__file__).st_mtime
    for dp, _, fns in os.walk(corpus):
        newest = max(newest, os.stat(dp).st_mtime)
        for fn in fns:
            newest = max(newest, os.stat(os.path.join(dp, fn)).st_mtime)
    if newest >= mtime:
        return False
    for o in manifest.get("outputs", []):
        p = os.path.join(out, o["path"])
        if not os.path.isfile(p) or os.path.getsize(p) != o["bytes"]:
            return False
    return True


def extract(corpus: str, out: str, log=print) -> dict:
    t0 = time.perf_counter()
    corpus = os.path.realpath(corpus)
    need(os.path.isdir(corpus), f"corpus folder {corpus} not found")
    files = corpus_files(corpus)
    need(files, f"no corpus files in {corpus}")
    mpath = os.path.join(out, "manifest.json")
    if os.path.exists(mpath):
        os.remove(mpath)  # the manifest marks a finished run; drop it until this one finishes
    for d in WIDTH:
        os.makedirs(os.path.join(out, d), exist_ok=True)
        for fn in os.listdir(os.path.join(out, d)):
            if fn.endswith(".raw"):
                os.remove(os.path.join(out, d, fn))

    results = {}
    consumed = set()
    # TFJS models first: their shards are part of them, not files of their own.
    for rel in files:
        if detect(rel, b"") == "tfjs":
            path = os.path.join(corpus, rel)
            with open(path, "rb") as f:
                blob = f.read()
            try:
                ex, shards = parse_tfjs(path, blob)
            except CorpusError as e:
                raise CorpusError(f"{rel} (tfjs): {e}") from None
            except (ValueError, KeyError, TypeError) as e:
                raise CorpusError(f"{rel} (tfjs): malformed: {type(e).__name__}: {e}") from None
            results[rel] = ex
            consumed.update(os.path.relpath(s, corpus) for s in shards)
    for rel in files:
        if rel in results or rel in consumed:
            continue
        path = os.path.join(corpus, rel)
        with open(path, "rb") as f:
            blob = f.read()
        fmt = detect(rel, blob[:512])
        need(fmt is not None and fmt != "tfjs", f"{rel}: format not recognised")
        try:
            results[rel] = PARSERS[fmt](path, blob)
        except CorpusError as e:
            raise CorpusError(f"{rel} ({fmt}): {e}") from None
        except (struct.error, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile) as e:
            raise CorpusError(f"{rel} ({fmt}): malformed: {type(e).__name__}: {e}") from None

    outputs, sources = [], []
    all_parts = {d: [] for d in WIDTH}

    def write(dtype, name, blob, source, tensors, derived):
        rel_out = f"{dtype}/{name}.raw"
        with open(os.path.join(out, rel_out), "wb") as f:
            f.write(blob)
        entry = {"path": rel_out, "source": source, "dtype": dtype, "tensors": tensors,
                 "elements": len(blob) // WIDTH[dtype], "bytes": len(blob),
                 "sha256": hashlib.sha256(blob).hexdigest(), "derived": derived}
        outputs.append(entry)
        return entry

    for rel in sorted(results):
        ex = results[rel]
        name = out_name(rel)
        src = {"file": rel.replace(os.sep, "/"), "format": ex.fmt, "tensors": dict(ex.tensors),
               "bytes": {d: sum(len(c) for c in ex.chunks[d]) for d in ("fp32", "fp16")},
               "skipped": {k: {"tensors": v[0], "bytes": v[1]} for k, v in sorted(ex.skipped.items())},
               "notes": ex.notes}
        sources.append(src)
        for d in ("fp32", "fp16"):
            if not ex.chunks[d]:
                continue
            blob = b"".join(ex.chunks[d])
            write(d, name, blob, src["file"], ex.tensors[d], None)
            all_parts[d].append(blob)
            if d == "fp32":
                bf = fp32_to_bf16(blob)
                write("bf16", name, bf, src["file"], ex.tensors[d],
                      "round-to-nearest-even from fp32 (NaN: quiet, sign and top payload kept)")
                all_parts["bf16"].append(bf)
    for d in WIDTH:
        if all_parts[d]:
            blob = b"".join(all_parts[d])
            write(d, "ALL", blob, "ALL", sum(o["tensors"] for o in outputs if o["dtype"] == d),
                  None if d != "bf16" else "round-to-nearest-even from fp32")
    manifest = {"schema": SCHEMA, "corpus": corpus, "generator": "bench/extract_corpus.py",
                "note": "bf16 outputs are derived from the fp32 tensors; no file in the corpus stores bf16",
                "sources": sources, "outputs": outputs}
    tmp = mpath + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(tmp, mpath)
    log(f"extract_corpus: {len(sources)} models -> {len(outputs)} outputs in {out} "
        f"({time.perf_counter() - t0:.1f} s)")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, help="the corpus folder (shared/corpus)")
    ap.add_argument("--out", required=True, help="where to write fp32/, fp16/, bf16/ and manifest.json")
    ap.add_argument("--force", action="store_true", help="extract even when the output is up to date")
    args = ap.parse_args(argv)
    try:
        if not args.force and up_to_date(args.corpus, args.out):
            print(f"extract_corpus: {args.out} is up to date")
            return 0
        extract(args.corpus, args.out)
    except CorpusError as e:
        print(f"extract_corpus: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
