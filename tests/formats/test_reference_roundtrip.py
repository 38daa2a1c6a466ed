"""Model files written by the reference packages survive tenzip byte for byte, load again with
those packages, and `tenzip extract` returns exactly the tensor their loaders return.

Run by ctest (formats.pytest) with the test venv's python; TENZIP is the command under test.
"""
import hashlib
import json
import os
import subprocess

import numpy as np
import pytest

TENZIP = os.environ.get("TENZIP", "tenzip")
torch = pytest.importorskip("torch")


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run(*args, **kw):
    r = subprocess.run([TENZIP, *map(str, args)], capture_output=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"tenzip {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.decode()}")
    return r


def roundtrip(path, tmp_path):
    """compress -> decompress -> identical; returns the .tnz path."""
    tnz = tmp_path / (path.name + ".tnz")
    back = tmp_path / ("back." + path.name)
    run("compress", "-q", "-o", tnz, path)
    run("decompress", "-q", "-o", back, tnz)
    assert sha(back) == sha(path)
    return tnz, back


def extract(tnz, name):
    return run("extract", tnz, "--tensor", name, "-c").stdout


def tensor_bytes(t):
    """Contiguous little-endian bytes of a torch tensor, whatever its dtype (bf16, fp8 too)."""
    t = t.detach().contiguous().cpu()
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = {
        "emb.weight": torch.randn(300, 64, generator=g) * 0.02,
        "layer.0.attn.weight": (torch.randn(64, 64, generator=g) * 0.05).to(torch.bfloat16),
        "layer.0.mlp.weight": (torch.randn(128, 64, generator=g) * 0.05).to(torch.float16),
        "layer.0.norm.weight": torch.ones(64) + torch.randn(64, generator=g) * 0.01,
        "layer.0.fp8": (torch.randn(32, 16, generator=g)).to(torch.float8_e4m3fn),
        "ids": torch.arange(40, dtype=torch.int64),
        "mask": torch.rand(10, generator=g) > 0.5,
        "special": torch.tensor([float("nan"), -0.0, float("inf"), -float("inf"), 1e-45, 0.0]),
    }
    return w


def test_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    w = weights()
    path = tmp_path / "model.safetensors"
    save_file(w, str(path), metadata={"format": "pt"})
    tnz, back = roundtrip(path, tmp_path)
    loaded = load_file(str(back))
    assert set(loaded) == set(w)
    for name, t in w.items():
        assert tensor_bytes(loaded[name]) == tensor_bytes(t)
        assert extract(tnz, name) == tensor_bytes(t), name
    info = json.loads(run("inspect", "--json", tnz).stdout)
    dt = {t["name"]: t["codec_dtype"] for t in info["model"]["tensors"]}
    assert dt["emb.weight"] == "fp32" and dt["layer.0.attn.weight"] == "bf16" and dt["ids"] == "bytes"


def test_pytorch_zip_with_views(tmp_path):
    w = weights(1)
    base = torch.randn(16, 24)
    w["view.T"] = base.t()  # non-contiguous view sharing a storage
    w["view.slice"] = base[3:7, 5:]  # offset into the same storage
    ckpt = {"model": w, "step": 7, "note": "checkpoint"}
    path = tmp_path / "ckpt.pt"
    torch.save(ckpt, str(path))
    tnz, back = roundtrip(path, tmp_path)
    loaded = torch.load(str(back), weights_only=True)
    for name, t in w.items():
        assert tensor_bytes(loaded["model"][name]) == tensor_bytes(t)
    names = run("extract", "--list", tnz).stdout.decode().split()
    assert names, "no tensors found in a torch.save zip"
    # Names are dotted paths in the pickled containers; find each of ours by suffix.
    for name, t in w.items():
        full = [n for n in names if n.endswith(name)]
        assert len(full) == 1, (name, names)
        assert extract(tnz, full[0]) == tensor_bytes(t), name


