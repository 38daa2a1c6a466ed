"""tenzip.compress / tenzip.decompress for numpy arrays, torch tensors and plain buffers.

The container is an ordinary tenzip container (doc/FORMAT.md) whose metadata is a small JSON
object, ``{"tenzip_array":1,"kind":...,"dtype":...,"shape":[...]}`` (doc/FORMAT.md §13.1), from
which decompress restores the array's type, dtype and shape. numpy and torch are never imported
here: an object is a tensor only if its module is already loaded.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Optional

from . import _ext
from ._errors import TenzipError

CHUNK_ELEMS = 65536
ARRAY_METADATA_VERSION = 1

# numpy / torch / ml_dtypes dtype name -> codec dtype. Everything else is coded as bytes.
CODEC_DTYPES = {
    "float32": "fp32",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float8_e4m3fn": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
}

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("tenzip stores arrays little-endian and supports little-endian hosts only")


def _level(level: Optional[int]) -> int:
    if level is None:
        return 3
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"level must be an int in 1..9 or None, not {type(level).__name__}")
    return level


def _threads(threads: Optional[int]) -> Optional[int]:
    """None (or 0) means every hardware thread."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be a non-negative int or None, not {type(threads).__name__}")
    if threads < 0:
        raise TenzipError(f"threads must be >= 0 (0 or None: all cores), got {threads}", "invalid_argument")
    return threads


def _codec_dtype(dtype: Optional[str], default: str) -> str:
    if dtype is None:
        return default
    name = _ext.parse_dtype(str(dtype))
    if name is None:
        raise TenzipError(f"unknown dtype '{dtype}' (bf16, fp16, fp32, fp8_e4m3, fp8_e5m2, bytes)", "invalid_argument")
    return name


# ---------------------------------------------------------------- inputs


def _torch_module():
    return sys.modules.get("torch")


def _numpy_module():
    return sys.modules.get("numpy")


def _is_torch_tensor(x: Any) -> bool:
    t = _torch_module()
    return t is not None and isinstance(x, t.Tensor)


def _is_numpy_array(x: Any) -> bool:
    np = _numpy_module()
    return np is not None and isinstance(x, np.ndarray)


def torch_dtype_name(dtype) -> str:
    return str(dtype).rpartition(".")[2]


def torch_bytes(t):
    """A contiguous CPU torch tensor -> a 1-D uint8 view of its memory (no copy)."""
    import torch

    return t.reshape(-1).view(torch.uint8)


def prepare_torch(x):
    """Detached, conj/neg resolved, CPU, contiguous tensor (copies only when one of these needs it)."""
    import torch

    if x.layout != torch.strided:
        raise TypeError(f"tenzip: cannot compress a {x.layout} tensor; make it dense first (.to_dense())")
    if x.is_quantized:
        raise TypeError("tenzip: quantized torch tensors are not supported; pass .int_repr() and the scales")
    t = x.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    return t


def _numpy_dtype_desc(dt) -> dict:
    """How the metadata names a numpy dtype: {"dtype": name} when the name gives it back
    (float32, int64, bool, bfloat16, float8_e4m3fn, ...), else {"descr": numpy's array-protocol
    descr} (non-native byte order, strings, datetimes, structured dtypes)."""
    import numpy as np

    if dt.hasobject:
        raise TypeError("tenzip: arrays of Python objects cannot be compressed")
    mod = dt.type.__module__
    if mod.startswith("ml_dtypes"):
        return {"dtype": dt.name}
    if dt.names is None and dt.isnative and dt.kind in "biufc":
        try:
            if np.dtype(dt.name) == dt:
                return {"dtype": dt.name}
        except TypeError:
            pass
    return {"descr": np.lib.format.dtype_to_descr(dt)}


