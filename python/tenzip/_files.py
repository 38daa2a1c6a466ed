"""File and folder operations of the ``tenzip`` command, from Python.

``compress_file`` / ``decompress_file`` do what ``tenzip compress`` / ``tenzip decompress`` do
(cli/model_cmds.cpp) and produce the same outputs:

- a file is mapped and compressed as a model file (its format detected: safetensors, GGUF, PyTorch
  zip, ONNX, TFLite; else stored as raw bytes), or as a raw buffer of ``dtype`` when given;
- a folder ``DIR`` becomes a folder ``DIR.tnz`` in which every weight file is a container
  ``NAME.tnz`` and every other file is a copy (so is a weight file coding would not shrink);
  decompressing reverses it.

Outputs are written under a temporary name beside the target and renamed into place when
complete, so a failure or Ctrl-C leaves nothing behind; an existing output is replaced only with
``force=True``. The work runs in the C++ core with the GIL released.
"""

from __future__ import annotations

import concurrent.futures
import errno
import mmap
import os
import secrets
import shutil
import stat
from typing import Callable, List, Optional, Tuple

from . import _ext
from ._arrays import CHUNK_ELEMS, _codec_dtype, _level, _threads
from ._errors import TenzipError

SUFFIX = ".tnz"



# ---------------------------------------------------------------- helpers


class _Mapped:
    """A file mapped read-only (an empty file is an empty buffer)."""

    def __init__(self, path: str):
        self.path = path
        self._f = open(path, "rb")
        try:
            st = os.fstat(self._f.fileno())
            self.mode = stat.S_IMODE(st.st_mode)
            self.size = st.st_size
            self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if st.st_size else None
            self.view = memoryview(self._mm) if self._mm is not None else memoryview(b"")
        except BaseException:
            self._f.close()
            raise

    def close(self) -> None:
        try:
            self.view.release()
            if self._mm is not None:
                self._mm.close()
        except BufferError:  # still exported (a traceback holds a reader): unmapped when freed
            pass
        self._f.close()

    def __enter__(self) -> "_Mapped":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _default_mode() -> int:
    return 0o666  # the umask applies (os.open)


def write_atomic(dst, produce: Callable[[int], object], *, force: bool = True, mode: Optional[int] = None):
    """Runs produce(fd) on a new temporary file beside `dst`, fsyncs it and renames it to `dst`.
    A failure removes the temporary file. Without `force`, an existing `dst` is an error."""
    dst = os.fspath(dst)
    if not force and os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "already exists; pass force=True to replace it", dst)
    d, base = os.path.split(os.path.abspath(dst))
    tmp = os.path.join(d, f".{base}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _default_mode())
    try:
        try:
            result = produce(fd)
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if not force and os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "appeared while writing; pass force=True to replace it", dst)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return result


def _write_new(path: str, mode: int, produce: Callable[[int], object]):
    """Writes a new file inside a temporary folder (the folder is what gets renamed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        result = produce(fd)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return result


class _Bar:
    """A tqdm progress bar over bytes, shared by threads; `progress` None = only on a terminal."""

    def __init__(self, total: int, desc: str, progress: Optional[bool]):
        self._bar = None
        if progress is False:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            return
        self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                         disable=None if progress is None else False, leave=False)  # fmt: skip

    def callback(self) -> Callable[[int], None]:
        """A per-file callback taking that file's bytes done so far."""
        last = [0]

        def cb(done: int) -> None:
            if self._bar is not None and done > last[0]:
                self._bar.update(done - last[0])
                last[0] = done

        return cb

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _strip_slashes(p: str) -> str:
    while len(p) > 1 and p.endswith("/"):
        p = p[:-1]
    return p


def _is_weight_file(path: str, view) -> bool:
    return _ext.folder_compresses(os.path.basename(path), view)  # the library's folder policy, as the CLI


