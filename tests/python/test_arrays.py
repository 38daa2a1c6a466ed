"""tenzip.compress / tenzip.decompress: numpy arrays, torch tensors and buffers, bit for bit."""

import array
import json
import mmap
import threading
import time
import tracemalloc

import pytest

import tenzip
from tenzip import _ext

np = pytest.importorskip("numpy")
ml_dtypes = pytest.importorskip("ml_dtypes")
torch = pytest.importorskip("torch")


def rng_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def weights(n: int, seed: int = 0):
    """Trained-looking float32 values: normal, small scale."""
    return (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)


# ---------------------------------------------------------------- numpy

NUMPY_DTYPES = [
    np.float32, np.float16, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
    np.uint32, np.uint64, np.bool_, np.complex64, np.complex128,
    ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.float8_e4m3fnuz,
    ml_dtypes.float8_e5m2fnuz, ml_dtypes.int4, ml_dtypes.float8_e8m0fnu,
    ">f4", "<U3", "S5", "datetime64[s]", [("a", "<f4"), ("b", "i1", (2,))],
]  # fmt: skip


def make_numpy(dtype, shape=(3, 5, 7)):
    dt = np.dtype(dtype)
    if dt.names or dt.kind in "USMm":
        return np.frombuffer(rng_bytes(int(np.prod(shape)) * dt.itemsize), dtype=dt).reshape(shape).copy() if dt.kind not in "USmM" else np.full(shape, "ab" if dt.kind in "US" else 7, dtype=dt)
    return np.frombuffer(rng_bytes(int(np.prod(shape)) * dt.itemsize), dtype=dt).reshape(shape).copy()


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=str)
def test_numpy_roundtrip(dtype):
    x = make_numpy(dtype)
    data = tenzip.compress(x)
    assert isinstance(data, bytes)
    y = tenzip.decompress(data)
    assert type(y) is np.ndarray
    assert y.dtype == x.dtype and y.shape == x.shape
    assert y.tobytes() == x.tobytes()  # bit for bit, NaN payloads included


def test_lanes_option():
    """lanes=True: exponents laid out for AVX-512 decoders (format version 3), same values back."""
    x = weights(65536 * 2 + 777).astype(ml_dtypes.bfloat16)
    lanes, plain = tenzip.compress(x, lanes=True), tenzip.compress(x)
    assert tenzip.info(lanes)["format_version"] == 3 and tenzip.info(plain)["format_version"] == 2
    assert lanes != plain and len(lanes) < 1.01 * len(plain)
    y = tenzip.decompress(lanes)
    assert y.dtype == x.dtype and y.tobytes() == x.tobytes()


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (1,), (65536 * 3 + 5,), (2, 1, 1, 3)])
def test_numpy_shapes(shape):
    x = np.frombuffer(rng_bytes(int(np.prod(shape)) * 2, 1), dtype=ml_dtypes.bfloat16).reshape(shape)
    y = tenzip.decompress(tenzip.compress(x))
    assert y.shape == x.shape and y.dtype == x.dtype and y.tobytes() == x.tobytes()


def test_numpy_special_values():
    bits = np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC1, 0xFFFF, 0x0001, 0x8001], dtype=np.uint16)
    x = bits.view(ml_dtypes.bfloat16)
    y = tenzip.decompress(tenzip.compress(x))
    assert np.array_equal(y.view(np.uint16), bits)
    f = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38], dtype=np.float32)
    f = np.concatenate([f, np.array([0x7FC00001, 0xFFBFFFFF], dtype=np.uint32).view(np.float32)])
    assert tenzip.decompress(tenzip.compress(f)).tobytes() == f.tobytes()


def test_non_contiguous_and_readonly():
    base = make_numpy(np.float32, (8, 9))
    x = base[:, ::2]  # a view: copied once into contiguous memory
    assert not x.flags.c_contiguous
    y = tenzip.decompress(tenzip.compress(x))
    assert np.array_equal(y, x) and y.flags.c_contiguous
    ro = np.frombuffer(base.tobytes(), dtype=np.float32).reshape(8, 9)
    assert not ro.flags.writeable
    assert np.array_equal(tenzip.decompress(tenzip.compress(ro)), ro)
    fortran = np.asfortranarray(base)
    assert np.array_equal(tenzip.decompress(tenzip.compress(fortran)), base)