def _prepare(x: Any, what: str = "compress"):
    """-> (1-D uint8 view of x's memory, metadata dict, default codec dtype name)."""
    if _is_torch_tensor(x):
        t = prepare_torch(x)
        name = torch_dtype_name(t.dtype)
        meta = {"tenzip_array": ARRAY_METADATA_VERSION, "kind": "torch", "dtype": name, "shape": list(t.shape)}
        return torch_bytes(t), meta, CODEC_DTYPES.get(name, "bytes")
    np = _numpy_module()
    if np is not None and not isinstance(x, (bytes, bytearray, memoryview)) and not _is_numpy_array(x):
        # Other array libraries: through numpy's zero-copy protocols.
        if hasattr(x, "__array_interface__") or hasattr(x, "__array_struct__"):
            x = np.asarray(x)
        elif hasattr(x, "__dlpack__"):
            x = np.from_dlpack(x)
    if _is_numpy_array(x):
        a = np.asarray(x)  # a subclass (np.matrix, ...) as the plain array it holds
        desc = _numpy_dtype_desc(a.dtype)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        meta = {"tenzip_array": ARRAY_METADATA_VERSION, "kind": "numpy", **desc, "shape": list(a.shape)}
        codec = CODEC_DTYPES.get(desc.get("dtype", ""), "bytes")
        return a.reshape(-1).view(np.uint8), meta, codec
    try:
        mv = memoryview(x)
    except TypeError:
        raise TypeError(
            f"tenzip.{what}: expected a numpy array, a torch tensor or a bytes-like object, not {type(x).__name__}"
        ) from None
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    codec = "bytes"
    fmt = mv.format.lstrip("@=<")
    if fmt == "f" and mv.itemsize == 4:
        codec = "fp32"
    elif fmt == "e" and mv.itemsize == 2:
        codec = "fp16"
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B") if mv.ndim != 0 else memoryview(mv.tobytes())
    meta = {"tenzip_array": ARRAY_METADATA_VERSION, "kind": "bytes", "dtype": "uint8", "shape": [mv.nbytes]}
    return mv, meta, codec


def as_input_bytes(data: Any, what: str = "data"):
    """Any bytes-like object (bytes, bytearray, memoryview, mmap, uint8 numpy array or torch
    tensor) -> a 1-D uint8 view without copying (a non-contiguous buffer is copied once)."""
    if _is_torch_tensor(data):
        return torch_bytes(prepare_torch(data))
    if _is_numpy_array(data):
        np = _numpy_module()
        a = data if data.flags.c_contiguous else np.ascontiguousarray(data)
        return a.reshape(-1).view(np.uint8)
    return byte_view(data, f"tenzip: {what} must be a bytes-like object")


def byte_view(data: Any, expected: str) -> memoryview:
    """A 1-D uint8 memoryview of a buffer-protocol object, without copying unless it is not
    contiguous; TypeError "<expected>, not <type>" for anything else."""
    try:
        mv = memoryview(data)
    except TypeError:
        raise TypeError(f"{expected}, not {type(data).__name__}") from None
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B") if mv.ndim != 0 else memoryview(mv.tobytes())
    return mv


# ---------------------------------------------------------------- compress


def compress(x: Any, threads: Optional[int] = None, level: Optional[int] = None, *, dtype: Optional[str] = None,
             lanes: bool = False) -> bytes:
    """Compress a numpy array, a torch tensor (any dtype, bfloat16 and float8 included) or any
    bytes-like object into a tenzip container (``bytes``).

    The input is read in place (C-contiguous CPU memory is never copied; a non-contiguous array or
    a GPU tensor is copied once). Float dtypes go through the float codec (float32, float16,
    bfloat16, float8_e4m3fn, float8_e5m2); others are stored as bytes. ``dtype`` overrides the
    codec dtype (for example ``dtype="bf16"`` for raw bfloat16 bytes). ``threads``: None = all
    cores. ``level``: 1 (fastest) .. 9 (smallest), default 3; levels 1-2 never try LZ (zstd over
    repeated rows or values), so they compress faster and 1-2% larger. ``lanes``: code exponents for
    AVX-512 VBMI decoders (``tenzip compress --lanes``: faster decompression on such CPUs, slower
    elsewhere; format version 3). The GIL is released while compressing. :func:`decompress`
    restores type, dtype and shape.
    """
    view, meta, codec = _prepare(x)
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    return _ext.compress(view, _codec_dtype(dtype, codec), _level(level), _threads(threads), CHUNK_ELEMS, meta_bytes,
                         lanes=bool(lanes))


