#!/usr/bin/env python3
"""Generates the PyTorch fixtures in tests/data/formats/pytorch/ and their expected sidecars.

Run with the reference torch (CPU only is enough):
    ~/.cache/tenzip/test-venv/bin/python tests/formats/gen_pytorch.py [--out DIR] [--corpus DIR]

For every fixture <f> it writes <f>.expected.json (format, and per tensor in the reference
loader's order: name, dtype, shape, offset and nbytes of its bytes in <f>.expected.bin) and
<f>.expected.bin (each tensor's t.contiguous() bytes, concatenated). The reference view is
torch.load(weights_only=True) for torch.save files and torch.jit.load for TorchScript archives.

Tensor names follow the parser's convention (src/formats/pickle.hpp): dict keys and list/tuple
indices joined with '.', module attributes for TorchScript, CONSTANTS.c<i> for TorchScript
constants, and 'tensor' for a file that holds a single tensor.

Also writes silero_vad.jit.expected.json for the corpus TorchScript file, with an FNV-1a 64
hash of each tensor's bytes instead of a .bin (the weights are 2 MB).

torch.save files are byte-stable for a given torch version. TorchScript archives are not (a
random serialization_id, code emitted in varying order) and neither is legacy.pt (its storage
keys are addresses), so regenerate only when needed and commit the whole set together.
"""
import argparse
import collections
import io
import json
import os
import struct
import warnings
import zipfile
import zlib

import torch

warnings.simplefilter("ignore")  # torch.jit deprecation and tracer warnings


# ---------------------------------------------------------------- reference views

def key_text(k, i):
    if isinstance(k, bool) or k is None:
        return repr(k)
    if isinstance(k, (str, int)):
        return str(k)
    return "#%d" % i  # any other key kind: its position in the dict


def flatten(obj, path, out):
    """(name, tensor) pairs in the order the pickle builds them."""
    if isinstance(obj, torch.Tensor):
        out.append((path or "tensor", obj))
    elif isinstance(obj, dict):
        for i, (k, v) in enumerate(obj.items()):
            flatten(v, join(path, key_text(k, i)), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, join(path, str(i)), out)
    return out


def join(prefix, key):
    return key if not prefix else prefix + "." + key


def torch_save_view(path, weights_only=True):
    return flatten(torch.load(path, weights_only=weights_only), "", [])


def torchscript_view(path):
    m = torch.jit.load(path)
    out = []
    attrs = torch._C._jit_debug_module_iterators(m._c)["named_attributes_r"]
    for name, value in attrs:
        if not isinstance(value, torch.jit.ScriptModule):
            flatten(value, name, out)
    consts = {}
    for _, sub in m.named_modules():
        consts.update(sub.code_with_constants[1].const_mapping)
    for name in sorted(consts, key=lambda c: int(c[1:])):
        out.append(("CONSTANTS." + name, consts[name]))
    return out


