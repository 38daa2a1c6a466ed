"""tenzip.torch against safetensors.torch: same API, same bytes, each reads what the other wrote."""

import json
import os
import struct

import pytest

import tenzip

torch = pytest.importorskip("torch")
st = pytest.importorskip("safetensors.torch")
safetensors = pytest.importorskip("safetensors")
import tenzip.torch as tt  # noqa: E402

DTYPES = [
    torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.float8_e4m3fn, torch.float8_e5m2,
    torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
    torch.bool, torch.complex64,
]  # fmt: skip
for _name in ("uint16", "uint32", "uint64", "float8_e8m0fnu", "float4_e2m1fn_x2"):
    if hasattr(torch, _name):
        DTYPES.append(getattr(torch, _name))


def rand(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype in (getattr(torch, "float8_e8m0fnu", None), getattr(torch, "float4_e2m1fn_x2", None)):
        return torch.randint(0, 255, shape, generator=g, dtype=torch.uint8).view(dtype)
    if dtype.is_floating_point or dtype.is_complex:
        return (torch.randn(shape, generator=g, dtype=torch.float32 if not dtype.is_complex else torch.complex64) * 0.05).to(dtype)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    return torch.randint(0, 100, shape, generator=g).to(dtype)


def state_dict(seed=0):
    sd = {f"layer.{i}.{dt}".replace("torch.", ""): rand((17, 33), dt, seed + i) for i, dt in enumerate(DTYPES)}
    sd["big.weight"] = rand((300, 700), torch.bfloat16, seed)  # several chunks
    sd["scalar"] = torch.tensor(3.0)
    sd["empty"] = torch.zeros(0, 4)
    sd["emb.é/ünïcode \"quoted\""] = rand((5,), torch.float16, seed)
    return sd


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


@pytest.mark.parametrize("metadata", [None, {}, {"format": "pt"}])
def test_save_file_writes_exactly_the_safetensors_bytes(tmp_path, metadata):
    sd = state_dict()
    p = tmp_path / "m.safetensors.tnz"
    tt.save_file(sd, p, metadata=metadata)
    plain = tenzip.decompress_file(p, progress=False)
    with open(plain, "rb") as f:
        assert f.read() == st.save(sd, metadata=metadata)
    assert tt.save(sd, metadata=metadata) and tenzip.decompress(tt.save(sd, metadata=metadata)) == st.save(sd, metadata=metadata)


def test_roundtrip_every_dtype(tmp_path):
    sd = state_dict(1)
    p = tmp_path / "m.tnz"
    tt.save_file(sd, p, metadata={"a": "b"})
    for threads in (None, 1, 2):
        back = tt.load_file(p, threads=threads)
        assert set(back) == set(sd)
        for k in sd:
            assert same(back[k], sd[k]), k
    # order: as safetensors.torch.load_file, i.e. the file's order
    ref = tmp_path / "m.safetensors"
    st.save_file(sd, ref, metadata={"a": "b"})
    assert list(tt.load_file(p)) == list(st.load_file(ref))


def test_lanes_option(tmp_path):
    """lanes=True: exponents laid out for AVX-512 decoders (format version 3); every tensor back
    bit for bit, and the same safetensors bytes as without it."""
    sd = state_dict(2)
    p = tmp_path / "m.tnz"
    tt.save_file(sd, p, lanes=True)
    data = tt.save(sd, lanes=True)
    assert tenzip.info(data)["format_version"] == 3 and tenzip.info(tt.save(sd))["format_version"] == 2
    assert tenzip.decompress(data) == st.save(sd)
    with open(p, "rb") as f:
        assert f.read() == data
    back = tt.load_file(p)
    assert set(back) == set(sd) and all(same(back[k], sd[k]) for k in sd)


def test_safetensors_reads_what_tenzip_wrote(tmp_path):
    sd = state_dict(2)
    tt.save_file(sd, tmp_path / "m.safetensors.tnz", metadata={"k": "v"})
    plain = tenzip.decompress_file(tmp_path / "m.safetensors.tnz", progress=False)
    back = st.load_file(plain)
    assert set(back) == set(sd) and all(same(back[k], sd[k]) for k in sd)
    with safetensors.safe_open(plain, "pt") as f:
        assert f.metadata() == {"k": "v"}


def test_tenzip_reads_what_safetensors_wrote(tmp_path):
    sd = state_dict(3)
    plain = tmp_path / "m.safetensors"
    st.save_file(sd, plain, metadata={"format": "pt"})
    direct = tt.load_file(plain)  # a plain .safetensors
    assert list(direct) == list(st.load_file(plain)) and all(same(direct[k], sd[k]) for k in sd)
    packed = tenzip.compress_file(plain, progress=False)  # as `tenzip compress` would
    back = tt.load_file(packed)
    assert all(same(back[k], sd[k]) for k in sd)
    with tt.safe_open(packed, framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
    assert tt.load(plain.read_bytes()).keys() == sd.keys() or set(tt.load(plain.read_bytes())) == set(sd)


def test_safe_open_is_lazy_and_compatible(tmp_path):
    sd = state_dict(4)
    p = tmp_path / "m.tnz"
    tt.save_file(sd, p, metadata={"format": "pt"})
    ref = tmp_path / "m.safetensors"
    st.save_file(sd, ref, metadata={"format": "pt"})
    with tt.safe_open(p, framework="pt", device="cpu") as f, safetensors.safe_open(ref, framework="pt") as g:
        assert f.keys() == g.keys()
        assert f.offset_keys() == g.offset_keys()
        assert f.metadata() == g.metadata()
        for k in g.keys():
            assert same(f.get_tensor(k), g.get_tensor(k))
            fs, gs = f.get_slice(k), g.get_slice(k)
            assert fs.get_shape() == gs.get_shape() and fs.get_dtype() == gs.get_dtype()
        assert torch.equal(f.get_slice("big.weight")[10:20, ::7], g.get_slice("big.weight")[10:20, ::7])
        assert torch.equal(f.get_slice("big.weight")[3], g.get_slice("big.weight")[3])
        with pytest.raises(KeyError):
            f.get_tensor("nope")
    with pytest.raises(ValueError):
        f.keys()  # closed


def test_one_damaged_tensor_spoils_only_itself(tmp_path):
    """safe_open decodes only the tensor asked for: damage to another tensor's data goes unseen."""
    sd = {"a": rand((400, 400), torch.float32, 1), "b": rand((400, 400), torch.float32, 2)}
    p = tmp_path / "m.tnz"
    tt.save_file(sd, p)
    data = bytearray(p.read_bytes())
    data[len(data) // 4] ^= 0xFF  # inside the first tensor's frames ("a" comes first)
    p.write_bytes(bytes(data))
    with tt.safe_open(p) as f:
        assert same(f.get_tensor("b"), sd["b"])
        with pytest.raises(tenzip.TenzipError) as e:
            f.get_tensor("a")
        assert e.value.code in ("checksum_mismatch", "corrupt_input")
    with pytest.raises(tenzip.TenzipError):
        tt.load_file(p)


def test_numpy_framework(tmp_path):
    np = pytest.importorskip("numpy")
    pytest.importorskip("ml_dtypes")
    sd = {"w": rand((8, 8), torch.bfloat16), "i": torch.arange(5)}
    tt.save_file(sd, tmp_path / "m.tnz")
    with tt.safe_open(tmp_path / "m.tnz", framework="np") as f:
        w = f.get_tensor("w")
        assert isinstance(w, np.ndarray) and str(w.dtype) == "bfloat16"
        assert w.tobytes() == sd["w"].view(torch.uint8).numpy().tobytes()
    with pytest.raises(ValueError):
        tt.safe_open(tmp_path / "m.tnz", framework="tf")


def test_save_file_checks_like_safetensors(tmp_path):
    x = torch.arange(10.0)
    with pytest.raises(RuntimeError):
        tt.save_file({"a": x, "b": x}, tmp_path / "x.tnz")
    with pytest.raises(RuntimeError):
        tt.save_file({"a": x[:6], "b": x[4:]}, tmp_path / "x.tnz")
    tt.save_file({"a": x[:5], "b": x[5:]}, tmp_path / "ok.tnz")  # disjoint parts: allowed, as in safetensors
    with pytest.raises(ValueError):
        tt.save_file({"a": torch.randn(4, 4).t()}, tmp_path / "x.tnz")
    with pytest.raises(ValueError):
        tt.save_file({"a": torch.eye(3).to_sparse()}, tmp_path / "x.tnz")
    with pytest.raises(ValueError):
        tt.save_file({"a": 1}, tmp_path / "x.tnz")
    with pytest.raises(ValueError):
        tt.save_file([x], tmp_path / "x.tnz")
    with pytest.raises(TypeError):
        tt.save_file({"a": x}, tmp_path / "x.tnz", metadata={"a": 1})
    with pytest.raises(ValueError):
        tt.save_file({"__metadata__": x}, tmp_path / "x.tnz")
    assert not (tmp_path / "x.tnz").exists()
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]  # no temporary files left


def test_empty_files(tmp_path):
    tt.save_file({}, tmp_path / "e.tnz")
    assert tt.load_file(tmp_path / "e.tnz") == {}
    assert tenzip.decompress((tmp_path / "e.tnz").read_bytes()) == st.save({})
    assert tt.load(st.save({})) == {}
    back = tt.load(tt.save({"z": torch.zeros(0, 5, dtype=torch.bfloat16)}))
    assert back["z"].shape == (0, 5) and back["z"].dtype == torch.bfloat16


def test_overwrites_like_safetensors(tmp_path):
    p = tmp_path / "m.tnz"
    tt.save_file({"a": torch.ones(3)}, p)
    tt.save_file({"b": torch.zeros(2)}, p)
    assert list(tt.load_file(p)) == ["b"]


def test_bad_files(tmp_path, tenzip_cli):
    import subprocess

    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    (tmp_path / "short").write_bytes(b"\x01")
    (tmp_path / "empty").write_bytes(b"")
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "badsize.safetensors").write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 8)
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}).encode()
    (tmp_path / "gap.safetensors").write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 12)
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    hdr = b'{"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}'
    (tmp_path / "dtype.safetensors").write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\x00")
    hdr = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]'
    (tmp_path / "json.safetensors").write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 4)
    for name in ("junk.safetensors", "short", "empty", "badsize.safetensors", "gap.safetensors", "huge.safetensors",
                 "dtype.safetensors", "json.safetensors"):  # fmt: skip
        with pytest.raises(tenzip.TenzipError) as e:
            tt.load_file(tmp_path / name)
        assert e.value.code == "corrupt_input", name
    with pytest.raises(FileNotFoundError):
        tt.load_file(tmp_path / "missing")
    # a .tnz of something that is not a safetensors file
    (tmp_path / "raw.bin").write_bytes(os.urandom(1000))
    subprocess.run([tenzip_cli, "compress", "-q", str(tmp_path / "raw.bin")], check=True)
    with pytest.raises(tenzip.TenzipError) as e:
        tt.load_file(tmp_path / "raw.bin.tnz")
    assert e.value.code == "invalid_argument"


def test_damaged_containers_never_crash(tmp_path, damage):
    np = pytest.importorskip("numpy")
    sd = {"a": rand((200, 300), torch.bfloat16, 1), "b": torch.arange(1000), "c": rand((50,), torch.float32, 3)}
    data = tt.save(sd, metadata={"m": "x"})
    rng = np.random.default_rng(1)
    for i in range(200):
        bad = damage(data, rng, max_flips=2, truncate=i % 4 == 0)
        try:
            back = tt.load(bad)
            tt.safe_open(bad).metadata()
        except tenzip.TenzipError:
            continue
        assert set(back) == set(sd) and all(same(back[k], sd[k]) for k in sd)