def test_torchscript(tmp_path):
    m = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    path = tmp_path / "model.jit"
    torch.jit.script(m).save(str(path))
    tnz, back = roundtrip(path, tmp_path)
    loaded = torch.jit.load(str(back))
    for (n1, p1), (n2, p2) in zip(m.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and tensor_bytes(p1) == tensor_bytes(p2)
    info = json.loads(run("inspect", "--json", tnz).stdout)
    assert info["model"]["format"] == "torchscript"
    assert sum(t["codec_dtype"] == "fp32" for t in info["model"]["tensors"]) == 4


def test_onnx(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((8, 4)) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((4,)) * 0.1).astype(np.float16)
    const = (rng.standard_normal((4, 2)) * 0.1).astype(np.float32)
    then_c = (rng.standard_normal((3,))).astype(np.float32)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["tc"], value=numpy_helper.from_array(then_c, "then_const"))],
        "then", [], [helper.make_tensor_value_info("tc", TensorProto.FLOAT, [3])])
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["ec"], value=numpy_helper.from_array(-then_c, "else_const"))],
        "else", [], [helper.make_tensor_value_info("ec", TensorProto.FLOAT, [3])])
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(const, "c_value")),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
                                       helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 4])], initializer=inits)
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(g), str(path))
    tnz, back = roundtrip(path, tmp_path)
    onnx.checker.check_model(onnx.load(str(back)))
    names = run("extract", "--list", tnz).stdout.decode().split()
    assert "w1" in names and "w2" in names
    assert extract(tnz, "w1") == w1.tobytes()
    assert extract(tnz, "w2") == w2.tobytes()
    inner = [n for n in names if "then" in n or "tc" in n]
    assert inner, f"Constant inside an If subgraph not found: {names}"


def test_gguf(tmp_path):
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(1)
    path = tmp_path / "model.gguf"
    wr = gguf.GGUFWriter(str(path), "llama")
    a = (rng.standard_normal((16, 32)) * 0.02).astype(np.float32)
    b = (rng.standard_normal((8, 32)) * 0.02).astype(np.float16)
    wr.add_tensor("blk.0.a", a)
    wr.add_tensor("blk.0.b", b)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    tnz, back = roundtrip(path, tmp_path)
    rd = gguf.GGUFReader(str(back))
    got = {t.name: np.asarray(t.data).tobytes() for t in rd.tensors}
    assert got["blk.0.a"] == a.tobytes() and got["blk.0.b"] == b.tobytes()
    assert extract(tnz, "blk.0.a") == a.tobytes()
    assert extract(tnz, "blk.0.b") == b.tobytes()


def numpy_weights(seed=2):
    rng = np.random.default_rng(seed)
    f32 = (rng.standard_normal((48, 64)) * 0.02).astype(np.float32)
    f32.view(np.uint32).reshape(-1)[:5] = [0x7FC00001, 0x80000000, 0x00000001, 0x7F800000, 0xFF800000]
    return {
        "emb.weight": f32,
        "proj.weight": (rng.standard_normal((64, 32)) * 0.05).astype(np.float16),
        "proj.weight_t": np.asfortranarray((rng.standard_normal((16, 24)) * 0.05).astype(np.float32)),
        "ids": np.arange(40, dtype=np.int64),
        "mask": rng.random(10) > 0.5,
        "scale": np.float32(0.125),
    }


@pytest.mark.parametrize("writer", ["save", "savez", "savez_compressed"])
def test_numpy(tmp_path, writer):
    w = numpy_weights()
    if writer == "save":
        path = tmp_path / "emb.npy"
        np.save(path, w["emb.weight"])
        want = {"array": w["emb.weight"]}
    else:
        path = tmp_path / "weights.npz"
        getattr(np, writer)(path, **w)
        want = w
    tnz, back = roundtrip(path, tmp_path)
    loaded = np.load(back) if writer != "save" else {"array": np.load(back)}
    for name, a in want.items():
        assert np.ascontiguousarray(loaded[name]).tobytes() == np.ascontiguousarray(a).tobytes(), name
        assert loaded[name].dtype == np.asarray(a).dtype and loaded[name].shape == np.shape(a), name
    info = json.loads(run("inspect", "--json", tnz).stdout)
    assert info["model"]["format"] == ("npy" if writer == "save" else "npz")
    tensors = {t["name"]: t for t in info["model"]["tensors"]}
    if writer == "savez_compressed":
        assert tensors == {}  # deflated members: kept as the bytes they are
        return
    assert set(tensors) == set(want)
    for name, a in want.items():
        # what np.load returns, as C-order bytes (a Fortran-order array is gathered)
        assert extract(tnz, name) == np.ascontiguousarray(a).tobytes(), name
    if writer == "savez":
        assert tensors["emb.weight"]["codec_dtype"] == "fp32" and tensors["proj.weight"]["codec_dtype"] == "fp16"
        assert tensors["proj.weight_t"]["codec_dtype"] == "fp32" and tensors["ids"]["codec_dtype"] == "bytes"