def tensor_bytes(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def write_expected(path, fmt, view, with_bin=True, not_in_layout=()):
    tensors, blob = [], bytearray()
    for name, t in view:
        b = tensor_bytes(t)
        e = {"name": name, "dtype": str(t.dtype), "shape": list(t.shape), "nbytes": len(b)}
        if with_bin:
            e["offset"] = len(blob)
            blob += b
        else:
            e["fnv1a64"] = "%016x" % fnv1a64(b)
        if name in not_in_layout:
            e["in_layout"] = False
        tensors.append(e)
    with open(path + ".expected.json", "w") as f:
        json.dump({"format": fmt, "tensors": tensors}, f, indent=1)
        f.write("\n")
    if with_bin:
        with open(path + ".expected.bin", "wb") as f:
            f.write(blob)


# ---------------------------------------------------------------- fixtures

def state_dict():
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g)
    sd = collections.OrderedDict()
    sd["f32"] = r(4, 5)
    sd["f16"] = r(3, 4).half()
    sd["bf16"] = r(2, 3).bfloat16()
    sd["f8_e4m3"] = r(8).to(torch.float8_e4m3fn)
    sd["f8_e5m2"] = r(2, 3).to(torch.float8_e5m2)
    sd["f64"] = r(3).double()
    sd["i64"] = torch.arange(-3, 4, dtype=torch.int64)
    sd["i32"] = torch.tensor([1, -2, 2**31 - 1], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["u16"] = torch.tensor([1, 2, 65535], dtype=torch.int32).to(torch.uint16)  # UntypedStorage + _rebuild_tensor_v3
    sd["mask"] = torch.tensor([[True, False], [False, True]])
    sd["c64"] = torch.complex(r(2), r(2))
    base = r(6, 4)
    sd["shared.base"] = base
    sd["shared.rows"] = base[2:5]           # same storage, storage_offset 8
    sd["shared.cols"] = base[:, 1::2]       # strided view with offset
    sd["shared.t"] = base.t()               # transpose
    sd["transposed"] = r(3, 5).t()
    sd["expanded"] = r(1, 3).expand(4, 3)   # stride 0
    h = r(10).half()
    sd["f16_slice"] = h[3:7]                # 2-byte elements, offset 6 bytes
    b = r(9).bfloat16()
    sd["bf16_step"] = b[1::3]
    f8 = r(16).to(torch.float8_e4m3fn)
    sd["f8_view"] = f8.view(4, 4)[1:, 2:]   # 1-byte elements, 2-D strided view
    sd["empty"] = torch.zeros(0, 3)
    sd["empty_view"] = base[6:]             # zero rows at the end of a shared storage
    sd["scalar"] = torch.tensor(3.5)
    sd["param"] = torch.nn.Parameter(r(2, 2))                       # _rebuild_parameter
    tagged = r(3)
    tagged.note = "has python state"                               # _rebuild_from_type_v2
    sd["tagged"] = tagged
    sd["tied"] = sd["f32"]                                         # the same tensor twice (memo)
    return sd


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.fc2 = torch.nn.Linear(8, 3, bias=False)
        self.register_buffer("scale", torch.tensor([0.5, 2.0, 1.0]))

    def forward(self, x):
        return self.fc2(self.norm(torch.relu(self.fc1(x)))) * self.scale


def checkpoint():
    torch.manual_seed(2)
    model = Block()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),   # int keys: optimizer.state.0.exp_avg
        "step": 3,
        "history": [torch.tensor([0.25, 0.5]), torch.tensor([1.5])],
        "pair": (torch.arange(4, dtype=torch.int16), "label"),
        "nested": {"a": {"b": torch.ones(2, 2, dtype=torch.float16)}, 7: torch.zeros(1, dtype=torch.bfloat16)},
    }


class Scripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.block = Block()
        self.emb = torch.nn.Embedding(5, 4).half()
        self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))
        self.plain = torch.linspace(0, 1, 6).view(2, 3).t()  # plain tensor attribute, transposed
        self.table = [torch.ones(2), torch.full((3,), 2.0)]  # List[Tensor] attribute

    def forward(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        y = self.block(x) + self.emb(idx).float().sum()
        return y + self.table[0].sum() + self.plain.sum()


class Traced(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        # torch.tensor(...) inside a trace becomes a constant: constants.pkl + constants/<key>
        return self.fc(x) + torch.tensor([1.0, -2.0]) * torch.tensor([[0.5], [0.25]]).t()


# ---------------------------------------------------------------- a ZIP64 rewrite

def write_zip64(src, dst, deflate=(), descriptor=()):
    """Copies a torch zip into one that uses every ZIP64 structure: 0xFFFFFFFF sizes and offsets
    with ZIP64 extra fields in both headers, a ZIP64 end-of-central-directory record and locator.
    Entries in `deflate` are compressed; entries in `descriptor` get a ZIP64 data descriptor."""
    entries = []
    with zipfile.ZipFile(src) as z:
        for info in z.infolist():
            entries.append((info.filename, z.read(info.filename)))
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        method = 8 if name in deflate else 0
        payload = data
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        crc = zlib.crc32(data)
        flags = 0x800 | (0x08 if name in descriptor else 0)
        offset = len(out)
        lextra = struct.pack("<HHQQ", 1, 16, len(data), len(payload))
        # Pad the data to 64 bytes like torch does (an 'FB' extra field).
        pad = (-(offset + 30 + len(nb) + len(lextra) + 4)) % 64
        lextra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        lcrc, lsize = (0, 0) if flags & 0x08 else (crc, 0xFFFFFFFF)
        out += struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 45, flags, method, 0, 0x21, lcrc, lsize, lsize,
                           len(nb), len(lextra))
        out += nb + lextra + payload
        if flags & 0x08:
            out += struct.pack("<4sLQQ", b"PK\x07\x08", crc, len(payload), len(data))
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(payload), offset)
        central += struct.pack("<4sHHHHHHLLLHHHHHLL", b"PK\x01\x02", 45, 45, flags, method, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + cextra
    cd_offset = len(out)
    out += central
    z64 = len(out)
    out += struct.pack("<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_offset)
    out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64, 1)
    out += struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------- main

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(src, "tests", "data", "formats", "pytorch"))
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(src), "shared", "corpus"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    p = lambda n: os.path.join(a.out, n)

    torch.save(state_dict(), p("state_dict.pt"))
    write_expected(p("state_dict.pt"), "pytorch-zip", torch_save_view(p("state_dict.pt")))

    torch.save(checkpoint(), p("checkpoint.pt"))
    write_expected(p("checkpoint.pt"), "pytorch-zip", torch_save_view(p("checkpoint.pt")))

    # The zip format asked for explicitly (it is the default since torch 1.6), holding one tensor.
    torch.save(torch.arange(12, dtype=torch.float32).view(3, 4)[:, 1:3], p("tensor.pt"),
               _use_new_zipfile_serialization=True)
    write_expected(p("tensor.pt"), "pytorch-zip", torch_save_view(p("tensor.pt")))

    # Protocol 5 pickles (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) instead of torch's default 2.
    # torch's weights_only unpickler has no FRAME opcode, so this one trusted file is read with the
    # full unpickler.
    g = torch.Generator().manual_seed(6)
    p5 = {"w": torch.randn(3, 4, generator=g).t(), "f8": torch.randn(5, generator=g).to(torch.float8_e5m2),
          "i": torch.arange(6).view(2, 3)}
    torch.save(p5, p("protocol5.pt"), pickle_protocol=5)
    write_expected(p("protocol5.pt"), "pytorch-zip", torch_save_view(p("protocol5.pt"), weights_only=False))

    # The pre-1.6 format is not a zip: the parser must say so, not guess.
    torch.save({"w": torch.ones(2)}, p("legacy.pt"), _use_new_zipfile_serialization=False)

    # A broadcast view (stride 0): 12 bytes of storage, 13 TB as a contiguous array. No
    # sidecar: `tenzip extract` must refuse "x" with a clear error (tests/cli/model.sh).
    torch.save({"x": torch.ones(3).expand(1 << 20, 1 << 20, 3), "y": torch.arange(10.0)}, p("broadcast.pt"))

    torch.jit.script(Scripted()).save(p("scripted.pt"))
    write_expected(p("scripted.pt"), "torchscript", torchscript_view(p("scripted.pt")))

    traced = torch.jit.trace(Traced(), torch.randn(1, 3, generator=torch.Generator().manual_seed(5)))
    traced.save(p("traced.pt"))
    write_expected(p("traced.pt"), "torchscript", torchscript_view(p("traced.pt")))

    # ZIP64 everywhere; storage '1' (tensor 'b') deflated, so it stays a gap and 'b' has no region.
    small = collections.OrderedDict(a=torch.linspace(-1, 1, 8), b=torch.arange(5), c=torch.ones(3, 2).half())
    buf = io.BytesIO()
    torch.save(small, buf)
    tmp = p("zip64.tmp")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    write_zip64(tmp, p("zip64.pt"), deflate={"archive/data/1", "archive/version"},
                descriptor={"archive/data/2", "archive/data.pkl"})
    os.remove(tmp)
    write_expected(p("zip64.pt"), "pytorch-zip", torch_save_view(p("zip64.pt")), not_in_layout={"b"})

    silero = os.path.join(a.corpus, "audio", "silero_vad.jit")
    if os.path.exists(silero):
        write_expected(p("silero_vad.jit"), "torchscript", torchscript_view(silero), with_bin=False)


if __name__ == "__main__":
    main()