# ---------------------------------------------------------------- decompress


def parse_array_metadata(raw: bytes) -> Optional[dict]:
    """The array metadata of a container, or None when it has none (a model file, a CLI buffer)."""
    if not raw or not raw.lstrip().startswith(b"{"):
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or "tenzip_array" not in doc:
        return None
    ver = doc["tenzip_array"]
    if isinstance(ver, bool) or not isinstance(ver, int) or ver < 1:
        raise TenzipError("array metadata: 'tenzip_array' must be a positive integer", "corrupt_input")
    if ver > ARRAY_METADATA_VERSION:
        raise TenzipError(
            f"array metadata version {ver} is newer than this tenzip understands ({ARRAY_METADATA_VERSION})",
            "unsupported_version",
        )
    shape = doc.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise TenzipError("array metadata: 'shape' must be a list of non-negative integers", "corrupt_input")
    if doc.get("kind") not in ("numpy", "torch", "bytes"):
        raise TenzipError(f"array metadata: unknown kind {doc.get('kind')!r}", "corrupt_input")
    if not isinstance(doc.get("dtype"), str) and "descr" not in doc:
        raise TenzipError("array metadata: 'dtype' or 'descr' is required", "corrupt_input")
    return doc


def _numpy_dtype(meta: dict):
    import numpy as np

    try:
        if "descr" in meta and not isinstance(meta.get("dtype"), str):
            d = meta["descr"]
            if isinstance(d, list):
                d = [tuple(f) if isinstance(f, list) else f for f in d]
            dt = np.lib.format.descr_to_dtype(d)
        else:
            name = meta["dtype"]
            try:
                dt = np.dtype(name)
            except TypeError:
                try:
                    import ml_dtypes
                except ImportError:
                    raise TypeError(f"tenzip: dtype {name} needs the ml_dtypes package") from None
                t = getattr(ml_dtypes, name, None)
                if t is None:
                    raise TenzipError(f"array metadata: unknown dtype {name!r}", "corrupt_input") from None
                dt = np.dtype(t)
    except (TypeError, ValueError, KeyError) as e:
        if isinstance(e, TenzipError) or "ml_dtypes" in str(e):
            raise
        raise TenzipError(f"array metadata: bad dtype ({e})", "corrupt_input") from None
    if dt.hasobject or dt.itemsize == 0:
        raise TenzipError(f"array metadata: dtype {dt} cannot hold decoded bytes", "corrupt_input")
    return dt