def _list_folder(root: str) -> List[Tuple[str, bool]]:
    """(relative path, is_dir) of everything under root, sorted. File symlinks are followed (a
    Hugging Face snapshot links into a blob store); a symlink to a folder, a broken link and
    anything neither file nor folder are errors, as in the CLI."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                raise OSError(errno.ELOOP, "symlink to a directory; not followed", p)
            out.append((os.path.relpath(p, root), True))
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.isfile(p):  # follows symlinks
                what = "broken symlink or not a regular file" if os.path.islink(p) else "not a regular file or directory"
                raise OSError(errno.EINVAL, what, p)
            out.append((os.path.relpath(p, root), False))
    out.sort(key=lambda e: e[0].split(os.sep))
    return out


def _raise(e: OSError) -> None:
    raise e


class _TempDir:
    """A temporary folder beside the final output, renamed into place by commit()."""

    def __init__(self, final: str, force: bool):
        self.final, self.force = final, force
        if os.path.lexists(final) and not force:
            raise FileExistsError(errno.EEXIST, "already exists; pass force=True to replace it", final)
        self.path = f"{final}.tmp-{os.getpid()}"
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path)
        self.committed = False

    def commit(self) -> None:
        old = None
        if os.path.lexists(self.final):
            if not self.force:
                raise FileExistsError(errno.EEXIST, "appeared while writing; pass force=True to replace it", self.final)
            old = f"{self.final}.old-{os.getpid()}"
            os.rename(self.final, old)
        os.rename(self.path, self.final)
        self.committed = True
        if old is not None:
            if os.path.isdir(old) and not os.path.islink(old):
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.unlink(old)

    def cleanup(self) -> None:
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)


def _run_jobs(jobs: list, workers: int, job: Callable) -> None:
    """Runs job(j) for every j on `workers` threads (the C++ work releases the GIL); the first
    error stops the rest and is raised."""
    if workers <= 1:
        for j in jobs:
            job(j)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(job, j) for j in jobs]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _compress_one(src: _Mapped, fd: int, *, level, threads, dtype, fmt, base: Optional[_Mapped], cb, lanes=False):
    if dtype is not None:
        return _ext.compress_to_fd(src.view, fd, dtype, level, threads, CHUNK_ELEMS, cb, lanes=lanes)
    return _ext.compress_model_to_fd(
        src.view, fd, level, threads, CHUNK_ELEMS, fmt, base.view if base else None, os.path.basename(src.path), cb,
        lanes=lanes,
    )


def _decompress_one(src: _Mapped, fd: int, *, threads, base: Optional[_Mapped], cb) -> int:
    reader = _ext.ModelReader(src.view)
    try:
        if reader.needs_base and base is None:
            raise TenzipError(f"{src.path}: a checkpoint delta; give the file it was made against with base=OLD", "invalid_argument")
        return reader.decompress_to_fd(fd, base.view if (base is not None and reader.needs_base) else None, threads, cb)
    finally:
        reader = None  # noqa: F841 - drops the hold on the mapping even while an exception propagates


def _named(e: TenzipError, path: str) -> TenzipError:
    if str(e).startswith(path):
        return e
    return TenzipError(f"{path}: {e}", e.code)


# ---------------------------------------------------------------- compress


def compress_file(
    src,
    dst=None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    dtype: Optional[str] = None,
    format: str = "auto",
    base=None,
    force: bool = False,
    progress: Optional[bool] = None,
    lanes: bool = False,
) -> str:
    """``tenzip compress`` from Python: a file to ``dst`` (default ``src + ".tnz"``), or a folder
    to a folder (default ``src + ".tnz"``). Returns the output path.

    Options as the CLI's: ``level`` 1..9 (default 3), ``threads`` (default all cores), ``dtype``
    (a single file as a raw buffer of bf16/fp16/fp32/fp8_e4m3/fp8_e5m2/bytes instead of a model
    file), ``format`` (auto, raw, safetensors, gguf, pytorch-zip, onnx, tflite, npy, npz),
    ``base`` (an older version of the file or folder: matching tensors are stored as
    differences), ``force`` (replace an existing output), ``lanes`` (``--lanes``: exponents for
    AVX-512 VBMI decoders).
    ``progress``: a tqdm bar; None = only when stderr is a terminal.
    """
    src = _strip_slashes(os.fspath(src))
    lvl, thr = _level(level), _threads(threads)
    if lvl < _ext.min_level or lvl > _ext.max_level:
        raise TenzipError(f"level {lvl} out of range (1..9)", "invalid_argument")
    fmt = str(format)
    if fmt != "auto" and fmt not in _ext.model_formats():
        raise TenzipError(f"unknown format '{fmt}' (auto, {', '.join(_ext.model_formats())})", "invalid_argument")
    if os.path.isdir(src):
        if dtype is not None:
            raise TenzipError(f"{src}: dtype applies to single files; a folder's files are detected one by one", "invalid_argument")
        return _compress_folder(src, dst, lvl, thr, fmt, base, force, progress, bool(lanes))
    codec = None if dtype is None else _codec_dtype(dtype, "bytes")
    if codec is not None and (base is not None or fmt != "auto"):
        raise TenzipError("dtype compresses a raw buffer; it does not combine with format or base", "invalid_argument")
    dst = src + SUFFIX if dst is None else os.fspath(dst)
    if os.path.isdir(dst):
        raise IsADirectoryError(errno.EISDIR, "is a directory", dst)
    if os.path.exists(dst) and os.path.samefile(src, dst):
        raise TenzipError(f"{dst}: the output is the input", "invalid_argument")
    base_path = None if base is None else os.fspath(base)
    if base_path is not None and os.path.isdir(base_path):
        raise TenzipError(f"{base_path}: base must be a file when compressing a file", "invalid_argument")
    with _Mapped(src) as m:
        b = _Mapped(base_path) if base_path else None
        bar = _Bar(m.size, f"compressing {os.path.basename(src)}", progress)
        try:
            write_atomic(
                dst,
                lambda fd: _compress_one(m, fd, level=lvl, threads=thr, dtype=codec, fmt=fmt, base=b, cb=bar.callback(),
                                         lanes=bool(lanes)),
                force=force,
                mode=m.mode,
            )
        except TenzipError as e:
            raise _named(e, src) from None
        finally:
            bar.close()
            if b:
                b.close()
    return dst


def _base_folder(base, verb: str) -> Optional[str]:
    """The base folder of a folder delta (base=OLD_DIR), checked."""
    if base is None:
        return None
    base_dir = _strip_slashes(os.fspath(base))
    if not os.path.isdir(base_dir):
        raise TenzipError(f"{base_dir}: base must be a folder when {verb} a folder", "invalid_argument")
    return base_dir


def _mirror_tree(entries, tmp: _TempDir, classify: Callable[[str], tuple]) -> list:
    """Recreates the folders of `entries` under tmp; returns the files as jobs, classify(rel) each."""
    jobs = []
    for rel, is_dir in entries:
        if is_dir:
            os.makedirs(os.path.join(tmp.path, rel), exist_ok=True)
        else:
            jobs.append(classify(rel))
    return jobs


def _split_threads(jobs: list, threads: Optional[int]) -> Tuple[int, int]:
    """(workers, threads per file): many files to code run in parallel, few split their chunks."""
    n = sum(1 for j in jobs if j[1])
    T = threads or _ext.hardware_threads()
    workers = max(1, min(n, T))
    return workers, max(1, T // workers)


def _code_folder(src, dst, verb, base, force, threads, progress, classify, code) -> str:
    """What folder compression and decompression share: the tree mirrored into a temporary
    folder, files that are not coded copied, the coded ones (classify(rel) -> (rel, coded, size))
    coded in parallel, biggest first so that workers finish together, by
    code(frm, rel, size, tmp_path, threads_per_file, base_dir, bar); then renamed into place."""
    base_dir = _base_folder(base, verb)
    entries = _list_folder(src)
    tmp = _TempDir(dst, force)
    try:
        jobs = _mirror_tree(entries, tmp, classify)
        jobs.sort(key=lambda j: (not j[1], -j[2]))
        workers, per_file = _split_threads(jobs, threads)
        bar = _Bar(sum(j[2] for j in jobs), f"{verb} {os.path.basename(src)}", progress)

        def job(j):
            rel, coded, size = j
            frm = os.path.join(src, rel)
            if not coded:
                shutil.copy(frm, os.path.join(tmp.path, rel))
                bar.update(size)
                return
            try:
                code(frm, rel, size, tmp.path, per_file, base_dir, bar)
            except TenzipError as e:
                raise _named(e, frm) from None

        try:
            _run_jobs(jobs, workers, job)
        finally:
            bar.close()
        tmp.commit()
    finally:
        tmp.cleanup()
    return dst


def _compress_folder(src, dst, level, threads, fmt, base, force, progress, lanes=False) -> str:
    dst = src + SUFFIX if dst is None else _strip_slashes(os.fspath(dst))

    def classify(rel):
        with _Mapped(os.path.join(src, rel)) as m:
            return (rel, _is_weight_file(m.path, m.view), m.size)

    def code(frm, rel, size, tmp_path, per_file, base_dir, bar):
        bpath = os.path.join(base_dir, rel) if base_dir else None
        with _Mapped(frm) as m:
            b = _Mapped(bpath) if bpath and os.path.isfile(bpath) else None
            coded = os.path.join(tmp_path, rel + SUFFIX)
            try:
                _write_new(
                    coded,
                    m.mode,
                    lambda fd: _compress_one(m, fd, level=level, threads=per_file, dtype=None, fmt=fmt, base=b,
                                             cb=bar.callback(), lanes=lanes),  # fmt: skip
                )
            finally:
                if b:
                    b.close()
        # As `tenzip compress DIR`: a file coding does not shrink is copied instead (but never a
        # NAME.tnz, which a compressed folder always holds coded).
        if os.path.getsize(coded) >= size and not rel.endswith(SUFFIX):
            os.unlink(coded)
            shutil.copy(frm, os.path.join(tmp_path, rel))

    return _code_folder(src, dst, "compressing", base, force, threads, progress, classify, code)


# ---------------------------------------------------------------- decompress


def decompress_file(
    src,
    dst=None,
    *,
    threads: Optional[int] = None,
    base=None,
    force: bool = False,
    progress: Optional[bool] = None,
) -> str:
    """``tenzip decompress`` from Python: ``NAME.tnz`` to ``NAME`` (or ``dst``), or a folder
    ``DIR.tnz`` to ``DIR`` (or ``dst``). Every chunk is verified. ``base``: the file or folder a
    checkpoint delta was made against. Returns the output path."""
    src = _strip_slashes(os.fspath(src))
    thr = _threads(threads)
    if dst is None:
        if not src.endswith(SUFFIX) or src.endswith("/" + SUFFIX) or src == SUFFIX:
            raise TenzipError(f"{src}: unknown suffix (expected {SUFFIX}); name the output with dst=", "invalid_argument")
        dst = src[: -len(SUFFIX)]
    else:
        dst = _strip_slashes(os.fspath(dst))
    if os.path.isdir(src):
        return _decompress_folder(src, dst, thr, base, force, progress)
    if os.path.isdir(dst):
        raise IsADirectoryError(errno.EISDIR, "is a directory", dst)
    if os.path.exists(dst) and os.path.samefile(src, dst):
        raise TenzipError(f"{dst}: the output is the input", "invalid_argument")
    with _Mapped(src) as m:
        b = _Mapped(os.fspath(base)) if base is not None else None
        try:
            total = _ext.ModelReader(m.view).file_size
            bar = _Bar(total, f"decompressing {os.path.basename(src)}", progress)
            try:
                write_atomic(dst, lambda fd: _decompress_one(m, fd, threads=thr, base=b, cb=bar.callback()), force=force, mode=m.mode)
            finally:
                bar.close()
        except TenzipError as e:
            raise _named(e, src) from None
        finally:
            if b:
                b.close()
    return dst


def _decompress_folder(src, dst, threads, base, force, progress) -> str:
    def classify(rel):
        packed = rel.endswith(SUFFIX) and not os.path.basename(rel) == SUFFIX
        return (rel, packed, os.path.getsize(os.path.join(src, rel)))

    def code(frm, rel, size, tmp_path, per_file, base_dir, bar):
        out_rel = rel[: -len(SUFFIX)]
        with _Mapped(frm) as m:
            b = None
            try:
                if _ext.ModelReader(m.view).needs_base:
                    if base_dir is None:
                        raise TenzipError(f"{frm}: a checkpoint delta; give the folder it was made against with base=OLD_DIR", "invalid_argument")
                    bpath = os.path.join(base_dir, out_rel)
                    if not os.path.isfile(bpath):
                        raise FileNotFoundError(errno.ENOENT, f"the base of {frm} does not exist", bpath)
                    b = _Mapped(bpath)
                cb = bar.callback()
                # progress counts container bytes here (the bar's total is the folder's size)
                _write_new(os.path.join(tmp_path, out_rel), m.mode,
                           lambda fd: _decompress_one(m, fd, threads=per_file, base=b, cb=None))  # fmt: skip
                cb(size)
            finally:
                if b:
                    b.close()

    return _code_folder(src, dst, "decompressing", base, force, threads, progress, classify, code)
