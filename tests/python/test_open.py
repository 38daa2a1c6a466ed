"""tenzip.open: a .tnz file read as the file it holds, with random access, by the readers
people use (np.load, torch.load), compared byte for byte with the original file."""

import io
import random

import pytest

import tenzip

np = pytest.importorskip("numpy")


def weights(shape, seed=0):
    a = (np.random.default_rng(seed).standard_normal(shape) * 0.02).astype(np.float32)
    a.view(np.uint32).reshape(-1)[:5] = [0x7FC00001, 0x80000000, 0x00000001, 0x7F800000, 0xFF800000]
    return a


@pytest.fixture
def npz(tmp_path):
    """A .npz (np.savez: stored members, one Fortran-order) and its .tnz."""
    src = tmp_path / "w.npz"
    arrays = {"emb": weights((300, 64)), "proj": weights((64, 48), 1).astype(np.float16),
              "t": np.asfortranarray(weights((40, 30), 2)), "ids": np.arange(1000)}
    np.savez(src, **arrays)
    tnz = tenzip.compress_file(src, progress=False)
    return src, tnz, arrays


def read_exactly(f, n):
    """f.read(n) until n bytes or the end: a raw file may return fewer bytes per call."""
    out = bytearray()
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            break
        out += b
    return bytes(out)


def test_np_load_reads_the_arrays_in_place(npz):
    src, tnz, arrays = npz
    with tenzip.open(tnz) as f:
        z = np.load(f)
        assert sorted(z.files) == sorted(arrays)
        for name, a in arrays.items():
            got = z[name]
            assert got.dtype == a.dtype and got.shape == a.shape, name
            assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(a).tobytes(), name


@pytest.mark.parametrize("buffering", [0, 1, 8192, 1 << 20])
def test_random_reads_match_the_file(npz, buffering):
    src, tnz, _ = npz
    data = src.read_bytes()
    rng = random.Random(buffering)
    with tenzip.open(tnz, buffering=buffering, threads=2) as f:
        assert f.seekable() and f.readable() and not f.writable()
        assert f.seek(0, io.SEEK_END) == len(data)
        assert f.read(10) == b""  # at the end
        for _ in range(400):
            off = rng.randrange(0, len(data) + 5)
            n = rng.choice([1, 7, 100, 4096, 70_000, 300_000, len(data)])
            f.seek(off)
            assert read_exactly(f, n) == data[off:off + n], (off, n)
            assert f.tell() == min(off + n, max(off, len(data)))
        f.seek(0)
        assert f.read() == data  # readall
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]
        f.seek(3)
        f.seek(4, io.SEEK_CUR)
        assert read_exactly(f, 2) == data[7:9]


def test_raw_container_and_bytes_input(tmp_path):
    data = weights(100_000, 5).tobytes() + b"tail"
    packed = tenzip.compress(data, dtype="fp32", level=3)
    with tenzip.open(packed, buffering=0) as f:  # the container's bytes, no file
        assert f.size == len(data)
        assert f.readall() == data
        f.seek(123_457)
        assert read_exactly(f, 10_000) == data[123_457:133_457]


def test_torch_load_reads_a_checkpoint_in_place(tmp_path):
    torch = pytest.importorskip("torch")
    sd = {"w": torch.from_numpy(weights((128, 64))), "b": torch.arange(10), "h": torch.randn(33).half()}
    src = tmp_path / "ckpt.pt"
    torch.save({"model": sd, "step": 3}, src)
    tnz = tenzip.compress_file(src, progress=False)
    with tenzip.open(tnz) as f:
        ck = torch.load(f, weights_only=True)
    assert ck["step"] == 3
    for k, t in sd.items():
        assert ck["model"][k].dtype == t.dtype
        assert ck["model"][k].numpy().tobytes() == t.numpy().tobytes(), k


def test_a_damaged_chunk_fails_only_the_reads_that_touch_it(tmp_path):
    data = weights(200_000, 7).tobytes()
    packed = bytearray(tenzip.compress(data, dtype="fp32", level=3))
    packed[len(packed) // 2] ^= 0x10  # inside some chunk's payload, far from the index
    with tenzip.open(bytes(packed), buffering=0) as f:  # opening reads the index only
        good = bad = 0
        for off in range(0, len(data), 65_536):
            f.seek(off)
            try:
                assert read_exactly(f, 100) == data[off:off + 100]
                good += 1
            except tenzip.TenzipError as e:
                assert e.code in ("checksum_mismatch", "corrupt_input"), e
                bad += 1
        assert good > 0 and bad > 0, (good, bad)


def test_refusals(tmp_path, npz):
    src, tnz, _ = npz
    with pytest.raises(ValueError, match="reading only"):
        tenzip.open(tnz, "wb")
    with pytest.raises(tenzip.TenzipError):
        tenzip.open(b"not a container at all")
    with pytest.raises(FileNotFoundError):
        tenzip.open(tmp_path / "missing.tnz")
    f = tenzip.open(tnz, buffering=0)
    f.close()
    with pytest.raises(ValueError, match="closed"):
        f.read(1)
    g = tenzip.open(tnz, buffering=0)
    with pytest.raises(ValueError, match="negative"):
        g.seek(-1)
    g.close()
    # A checkpoint delta needs its base: refused without one, with the way out named.
    step2, delta = make_delta(tmp_path, src)
    with pytest.raises(tenzip.TenzipError, match="base=OLD"):
        tenzip.open(delta)


def make_delta(tmp_path, src):
    """A second training step of the .npz at src, and its checkpoint delta against src."""
    step2 = tmp_path / "w2.npz"
    arrays = dict(np.load(src))
    arrays["emb"] = arrays["emb"] + np.float32(1e-3)
    arrays["proj"] = (arrays["proj"].view(np.uint16) ^ np.uint16(1)).view(np.float16)
    np.savez(step2, **arrays)
    delta = tenzip.compress_file(step2, tmp_path / "w2.delta.tnz", base=src, progress=False)
    return step2, delta


@pytest.mark.parametrize("base_as", ["path", "bytes"])
def test_a_delta_reads_against_its_base(tmp_path, npz, base_as):
    src, _, _ = npz
    step2, delta = make_delta(tmp_path, src)
    data = step2.read_bytes()
    base = src if base_as == "path" else src.read_bytes()
    with tenzip.open(delta, base=base) as f:
        z = np.load(f)
        want = np.load(step2)
        for name in want.files:
            assert np.ascontiguousarray(z[name]).tobytes() == np.ascontiguousarray(want[name]).tobytes(), name
    rng = random.Random(5)
    with tenzip.open(delta, base=base, buffering=0) as f:
        for _ in range(300):  # odd offsets and sizes cut the elements of the delta regions
            off = rng.randrange(0, len(data))
            n = rng.choice([1, 3, 5, 4097, 100_001])
            f.seek(off)
            assert read_exactly(f, n) == data[off:off + n], (off, n)
    # A different base is caught when a delta region is read.
    other = tmp_path / "other.npz"
    np.savez(other, **{k: (v + 1 if v.dtype.kind == "f" else v) for k, v in np.load(src).items()})
    with tenzip.open(delta, base=other) as f:
        with pytest.raises(tenzip.TenzipError, match="wrong base"):
            f.read()