def _torch_dtype(name: str):
    import torch

    dt = getattr(torch, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if not isinstance(dt, torch.dtype):
        raise TenzipError(f"array metadata: {name!r} is not a torch dtype known to torch {torch.__version__}", "corrupt_input")
    return dt


def _itemsize(meta: dict) -> int:
    if meta["kind"] == "torch":
        import torch

        dt = _torch_dtype(meta["dtype"])
        return torch.empty((), dtype=dt).element_size()
    if meta["kind"] == "bytes":
        return 1
    return _numpy_dtype(meta).itemsize


def _output_view(out: Any):
    """out -> (uint8 view to decode into, (dtype name, shape) or None, finish callable)."""
    if _is_torch_tensor(out):
        if out.device.type != "cpu":
            import torch

            tmp = torch.empty(out.shape, dtype=out.dtype)
            return torch_bytes(tmp), (torch_dtype_name(out.dtype), list(out.shape)), lambda: out.copy_(tmp)
        if not out.is_contiguous():
            raise ValueError("tenzip.decompress: out must be contiguous")
        return torch_bytes(out.detach()), (torch_dtype_name(out.dtype), list(out.shape)), None
    if _is_numpy_array(out):
        np = _numpy_module()
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("tenzip.decompress: out must be a writable C-contiguous array")
        return out.reshape(-1).view(np.uint8), (out.dtype.name, list(out.shape)), None
    try:
        mv = memoryview(out)
    except TypeError:
        raise TypeError(f"tenzip.decompress: out must be an array or a writable buffer, not {type(out).__name__}") from None
    if mv.readonly or not mv.c_contiguous:
        raise ValueError("tenzip.decompress: out must be a writable C-contiguous buffer")
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv, None, None


def _allocate(meta: dict):
    """A new array of the recorded kind, dtype and shape -> (array, uint8 view of it)."""
    kind = meta["kind"]
    if kind == "torch":
        try:
            import torch
        except ImportError:
            raise ImportError(
                "tenzip.decompress: this array was a torch tensor and torch is not installed; "
                "pass out=<a numpy array or bytearray> to decode it anyway"
            ) from None
        t = torch.empty(meta["shape"], dtype=_torch_dtype(meta["dtype"]))
        return t, torch_bytes(t)
    import numpy as np

    a = np.empty(meta["shape"], dtype=_numpy_dtype(meta))
    return a, a.reshape(-1).view(np.uint8)


def decompress(data: Any, out: Any = None, *, threads: Optional[int] = None):
    """Decompress a container made by :func:`compress` (or any tenzip container).

    Returns an array of the type, dtype and shape that was compressed: a numpy array, a torch
    tensor (on the CPU), or ``bytes`` for plain buffers and for containers without array metadata
    (buffers compressed by the ``tenzip`` command, model files: the original file's bytes).
    With ``out`` (a numpy array, torch tensor or writable buffer of exactly the decoded size, and
    the same dtype and shape for arrays) the data is decoded straight into it and ``out`` is
    returned. ``data`` is any bytes-like object (bytes, mmap, ...), read in place.
    Every chunk is verified against its checksum; bad data raises :class:`TenzipError`.
    """
    src = as_input_bytes(data)
    threads = _threads(threads)
    info = _ext.container_info(src)
    raw_meta = info["metadata"]
    meta = parse_array_metadata(raw_meta)
    size = info["decoded_size"]
    if meta is None:
        if _ext.model_metadata_needs_base(raw_meta):
            raise TenzipError(
                "this container is a checkpoint delta: decompress it with tenzip.decompress_file(..., base=OLD)",
                "invalid_argument",
            )
        if out is None:
            return _ext.decompress_bytes(src, threads)
        view, _, finish = _output_view(out)
        if view.nbytes != size:
            raise ValueError(f"tenzip.decompress: out holds {view.nbytes} bytes, the data decodes to {size}")
        _ext.decompress_into(src, view, threads)
        if finish:
            finish()
        return out

    expected = math.prod(meta["shape"]) * _itemsize(meta)
    if expected != size:
        raise TenzipError(
            f"array metadata: shape {meta['shape']} of {meta.get('dtype', meta.get('descr'))} is {expected} bytes, "
            f"the container decodes to {size}",
            "corrupt_input",
        )
    if out is None:
        if meta["kind"] == "bytes":
            return _ext.decompress_bytes(src, threads)
        out, view = _allocate(meta)
        _ext.decompress_into(src, view, threads)
        return out
    view, typed, finish = _output_view(out)
    if view.nbytes != size:
        raise ValueError(f"tenzip.decompress: out holds {view.nbytes} bytes, the data decodes to {size}")
    if typed is not None and meta["kind"] != "bytes":
        name, shape = typed
        want = meta.get("dtype") if isinstance(meta.get("dtype"), str) else None
        if want is not None and name != want:
            raise ValueError(f"tenzip.decompress: out has dtype {name}, the data is {want}")
        if shape != meta["shape"]:
            raise ValueError(f"tenzip.decompress: out has shape {shape}, the data has {meta['shape']}")
    _ext.decompress_into(src, view, threads)
    if finish:
        finish()
    return out


def info(data: Any) -> dict:
    """What a container holds, without decoding it: ``decoded_size``, ``container_size``,
    ``n_chunks``, ``n_segments``, ``format_version``, and ``array`` (the array metadata, or None)."""
    d = _ext.container_info(as_input_bytes(data))
    raw = d.pop("metadata")
    d["array"] = parse_array_metadata(raw)
    return d
