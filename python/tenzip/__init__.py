"""tenzip: lossless compression of neural-network weights (Python bindings of the C++ core).

Arrays and buffers::

    data = tenzip.compress(x)            # numpy array, torch tensor (any dtype) or bytes-like
    y = tenzip.decompress(data)          # same type, dtype and shape, bit for bit

Model files (``tenzip.torch`` has ``safetensors.torch``'s ``save_file``, ``load_file``,
``safe_open``), Hugging Face folders (``tenzip.hf``) and the CLI's file and folder operations
(``compress_file``, ``decompress_file``). ``tenzip.open(path)`` reads a .tnz file as the file it
holds, decoding on demand: ``np.load(tenzip.open("w.npz.tnz"))``,
``torch.load(tenzip.open("model.pt.tnz"))``. ``import tenzip`` needs neither numpy nor torch.
"""

from __future__ import annotations

from . import _ext
from ._arrays import compress, decompress, info
from ._errors import TenzipError
from ._files import compress_file, decompress_file
from ._open import TnzFile, open  # noqa: A004 (tenzip.open, as gzip.open)

__version__ = _ext.version
FORMAT_VERSION = _ext.format_version

__all__ = [
    "TenzipError",
    "compress",
    "decompress",
    "info",
    "compress_file",
    "decompress_file",
    "open",
    "TnzFile",
    "FORMAT_VERSION",
    "__version__",
]


def __getattr__(name: str):
    # tenzip.torch and tenzip.hf import torch / transformers: only when first used.
    if name in ("torch", "hf"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tenzip' has no attribute {name!r}")
