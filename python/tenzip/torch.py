"""``safetensors.torch``-compatible save and load for tenzip containers.

    import tenzip.torch
    tenzip.torch.save_file(model.state_dict(), "model.safetensors.tnz", metadata={"format": "pt"})
    state = tenzip.torch.load_file("model.safetensors.tnz")        # or a plain .safetensors
    with tenzip.torch.safe_open("model.safetensors.tnz", framework="pt") as f:
        w = f.get_tensor("embeddings.word_embeddings.weight")      # decodes only this tensor

``save_file`` writes a ``.tnz`` container of the safetensors file that ``safetensors.torch.save_file``
would write for the same arguments (byte for byte): ``tenzip decompress`` of it gives a normal
``.safetensors``. ``load_file`` and ``safe_open`` read both ``.tnz`` containers of safetensors
files and plain ``.safetensors`` files; each tensor is decoded by the C++ core straight into the
memory of a new torch tensor (no intermediate copy, GIL released, all cores by default).
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Iterable, List, Optional, Union

import torch

from . import _ext
from ._arrays import CHUNK_ELEMS, _level, _numpy_dtype, _threads, byte_view, torch_bytes, torch_dtype_name
from ._errors import TenzipError
from ._files import _Mapped
from ._files import write_atomic
from ._safetensors import CODES, MAX_HEADER_SIZE, NAME_TO_CODE, Entry, build_header, file_shape, read_metadata, torch_shape

__all__ = ["save_file", "save", "load_file", "safe_open"]

TNZ_MAGIC = b"\x89TNZ\r\n\x1a\n"

PathLike = Union[str, "os.PathLike[str]"]


# ---------------------------------------------------------------- save


def _check_tensors(tensors) -> None:
    """The checks safetensors.torch.save_file makes, with the same exception types."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    sparse = []
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"tensor names must be str, got {type(k).__name__}")
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected torch.Tensor but received {type(v)}")
        if v.layout != torch.strided:
            sparse.append(k)
    if sparse:
        raise ValueError(f"You are trying to save sparse tensors: `{sparse}`, which is not supported; use .to_dense()")
    # Tensors whose memory overlaps would be stored twice and load as separate tensors.
    by_storage: Dict[tuple, list] = {}
    for k, v in tensors.items():
        if v.device.type == "meta":
            raise ValueError(f"tensor `{k}` is on the meta device and has no data")
        st = v.untyped_storage()
        if st.data_ptr() != 0 and st.nbytes() != 0 and v.numel() > 0:
            start = v.data_ptr()
            by_storage.setdefault((v.device, st.data_ptr(), st.nbytes()), []).append(
                (start, start + v.numel() * v.element_size(), k)
            )
    failing = []
    for areas in by_storage.values():
        areas.sort()
        group, last_stop = {areas[0][2]}, areas[0][1]
        for start, stop, name in areas[1:]:
            if start < last_stop:
                group.add(name)
            else:
                if len(group) > 1:
                    failing.append(group)
                group = {name}
            last_stop = max(last_stop, stop)
        if len(group) > 1:
            failing.append(group)
    if failing:
        raise RuntimeError(
            f"Some tensors share memory, this will lead to duplicate memory on disk and potential differences "
            f"when loading them again: {failing}. Save copies (.clone()) or only one of them."
        )
    for k, v in tensors.items():
        if not v.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{k}` which is not allowed; call .contiguous() first."
            )


def _check_metadata(metadata) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata must be a dict mapping str to str")


def save(
    tensors: Dict[str, "torch.Tensor"],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    lanes: bool = False,
) -> bytes:
    """Like :func:`save_file`, but returns the container's bytes."""
    buf = _safetensors_bytes(tensors, metadata)
    res = _ext.compress_model_to_fd(
        buf, -1, _level(level), _threads(threads), CHUNK_ELEMS, "safetensors", None, "", None, lanes=bool(lanes)
    )
    return res["data"]


def _safetensors_bytes(tensors, metadata) -> "torch.Tensor":
    _check_tensors(tensors)
    _check_metadata(metadata)
    specs = []
    for name, t in tensors.items():
        dt = torch_dtype_name(t.dtype)
        code = NAME_TO_CODE.get(dt)
        if code is None:
            raise TypeError(f"tensor `{name}`: dtype torch.{dt} cannot be stored in a safetensors file")
        specs.append((name, code, file_shape(code, tuple(t.shape)), t.numel() * t.element_size()))
    header, entries = build_header(specs, metadata)
    total = len(header) + (entries[-1].end if entries else 0)
    buf = torch.empty(total, dtype=torch.uint8)  # not zero-filled: every byte is written below
    buf[: len(header)] = torch.frombuffer(bytearray(header), dtype=torch.uint8)
    base = len(header)
    for e in entries:
        if e.end > e.begin:
            t = tensors[e.name].detach().resolve_conj().resolve_neg()
            buf[base + e.begin : base + e.end].copy_(t.reshape(-1).view(torch.uint8))
    return buf


def save_file(
    tensors: Dict[str, "torch.Tensor"],
    filename: PathLike,
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    lanes: bool = False,
) -> None:
    """Save `tensors` as a tenzip container of a safetensors file (same arguments and checks as
    ``safetensors.torch.save_file``: contiguous dense tensors that share no memory; metadata maps
    str to str). The file is written to a temporary name and renamed into place when complete.
    ``level`` 1..9 (default 3), ``threads`` (default: all cores) and ``lanes`` (exponents laid out
    for AVX-512 VBMI decoders, ``tenzip compress --lanes``) as for :func:`tenzip.compress`.
    The tensors' bytes are gathered into one buffer first (the C++ core compresses a whole file).
    """
    buf = _safetensors_bytes(tensors, metadata)
    lvl, thr = _level(level), _threads(threads)
    name = os.path.basename(os.fspath(filename))
    hint = name[: -len(".tnz")] if name.endswith(".tnz") else name
    write_atomic(
        filename,
        lambda fd: _ext.compress_model_to_fd(
            buf, fd, lvl, thr, CHUNK_ELEMS, "safetensors", None, hint, None, lanes=bool(lanes)
        ),
        force=True,
    )


# ---------------------------------------------------------------- sources


class _Source:
    """A safetensors file to read tensors from, mapped (a path) or in memory (bytes-like).
    ``entries``: name -> (key, dtype code, shape, bytes); ``order``: names in file order."""

    def __init__(self, path_or_data):
        self._mapped = None
        if isinstance(path_or_data, (str, os.PathLike)):
            self.path = os.fspath(path_or_data)
            self._mapped = _Mapped(self.path)
            self._mv = self._mapped.view
        else:
            self.path = "<bytes>"
            self._mv = _source_bytes(path_or_data)
        self.size = self._mv.nbytes

    def close(self) -> None:
        if self._mapped is not None:
            self._mapped.close()  # releases the view, unmaps (unless still exported) and closes the file
        else:
            try:
                self._mv.release()
            except BufferError:  # still exported (a traceback holds a reader): released when freed
                pass


class _TnzSource(_Source):
    def __init__(self, path_or_data):
        super().__init__(path_or_data)
        try:
            self._reader = _ext.ModelReader(self._mv)
            if not self._reader.is_model or self._reader.format != "safetensors":
                what = self._reader.format + " file" if self._reader.is_model else "a raw buffer, not a model file"
                raise TenzipError(f"{self.path}: holds a {what}; tenzip.torch reads safetensors files only", "invalid_argument")
            if self._reader.needs_base:
                raise TenzipError(
                    f"{self.path}: a checkpoint delta; decompress it with tenzip.decompress_file(..., base=OLD) first",
                    "invalid_argument",
                )
            self.entries = {}
            for i, (name, code, shape, nbytes, _codec, _stored, _delta) in enumerate(self._reader.tensors()):
                self.entries[name] = (i, code, tuple(shape), nbytes)
            self._header = None
        except BaseException:
            self._reader = None
            super().close()
            raise

    def _parsed_header(self):
        if self._header is None:  # decodes the header's chunk(s) only
            read = self._reader.read_range
            (n,) = struct.unpack("<Q", read(0, 8))
            if n > min(MAX_HEADER_SIZE, self._reader.file_size - 8):
                raise TenzipError(f"{self.path}: bad safetensors header length {n}", "corrupt_input")
            try:
                doc = json.loads(read(8, n).decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise TenzipError(f"{self.path}: safetensors header is not valid JSON ({e})", "corrupt_input") from None
            self._header = doc if isinstance(doc, dict) else {}
        return self._header

    @property
    def order(self) -> List[str]:
        h = self._parsed_header()

        def begin(name):
            e = h.get(name)
            offs = e.get("data_offsets") if isinstance(e, dict) else None
            return offs[0] if isinstance(offs, list) and offs and isinstance(offs[0], int) else 0

        return sorted(self.entries, key=lambda n: (begin(n), self.entries[n][0]))

    def metadata(self):
        md = self._parsed_header().get("__metadata__")
        return dict(md) if isinstance(md, dict) else None

    def read_into(self, names: List[str], views: list, threads: Optional[int]) -> None:
        self._reader.extract_many([self.entries[n][0] for n in names], views, None, threads)

    def close(self) -> None:
        self._reader = None  # releases its hold on the mapping
        super().close()


class _PlainSource(_Source):
    def __init__(self, path_or_data):
        super().__init__(path_or_data)
        try:
            # The C++ safetensors parser validates the file (the same one compress_model uses);
            # offsets come back absolute, so the data section starts at 0 here.
            _, tensors = _ext.model_file_layout(self._mv, "safetensors")
            entries = [Entry(name, code, shape, off, off + size) for name, code, shape, off, size, _strided in tensors]
            for e in entries:
                if e.code not in CODES:
                    raise TenzipError(f"safetensors: tensor {e.name!r}: dtype {e.code} has no torch equivalent", "invalid_argument")
            self._metadata = read_metadata(lambda o, n: bytes(self._mv[o : o + n]), self.size)
            self._data = 0
            self.entries = {e.name: (e, e.code, e.shape, e.end - e.begin) for e in entries}
            self.order = [e.name for e in entries]
        except BaseException:
            super().close()
            raise

    def metadata(self):
        return None if self._metadata is None else dict(self._metadata)

    def read_into(self, names: List[str], views: list, threads: Optional[int]) -> None:
        for n, v in zip(names, views):
            e = self.entries[n][0]
            _ext.copy_into(v, 0, self._mv[self._data + e.begin : self._data + e.end])


def _source_bytes(data) -> memoryview:
    return byte_view(data, "expected a path or a bytes-like object")


def _open_source(path_or_data) -> _Source:
    if isinstance(path_or_data, (str, os.PathLike)):
        with open(path_or_data, "rb") as f:
            head = f.read(8)
    else:
        head = bytes(_source_bytes(path_or_data)[:8])
    return _TnzSource(path_or_data) if head == TNZ_MAGIC else _PlainSource(path_or_data)


# ---------------------------------------------------------------- load


def _torch_dtype(code: str):
    dt = getattr(torch, CODES[code][0], None)
    if not isinstance(dt, torch.dtype):
        raise TypeError(f"dtype {code} is not supported by torch {torch.__version__}")
    return dt


class _Slice:
    """What safe_open.get_slice returns: shape and dtype without decoding; indexing decodes the
    tensor (all of it: chunks are not yet addressed per row) and returns a copy of the part."""

    def __init__(self, handle: "safe_open", name: str):
        self._h, self._name = handle, name

    def get_shape(self) -> List[int]:
        return list(self._h._entry(self._name)[2])

    def get_dtype(self) -> str:
        return self._h._entry(self._name)[1]

    def __getitem__(self, index):
        t = self._h.get_tensor(self._name)
        part = t[index]
        return part.clone() if part.numel() != t.numel() else part


class safe_open:
    """Lazy access to the tensors of a ``.tnz`` (of a safetensors file) or ``.safetensors`` file,
    with the interface of ``safetensors.safe_open``: ``keys()``, ``offset_keys()``,
    ``metadata()``, ``get_tensor(name)``, ``get_slice(name)``, ``get_tensors()``. Opening reads
    the container's index and tensor directory only; each ``get_tensor`` decodes that tensor.

    ``framework``: ``"pt"`` (torch tensors) or ``"np"`` (numpy arrays; bfloat16 and float8 need
    ml_dtypes). ``device``: where torch tensors are put (decoded on the CPU, then moved).
    ``threads``: decoding threads, default all cores.
    """

    def __init__(self, filename: PathLike, framework: str = "pt", device: Union[str, int, "torch.device"] = "cpu", *, threads: Optional[int] = None):
        fw = str(framework).lower()
        if fw in ("pt", "torch", "pytorch"):
            self._np = False
        elif fw in ("np", "numpy"):
            self._np = True
        else:
            raise ValueError(f"framework {framework!r} is not supported (pt, np)")
        self._device = torch.device(f"cuda:{device}" if isinstance(device, int) else device)
        if self._np and self._device.type != "cpu":
            raise ValueError("framework='np' loads to the CPU only")
        self._threads = _threads(threads)
        self._src: Optional[_Source] = _open_source(filename)

    # context manager
    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._src is not None:
            self._src.close()
            self._src = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _open(self) -> _Source:
        if self._src is None:
            raise ValueError("the file is closed")
        return self._src

    def _entry(self, name: str):
        src = self._open()
        if name not in src.entries:
            raise KeyError(f"File does not contain tensor {name}")
        return src.entries[name]

    def keys(self) -> List[str]:
        return sorted(self._open().entries)

    def offset_keys(self) -> List[str]:
        return list(self._open().order)

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._open().metadata()

    def _alloc(self, name: str):
        _, code, shape, nbytes = self._entry(name)
        if self._np:
            import numpy as np

            if code == "F4":
                raise TypeError(f"tensor {name}: F4 (packed 4-bit floats) has no numpy dtype; use framework='pt'")
            a = np.empty(shape, dtype=_numpy_dtype({"dtype": CODES[code][0]}))
            out, view = a, a.reshape(-1).view(np.uint8)
        else:
            out = torch.empty(torch_shape(code, shape), dtype=_torch_dtype(code))
            view = torch_bytes(out)
        if view.nbytes != nbytes:
            raise TenzipError(f"tensor {name}: {list(shape)} of {code} is not {nbytes} bytes", "corrupt_input")
        return out, view

    def _load(self, names: Iterable[str]) -> Dict[str, object]:
        src = self._open()
        names = list(names)
        outs, views = {}, []
        for n in names:
            outs[n], v = self._alloc(n)
            views.append(v)
        src.read_into(names, views, self._threads)
        if not self._np and self._device.type != "cpu":
            outs = {n: t.to(self._device) for n, t in outs.items()}
        return outs

    def get_tensor(self, name: str):
        return self._load([name])[name]

    def get_slice(self, name: str) -> _Slice:
        self._entry(name)
        return _Slice(self, name)

    def get_tensors(self) -> Dict[str, object]:
        """Every tensor, in file order, decoded in parallel."""
        return self._load(self._open().order)


def load_file(filename: PathLike, device: Union[str, int, "torch.device"] = "cpu", *, threads: Optional[int] = None) -> Dict[str, "torch.Tensor"]:
    """Every tensor of a ``.tnz`` (of a safetensors file) or plain ``.safetensors`` file, as
    ``safetensors.torch.load_file`` returns them (a dict in file order). Tensors are decoded in
    parallel straight into their own memory; ``threads`` defaults to all cores."""
    with safe_open(filename, framework="pt", device=device, threads=threads) as f:
        return f.get_tensors()


def load(data) -> Dict[str, "torch.Tensor"]:
    """Every tensor of a container (bytes of a .tnz of a safetensors file, as :func:`save`
    returns) or of a plain safetensors file's bytes (what ``safetensors.torch.save`` returns)."""
    with safe_open(data, framework="pt") as f:
        return f.get_tensors()
