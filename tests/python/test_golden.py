"""Golden array containers (tests/golden/array): files written by tenzip.compress must keep
decoding to the same array (doc/FORMAT.md section 13.1 pins their metadata), and compressing
that array must give the same file. Regenerate deliberately: tests/golden/array/regenerate.py."""

import hashlib
import json
from pathlib import Path

import pytest

import tenzip

np = pytest.importorskip("numpy")
ml_dtypes = pytest.importorskip("ml_dtypes")
torch = pytest.importorskip("torch")

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "array"
MANIFEST = json.loads((GOLDEN / "MANIFEST.json").read_text())
KINDS = {"numpy": np.ndarray, "torch": torch.Tensor, "bytes": bytes}


def raw_bytes(x) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, torch.Tensor):
        return x.reshape(-1).view(torch.uint8).numpy().tobytes()
    return x.tobytes()


def test_manifest_covers_every_kind_and_the_descr_form():
    assert {c["kind"] for c in MANIFEST} == set(KINDS)
    assert len(MANIFEST) >= 9
    metas = [tenzip.info((GOLDEN / c["file"]).read_bytes())["array"] for c in MANIFEST]
    assert any("descr" in m for m in metas)  # non-native byte order / structured: numpy's descr


@pytest.mark.parametrize("case", MANIFEST, ids=lambda c: c["file"])
def test_golden_array_decodes_to_the_same_array(case):
    data = (GOLDEN / case["file"]).read_bytes()
    x = tenzip.decompress(data, threads=2)
    assert type(x) is KINDS[case["kind"]]
    if case["kind"] != "bytes":
        assert str(x.dtype) == case["dtype"]
        assert list(x.shape) == case["shape"]
    else:
        assert [len(x)] == case["shape"]
    assert hashlib.sha256(raw_bytes(x)).hexdigest() == case["sha256"]
    # The writer is pinned too: the same array compresses to the same bytes.
    assert tenzip.compress(x, threads=1) == data, "format or codec output changed: regenerate deliberately"
