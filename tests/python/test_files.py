"""tenzip.compress_file / decompress_file: the CLI's file and folder operations, same outputs."""

import filecmp
import os
import subprocess

import pytest

import tenzip

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
import tenzip.torch as tt  # noqa: E402


def weights(n, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)


def make_folder(root, seed=0):
    """A small model folder: weights, a sub-folder, text files, an empty file."""
    os.makedirs(root / "sub" / "deeper")
    tt.save_file({"w": torch.from_numpy(weights(50_000, seed)), "b": torch.arange(10)}, root / "model.safetensors.tmp")
    tenzip.decompress_file(root / "model.safetensors.tmp", root / "model.safetensors", progress=False)
    os.unlink(root / "model.safetensors.tmp")
    (root / "config.json").write_text('{"a": 1}\n')
    (root / "sub" / "vocab.txt").write_text("a\nb\n")
    (root / "sub" / "deeper" / "raw.bin").write_bytes(weights(3000, seed + 1).tobytes())
    tt.save_file({"t": torch.arange(4, dtype=torch.float32)}, root / "sub" / "tiny.safetensors")  # grows if coded
    (root / "empty.txt").write_bytes(b"")
    os.chmod(root / "config.json", 0o640)
    return root


def trees_equal(a, b):
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files, cmp.report()
    for sub in cmp.common_dirs:
        trees_equal(os.path.join(a, sub), os.path.join(b, sub))
    for f in cmp.common_files:
        with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
            assert x.read() == y.read(), f