def test_codec_dtype_is_picked_from_the_dtype():
    x = weights(200_000)
    fp32 = tenzip.compress(x)
    as_bytes = tenzip.compress(x, dtype="bytes")
    assert len(fp32) < len(as_bytes)  # the float codec codes the exponents
    assert np.array_equal(tenzip.decompress(as_bytes), x)
    assert tenzip.info(fp32)["array"] == {"tenzip_array": 1, "kind": "numpy", "dtype": "float32", "shape": [200_000]}


def test_levels_and_threads():
    x = weights(300_000, 3)
    for level in (1, 3, 9):
        for threads in (None, 0, 1, 2):
            assert np.array_equal(tenzip.decompress(tenzip.compress(x, threads=threads, level=level), threads=threads), x)
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.compress(x, level=10)
    assert e.value.code == "invalid_argument"
    with pytest.raises(tenzip.TenzipError):
        tenzip.compress(x, threads=-1)
    with pytest.raises(tenzip.TenzipError):
        tenzip.compress(x, dtype="fp12")
    with pytest.raises(TypeError):
        tenzip.compress(x, level="3")


def test_object_arrays_are_refused():
    with pytest.raises(TypeError):
        tenzip.compress(np.array([1, "a", None], dtype=object))


# ---------------------------------------------------------------- torch

TORCH_DTYPES = [
    torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.float8_e4m3fn, torch.float8_e5m2,
    torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
    torch.bool, torch.complex64, torch.complex128, torch.complex32,
]  # fmt: skip
for _name in ("uint16", "uint32", "uint64", "float8_e8m0fnu", "float4_e2m1fn_x2"):
    if hasattr(torch, _name):
        TORCH_DTYPES.append(getattr(torch, _name))


def make_torch(dtype, shape=(4, 6, 5)):
    n = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()
    return torch.frombuffer(bytearray(rng_bytes(n, 7)), dtype=torch.uint8).view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_torch_roundtrip(dtype):
    x = make_torch(dtype)
    y = tenzip.decompress(tenzip.compress(x))
    assert isinstance(y, torch.Tensor)
    assert y.dtype == x.dtype and y.shape == x.shape and y.device.type == "cpu"
    assert torch.equal(y.reshape(-1).view(torch.uint8), x.reshape(-1).view(torch.uint8))


def test_torch_views_grad_and_scalars():
    w = torch.randn(64, 33, requires_grad=True)
    y = tenzip.decompress(tenzip.compress(w))
    assert torch.equal(y, w.detach()) and not y.requires_grad
    t = torch.randn(10, 12)[:, 3:9]  # non-contiguous view
    assert torch.equal(tenzip.decompress(tenzip.compress(t)), t)
    s = torch.tensor(2.5, dtype=torch.bfloat16)
    ys = tenzip.decompress(tenzip.compress(s))
    assert ys.shape == () and torch.equal(ys, s)
    e = torch.empty(0, 7, dtype=torch.float8_e4m3fn)
    ye = tenzip.decompress(tenzip.compress(e))
    assert ye.shape == (0, 7) and ye.dtype == e.dtype
    c = torch.randn(5, dtype=torch.complex64).conj()  # lazily conjugated
    assert torch.equal(tenzip.decompress(tenzip.compress(c)), c.resolve_conj())


def test_torch_and_numpy_share_dtype_names():
    x = make_torch(torch.bfloat16, (3, 4))
    data = tenzip.compress(x)
    out = np.empty((3, 4), dtype=ml_dtypes.bfloat16)
    assert tenzip.decompress(data, out=out) is out
    assert out.tobytes() == x.view(torch.uint8).numpy().tobytes()
    a = make_numpy(ml_dtypes.float8_e4m3fn, (2, 3))
    t = torch.empty(2, 3, dtype=torch.float8_e4m3fn)
    tenzip.decompress(tenzip.compress(a), out=t)
    assert t.view(torch.uint8).numpy().tobytes() == a.tobytes()


