"""Hugging Face: load a compressed model folder, offline.

A folder compressed with ``tenzip compress DIR`` (or ``tenzip.compress_file(DIR)``) keeps its
config, tokenizer and other small files as they are and holds the weights as
``model.safetensors.tnz`` (or sharded ``model-0000N-of-0000M.safetensors.tnz`` with the index
``model.safetensors.index.json``). One line loads it::

    model = tenzip.hf.from_pretrained(AutoModel, "all-MiniLM-L6-v2.tnz")          # transformers
    st = tenzip.hf.sentence_transformer("all-MiniLM-L6-v2.tnz")                   # sentence-transformers

Config and tokenizer files are read from the folder by the libraries themselves; the weights are
decoded by :func:`tenzip.torch.load_file` (in parallel, straight into the tensors) and handed over
as a state dict:

- transformers: through its public ``from_pretrained(None, config=..., state_dict=...)``;
- sentence-transformers has no parameter for a state dict, so :func:`sentence_transformer`
  wraps ``transformers.PreTrainedModel.from_pretrained`` *for the duration of the constructor
  only*: a call for this very folder gets ``state_dict=`` (as above), every other call goes
  through unchanged, and the original method is restored on exit (also on errors). The wrapper
  is process-wide while it is installed: do not load the same folder from another thread at
  the same time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from typing import Dict, List, Optional

from ._errors import TenzipError

__all__ = ["weight_files", "load_state_dict", "from_pretrained", "sentence_transformer"]

SUFFIX = ".tnz"


def _pick(folder: str, name: str) -> Optional[str]:
    for candidate in (name + SUFFIX, name):
        p = os.path.join(folder, candidate)
        if os.path.isfile(p):
            return p
    return None


def weight_files(folder, subfolder: str = "") -> List[str]:
    """The safetensors weight files of a (compressed or plain) model folder: the shards named by
    ``model.safetensors.index.json`` or ``model.safetensors``, each as ``NAME.tnz`` if present,
    else ``NAME``."""
    d = os.path.join(os.fspath(folder), subfolder)
    index = _pick(d, "model.safetensors.index.json")
    if index is not None:
        if index.endswith(SUFFIX):
            raise TenzipError(f"{index}: the shard index should not be compressed", "invalid_argument")
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map", {})
        files = []
        for shard in dict.fromkeys(weight_map.values()):  # unique, in order
            p = _pick(d, shard)
            if p is None:
                raise FileNotFoundError(f"{d}: shard {shard} (or {shard}{SUFFIX}) named by the index is missing")
            files.append(p)
        return files
    p = _pick(d, "model.safetensors")
    if p is None:
        raise FileNotFoundError(f"{d}: no model.safetensors.tnz, model.safetensors or model.safetensors.index.json")
    return [p]


def load_state_dict(folder, device="cpu", *, subfolder: str = "", threads: Optional[int] = None) -> Dict[str, "object"]:
    """All weights of a model folder, as one state dict (see :func:`weight_files`)."""
    from .torch import load_file

    sd: Dict[str, object] = {}
    for p in weight_files(folder, subfolder):
        sd.update(load_file(p, device=device, threads=threads))
    return sd


def _concrete_class(model_class, config):
    """The PreTrainedModel subclass that an auto class (AutoModel, AutoModelForXxx) picks for
    `config`; found with the public ``from_config`` on the meta device (allocates nothing)."""
    import torch
    from transformers import PreTrainedModel

    if isinstance(model_class, type) and issubclass(model_class, PreTrainedModel):
        return model_class
    with torch.device("meta"):
        return type(model_class.from_config(config))


def from_pretrained(model_class, folder, *model_args, config=None, threads: Optional[int] = None, **kwargs):
    """``model_class.from_pretrained(folder)`` for a compressed folder: ``model_class`` is a
    transformers model class or auto class (``AutoModel``, ``AutoModelForCausalLM``, ...).

    The config is read from the folder (or pass ``config=``); the weights come from
    :func:`load_state_dict`. Other keyword arguments (``dtype=``, ``attn_implementation=``, ...)
    go to ``from_pretrained``; since a config is then given, transformers passes arguments it does
    not know to the model's ``__init__`` rather than to the config: change config attributes on
    the config itself."""
    from transformers import AutoConfig, PretrainedConfig

    folder = os.fspath(folder)
    subfolder = kwargs.pop("subfolder", "")
    where = os.path.join(folder, subfolder) if subfolder else folder
    if not isinstance(config, PretrainedConfig):
        config = AutoConfig.from_pretrained(where if config is None else config)
    cls = _concrete_class(model_class, config)
    state_dict = load_state_dict(folder, subfolder=subfolder, threads=threads)
    model = cls.from_pretrained(None, *model_args, config=config, state_dict=state_dict, **kwargs)
    model.config._name_or_path = where
    model.name_or_path = where
    return model


@contextlib.contextmanager
def state_dict_for(folder, state_dict):
    """Within the block, ``transformers.PreTrainedModel.from_pretrained(folder, ...)`` (this
    folder only; any model class) loads ``state_dict`` instead of looking for weight files.
    Yields a list that records the classes loaded this way. See the module's docstring."""
    from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

    target = os.path.realpath(os.fspath(folder))
    original = PreTrainedModel.__dict__["from_pretrained"]
    func = original.__func__
    used: list = []

    @functools.wraps(func)
    def from_pretrained(cls, pretrained_model_name_or_path=None, *args, **kw):
        p = pretrained_model_name_or_path
        if (
            isinstance(p, (str, os.PathLike))
            and kw.get("state_dict") is None
            and kw.get("gguf_file") is None
            and os.path.realpath(os.path.join(os.fspath(p), kw.get("subfolder") or "")) == target
        ):
            kw.pop("subfolder", None)
            cfg = kw.pop("config", None)
            if not isinstance(cfg, PretrainedConfig):
                cfg = AutoConfig.from_pretrained(target if cfg is None else cfg)
            used.append(cls)
            model = func(cls, None, *args, config=cfg, state_dict=state_dict, **kw)
            model.config._name_or_path = os.fspath(p)
            model.name_or_path = os.fspath(p)
            return model
        return func(cls, p, *args, **kw)

    PreTrainedModel.from_pretrained = classmethod(from_pretrained)
    try:
        yield used
    finally:
        PreTrainedModel.from_pretrained = original


def sentence_transformer(folder, *args, threads: Optional[int] = None, **kwargs):
    """``SentenceTransformer(folder)`` for a compressed folder (offline: ``local_files_only``
    defaults to True). Modules are built by sentence-transformers from the folder's
    ``modules.json`` and configs; the transformer's weights come from :func:`load_state_dict`."""
    from sentence_transformers import SentenceTransformer

    folder = os.fspath(folder)
    state_dict = load_state_dict(folder, threads=threads)
    kwargs.setdefault("local_files_only", True)
    with state_dict_for(folder, state_dict) as used:
        model = SentenceTransformer(folder, *args, **kwargs)
    if not used:
        raise TenzipError(f"{folder}: sentence-transformers loaded no transformers model from it", "invalid_argument")
    return model