def test_file_roundtrip(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(weights(100_000).tobytes())
    os.chmod(p, 0o604)
    out = tenzip.compress_file(p, progress=False)
    assert out == str(p) + ".tnz" and os.path.getsize(out) < p.stat().st_size * 1.01
    assert os.stat(out).st_mode & 0o777 == 0o604  # permissions follow the input, as in the CLI
    with pytest.raises(FileExistsError):
        tenzip.compress_file(p, progress=False)
    tenzip.compress_file(p, force=True, progress=False)
    back = tenzip.decompress_file(out, tmp_path / "back.bin", progress=False)
    assert open(back, "rb").read() == p.read_bytes()
    # a raw buffer with a dtype is smaller than as bytes
    raw = tenzip.compress_file(p, tmp_path / "fp32.tnz", dtype="fp32", progress=False)
    assert os.path.getsize(raw) < os.path.getsize(out)
    assert tenzip.decompress(open(raw, "rb").read()) == p.read_bytes()
    assert tenzip.decompress_file(raw, tmp_path / "fp32.bin", progress=True) and (tmp_path / "fp32.bin").read_bytes() == p.read_bytes()


def test_file_lanes_matches_cli(tmp_path, tenzip_cli):
    p = tmp_path / "w.bin"
    p.write_bytes(weights(100_000).tobytes())
    py = tenzip.compress_file(p, tmp_path / "py.tnz", dtype="fp32", lanes=True, progress=False)
    cli = tmp_path / "cli.tnz"
    subprocess.run([tenzip_cli, "compress", "-q", "--dtype", "fp32", "--lanes", "-o", str(cli), str(p)], check=True)
    assert open(py, "rb").read() == cli.read_bytes()
    assert tenzip.info(cli.read_bytes())["format_version"] == 3
    assert tenzip.decompress(cli.read_bytes()) == p.read_bytes()


def test_file_matches_cli(tmp_path, tenzip_cli):
    root = make_folder(tmp_path / "m")
    for level in (1, 3):
        py = tenzip.compress_file(root / "model.safetensors", tmp_path / f"py{level}.tnz", level=level, progress=False)
        cli = tmp_path / f"cli{level}.tnz"
        subprocess.run([tenzip_cli, "compress", "-q", "-l", str(level), "-o", str(cli), str(root / "model.safetensors")], check=True)
        assert open(py, "rb").read() == cli.read_bytes()
    subprocess.run([tenzip_cli, "decompress", "-q", "-o", str(tmp_path / "d.safetensors"), str(tmp_path / "py3.tnz")], check=True)
    assert (tmp_path / "d.safetensors").read_bytes() == (root / "model.safetensors").read_bytes()


def test_folder_roundtrip_and_cli(tmp_path, tenzip_cli):
    root = make_folder(tmp_path / "model")
    out = tenzip.compress_file(root, progress=False)
    assert out == str(root) + ".tnz"
    names = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    # tiny.safetensors would grow if coded: copied as it is, by both
    assert names == ["config.json", "empty.txt", "model.safetensors.tnz", "sub/deeper/raw.bin.tnz", "sub/tiny.safetensors",
                     "sub/vocab.txt"]
    assert os.stat(os.path.join(out, "config.json")).st_mode & 0o777 == 0o640
    # the same folder as `tenzip compress DIR` (with parallel workers)
    cli = tmp_path / "cli.tnz"
    subprocess.run([tenzip_cli, "compress", "-q", "-T", "2", "-o", str(cli), str(root)], check=True)
    trees_equal(out, cli)
    # and back, both ways
    back = tenzip.decompress_file(out, tmp_path / "back", progress=False)
    trees_equal(root, back)
    subprocess.run([tenzip_cli, "decompress", "-q", "-T", "2", "-o", str(tmp_path / "cliback"), str(cli)], check=True)
    trees_equal(root, tmp_path / "cliback")
    with pytest.raises(FileExistsError):
        tenzip.compress_file(root, progress=False)
    tenzip.compress_file(root, threads=1, force=True, progress=True)
    trees_equal(out, cli)


def test_folder_failures_leave_nothing(tmp_path):
    root = make_folder(tmp_path / "model")
    packed = tenzip.compress_file(root, progress=False)
    damaged = os.path.join(packed, "model.safetensors.tnz")
    data = bytearray(open(damaged, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(damaged, "wb").write(bytes(data))
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress_file(packed, tmp_path / "out", progress=False)
    assert "model.safetensors.tnz" in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["model", "model.tnz"]
    with pytest.raises(tenzip.TenzipError):
        tenzip.decompress_file(damaged, tmp_path / "one", progress=False)
    assert not (tmp_path / "one").exists() and not [p for p in os.listdir(tmp_path) if ".tmp" in p]


def test_symlinks(tmp_path):
    root = make_folder(tmp_path / "model")
    blob = tmp_path / "blob"
    blob.write_bytes(weights(2000).tobytes())
    os.symlink(blob, root / "linked.bin")  # followed: a Hugging Face snapshot links into its blob store
    out = tenzip.compress_file(root, progress=False)
    assert os.path.isfile(os.path.join(out, "linked.bin.tnz")) and not os.path.islink(os.path.join(out, "linked.bin.tnz"))
    os.symlink(tmp_path, root / "dirlink")
    with pytest.raises(OSError):
        tenzip.compress_file(root, tmp_path / "x.tnz", progress=False)
    assert not (tmp_path / "x.tnz").exists()


def test_checkpoint_delta(tmp_path):
    old = {"w": torch.from_numpy(weights(80_000, 1)), "b": torch.arange(100)}
    new = {"w": old["w"] + torch.from_numpy(weights(80_000, 2)) * 1e-3, "b": old["b"]}
    tt.save_file(old, tmp_path / "old.tnz")
    tt.save_file(new, tmp_path / "new.tnz")
    old_p = tenzip.decompress_file(tmp_path / "old.tnz", tmp_path / "old.safetensors", progress=False)
    new_p = tenzip.decompress_file(tmp_path / "new.tnz", tmp_path / "new.safetensors", progress=False)
    delta = tenzip.compress_file(new_p, tmp_path / "delta.tnz", base=old_p, progress=False)
    with pytest.raises(tenzip.TenzipError) as e:
        tenzip.decompress_file(delta, tmp_path / "x", progress=False)
    assert "base" in str(e.value)
    with pytest.raises(tenzip.TenzipError):
        tenzip.decompress(open(delta, "rb").read())
    with pytest.raises(tenzip.TenzipError):
        tt.load_file(delta)
    back = tenzip.decompress_file(delta, tmp_path / "back.safetensors", base=old_p, progress=False)
    assert open(back, "rb").read() == open(new_p, "rb").read()
    with pytest.raises(tenzip.TenzipError):  # the wrong base is caught
        tenzip.decompress_file(delta, tmp_path / "y", base=new_p, progress=False)


def test_options_are_checked(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"\x00" * 100)
    for kwargs in ({"level": 0}, {"level": 10}, {"format": "zip"}, {"dtype": "fp64"}, {"dtype": "fp32", "format": "raw"}):
        with pytest.raises(tenzip.TenzipError) as e:
            tenzip.compress_file(p, tmp_path / "o.tnz", progress=False, **kwargs)
        assert e.value.code == "invalid_argument", kwargs
    with pytest.raises(tenzip.TenzipError):
        tenzip.decompress_file(p, progress=False)  # no .tnz suffix and no dst
    with pytest.raises(tenzip.TenzipError):
        tenzip.compress_file(p, p, force=True, progress=False)  # the output is the input
    with pytest.raises(FileNotFoundError):
        tenzip.compress_file(tmp_path / "missing", progress=False)
    d = tmp_path / "d"
    d.mkdir()
    with pytest.raises(tenzip.TenzipError):
        tenzip.compress_file(d, dtype="bf16", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["d", "w.bin"]