def test_sparse_and_quantized_tensors_are_refused():
    with pytest.raises(TypeError):
        tenzip.compress(torch.eye(3).to_sparse())
    with pytest.raises(TypeError):
        tenzip.compress(torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8))


# ---------------------------------------------------------------- buffers


def test_buffers():
    raw = rng_bytes(100_003, 5)
    for buf in (raw, bytearray(raw), memoryview(raw)):
        out = tenzip.decompress(tenzip.compress(buf))
        assert type(out) is bytes and out == raw
    f = array.array("f", weights(1000).tolist())
    data = tenzip.compress(f)
    assert tenzip.decompress(data) == f.tobytes()
    assert tenzip.compress(b"") and tenzip.decompress(tenzip.compress(b"")) == b""
    strided = memoryview(raw)[::3]
    assert tenzip.decompress(tenzip.compress(strided)) == raw[::3]
    raw16 = weights(5000).astype(np.float16).tobytes()
    assert tenzip.decompress(tenzip.compress(raw16, dtype="fp16")) == raw16


def test_mmap_input(tmp_path):
    data = tenzip.compress(weights(70_000))
    p = tmp_path / "w.tnz"
    p.write_bytes(data)
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert np.array_equal(tenzip.decompress(m), weights(70_000))


def test_out_buffers():
    x = weights(12345)
    data = tenzip.compress(x)
    ba = bytearray(x.nbytes)
    assert tenzip.decompress(data, out=ba) is ba and bytes(ba) == x.tobytes()
    t = torch.empty(12345)
    tenzip.decompress(data, out=t)
    assert np.array_equal(t.numpy(), x)
    with pytest.raises(ValueError):
        tenzip.decompress(data, out=bytearray(10))
    with pytest.raises(ValueError):
        tenzip.decompress(data, out=np.empty(12345, dtype=np.int32))  # same size, other dtype
    with pytest.raises(ValueError):
        tenzip.decompress(data, out=np.empty((5, 2469), dtype=np.float32))  # same size, other shape
    with pytest.raises(ValueError):
        tenzip.decompress(data, out=bytes(x.nbytes))  # read-only
    with pytest.raises(TypeError):
        tenzip.decompress(data, out=42)


def test_cli_containers_decode_to_bytes(tenzip_cli, tmp_path):
    import subprocess

    raw = weights(50_000).tobytes()
    (tmp_path / "w.bin").write_bytes(raw)
    subprocess.run([tenzip_cli, "compress", "-q", "--dtype", "fp32", str(tmp_path / "w.bin")], check=True)
    assert tenzip.decompress((tmp_path / "w.bin.tnz").read_bytes()) == raw
    # and the CLI reads what Python wrote
    (tmp_path / "p.tnz").write_bytes(tenzip.compress(np.frombuffer(raw, dtype=np.float32)))
    out = subprocess.run([tenzip_cli, "decompress", "-c", str(tmp_path / "p.tnz")], check=True, capture_output=True)
    assert out.stdout == raw


# ---------------------------------------------------------------- zero copy, GIL


def _peak_allocation(fn):
    """fn()'s result and the most memory Python had allocated while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_compress_reads_the_input_in_place():
    x = np.zeros(16 << 20, dtype=np.float32)  # 64 MiB that compress to almost nothing
    data, peak = _peak_allocation(lambda: tenzip.compress(x))
    assert peak < 4 << 20, f"compress allocated {peak} bytes: the input was copied"
    y, peak = _peak_allocation(lambda: tenzip.decompress(data))
    assert peak < x.nbytes + (4 << 20), f"decompress allocated {peak} bytes beyond its output"
    assert not y.any()


def _max_gap_during(fn) -> tuple:
    """Runs fn() while another thread ticks every millisecond; returns (longest pause between
    ticks during fn, fn's duration). Holding the GIL through fn would pause the ticker for all of it."""
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.02)
    t0 = time.perf_counter()
    fn()
    t1 = time.perf_counter()
    stop.set()
    t.join()
    inside = [t0] + [x for x in ticks if t0 <= x <= t1] + [t1]
    return max(b - a for a, b in zip(inside, inside[1:])), t1 - t0


