"""tenzip.open: a .tnz file read as the file it holds, in place, with random access.

Any reader that takes a binary file object works on it without a decompressed copy on disk::

    np.load(tenzip.open("weights.npz.tnz"))["emb.weight"]
    torch.load(tenzip.open("model.pt.tnz"), weights_only=True)
    onnx.load(tenzip.open("model.onnx.tnz"))

A read decodes only the chunks that hold the bytes asked for (each checked against its
checksum). Small reads are served from the last chunk decoded, so a reader that seeks around a
header in small steps decodes each chunk once; a read of a chunk or more decodes straight into
the caller's buffer, on ``threads`` threads.
"""

from __future__ import annotations

import io
import os
from typing import Optional

from . import _ext
from ._arrays import _threads, byte_view
from ._errors import TenzipError
from ._files import _Mapped

class TnzFile(io.RawIOBase):
    """The original bytes of a .tnz container, read-only and seekable (see ``tenzip.open``)."""

    def __init__(self, file, *, base=None, threads: Optional[int] = None):
        super().__init__()
        self._mapped = None
        self._base_mapped = None
        self._base = None
        self._reader = None
        if isinstance(file, (str, os.PathLike)):
            self.name = os.fspath(file)
            self._mapped = _Mapped(self.name)
            view = self._mapped.view
        else:
            self.name = "<bytes>"
            view = byte_view(file, "tenzip.open: file must be a path or a bytes-like object")
        try:
            try:
                self._reader = _ext.ModelReader(view)
            except TenzipError as e:
                raise TenzipError(f"{self.name}: {e}", e.code) from None
            if self._reader.needs_base:
                if base is None:
                    raise TenzipError(
                        f"{self.name}: a checkpoint delta; open it with tenzip.open(..., base=OLD)", "invalid_argument"
                    )
                if isinstance(base, (str, os.PathLike)):
                    self._base_mapped = _Mapped(os.fspath(base))
                    self._base = self._base_mapped.view
                else:
                    self._base = byte_view(base, "tenzip.open: base must be a path or a bytes-like object")
        except BaseException:
            self._release()
            raise
        self._size = self._reader.file_size
        self._threads = _threads(threads)
        self._pos = 0
        self._cache_start = 0
        self._cache = b""  # the chunk decoded last, for small reads

    # -- io.RawIOBase
    def readable(self) -> bool:
        self._check_open()
        return True

    def seekable(self) -> bool:
        self._check_open()
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, b) -> int:
        self._check_open()
        out = memoryview(b).cast("B")
        n = min(out.nbytes, max(0, self._size - self._pos))
        if n == 0:
            return 0
        pos, cache_end = self._pos, self._cache_start + len(self._cache)
        if not (self._cache_start <= pos < cache_end):
            start, size = self._reader.chunk_span(pos)
            if n >= size - (pos - start):  # reaches this chunk's end: decode in place
                self._reader.read_into(pos, out[:n], self._base, self._threads)
                self._pos += n
                return n
            self._cache = self._reader.read_range(start, size, self._base)
            self._cache_start, cache_end = start, start + size
        n = min(n, cache_end - pos)
        out[:n] = self._cache[pos - self._cache_start : pos - self._cache_start + n]
        self._pos += n
        return n

    def readall(self) -> bytes:
        self._check_open()
        n = max(0, self._size - self._pos)
        out = bytearray(n)
        if n:
            self._reader.read_into(self._pos, out, self._base, self._threads)
        self._pos += n
        return bytes(out)

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()

    # -- helpers
    @property
    def size(self) -> int:
        """Bytes of the original file."""
        return self._size

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _release(self) -> None:
        self._reader = None  # releases its hold on the mapping
        self._base = None
        self._cache = b""
        for m in (self._mapped, self._base_mapped):
            if m is not None:
                m.close()
        self._mapped = self._base_mapped = None

    def __repr__(self) -> str:
        return f"<tenzip.TnzFile name={self.name!r} size={getattr(self, '_size', '?')}>"


def open(file, mode: str = "rb", *, base=None, threads: Optional[int] = None,  # noqa: A001
         buffering: int = io.DEFAULT_BUFFER_SIZE):
    """Opens a .tnz file (a path, or the container's bytes) for reading the file it holds.

    Returns a seekable, read-only binary file (an ``io.BufferedReader`` over a ``TnzFile``;
    ``buffering=0`` gives the ``TnzFile`` itself). Works for any container: a model file gives
    back the file byte for byte, a raw buffer its bytes. A checkpoint delta needs ``base`` (the
    older file it was written against, a path or bytes): its regions are undone as they are
    read, each checked against the base's hash the first time. Errors in the container or the
    base are ``TenzipError`` (when opening, or when the bytes concerned are read).
    """
    if mode not in ("rb", "r"):
        raise ValueError(f"tenzip.open: mode {mode!r} is not supported (reading only: 'rb')")
    raw = TnzFile(file, base=base, threads=threads)
    if buffering == 0:
        return raw
    return io.BufferedReader(raw, buffer_size=buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE)