def test_gil_is_released():
    x = weights(24 << 20, 11)  # ~100 MB: each call runs for a good fraction of a second
    data = tenzip.compress(x, level=1)
    for fn in (lambda: tenzip.compress(x, threads=1, level=1), lambda: tenzip.decompress(data, threads=1)):
        # Up to 3 tries: on a busy 2-core machine the OS alone can pause the ticker (seen in CI
        # while a fuzzer ran); a call that held the GIL would pause it in every try.
        for _ in range(3):
            gap, duration = _max_gap_during(fn)
            if gap < 0.5 * duration:
                break
        assert gap < 0.5 * duration, f"another thread paused {gap:.3f} s of a {duration:.3f} s call"


# ---------------------------------------------------------------- bad input


def test_corrupt_containers_raise():
    x = weights(200_000, 2)
    data = bytearray(tenzip.compress(x))
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress(bytes(data[:-5]))
    assert e.value.code in ("truncated_input", "corrupt_input") and isinstance(e.value, ValueError)
    for junk in (b"", b"\x00" * 100, b"hello", b"\x89TNZ\r\n\x1a\n" + b"\x00" * 200):
        with pytest.raises(tenzip.TenzipError):
            tenzip.decompress(junk)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress(bytes(bad))
    assert e.value.code in ("checksum_mismatch", "corrupt_input")
    with pytest.raises(TypeError):
        tenzip.decompress(12)


def test_random_damage_never_crashes(damage):
    x = weights(150_000, 4)
    data = tenzip.compress(x)
    rng = np.random.default_rng(9)
    outcomes = set()
    for i in range(300):
        bad = damage(data, rng, max_flips=3, truncate=i % 3 == 0)
        try:
            y = tenzip.decompress(bad)
        except tenzip.TenzipError as e:
            outcomes.add(e.code)
        else:  # the flip hit a byte nothing reads: the data must still be exact
            assert y.tobytes() == x.tobytes()
    assert outcomes  # and the damage was seen


def _container_with_metadata(meta) -> bytes:
    raw = weights(100).tobytes()
    text = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return _ext.compress(memoryview(raw), "fp32", 3, 1, 65536, text)


@pytest.mark.parametrize(
    "meta",
    [
        {"tenzip_array": 1, "kind": "numpy", "dtype": "float32", "shape": [101]},  # size mismatch
        {"tenzip_array": 1, "kind": "numpy", "dtype": "object", "shape": [50]},
        {"tenzip_array": 1, "kind": "numpy", "dtype": "O", "shape": [50]},
        {"tenzip_array": 1, "kind": "numpy", "dtype": "no_such_type", "shape": [100]},
        {"tenzip_array": 1, "kind": "torch", "dtype": "nn", "shape": [100]},
        {"tenzip_array": 1, "kind": "torch", "dtype": "__class__", "shape": [100]},
        {"tenzip_array": 1, "kind": "numpy", "dtype": "float32", "shape": [-100]},
        {"tenzip_array": 1, "kind": "numpy", "dtype": "float32", "shape": "100"},
        {"tenzip_array": 1, "kind": "numpy", "shape": [100]},
        {"tenzip_array": 1, "kind": "pandas", "dtype": "float32", "shape": [100]},
        {"tenzip_array": 1, "kind": "numpy", "descr": [["a", "|O"]], "shape": [50]},
        {"tenzip_array": 0, "kind": "numpy", "dtype": "float32", "shape": [100]},
        {"tenzip_array": "1", "kind": "numpy", "dtype": "float32", "shape": [100]},
        {"tenzip_array": 1, "kind": "numpy", "dtype": "float32", "shape": [10**30, 0]},
    ],
)
def test_bad_array_metadata(meta):
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress(_container_with_metadata(meta))
    assert e.value.code == "corrupt_input"


def test_future_array_metadata_version():
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress(_container_with_metadata({"tenzip_array": 2, "kind": "numpy", "dtype": "float32", "shape": [100]}))
    assert e.value.code == "unsupported_version"


def test_other_metadata_decodes_to_bytes():
    raw = weights(100).tobytes()
    for meta in (b"", b"not json", b'{"something": "else"}', b"\xff\xfe"):
        assert tenzip.decompress(_container_with_metadata(meta)) == raw
