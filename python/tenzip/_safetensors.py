"""The safetensors byte layout (a little-endian u64 header length, a JSON header padded with
spaces to a multiple of 8 bytes, then the tensors' bytes back to back): building a header for
``tenzip.torch.save_file`` and parsing the header of a plain ``.safetensors`` file.

``build_header`` orders tensors as the safetensors crate does (by dtype, in the reverse order of
its ``Dtype`` enum, then by name), so a file tenzip writes decompresses to the very bytes that
``safetensors.torch.save`` produces for the same tensors and metadata.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from ._errors import TenzipError

# The safetensors crate's Dtype enum, in declaration order (files sort by it, descending).
_ENUM_ORDER = [
    "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
    "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
]  # fmt: skip
RANK = {code: i for i, code in enumerate(_ENUM_ORDER)}

# safetensors dtype code -> (torch / numpy / ml_dtypes dtype name, bytes per element).
# F4 counts 4-bit elements in its shape; torch's float4_e2m1fn_x2 holds two per element, so its
# last dimension is half the file's (nbytes below handles it). F6 is not supported.
CODES: Dict[str, Tuple[str, int]] = {
    "F4": ("float4_e2m1fn_x2", 1),
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E8M0": ("float8_e8m0fnu", 1),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 1),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 1),
    "I16": ("int16", 2),
    "U16": ("uint16", 2),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I32": ("int32", 4),
    "U32": ("uint32", 4),
    "F32": ("float32", 4),
    "C64": ("complex64", 8),
    "F64": ("float64", 8),
    "I64": ("int64", 8),
    "U64": ("uint64", 8),
}
NAME_TO_CODE = {name: code for code, (name, _) in CODES.items()}

MAX_HEADER_SIZE = 100_000_000  # as the safetensors crate


def nbytes(code: str, shape) -> int:
    """Bytes of a tensor of the file's dtype code and shape (-1 if the shape does not fit)."""
    n = math.prod(shape)
    if code == "F4":
        return n // 2 if n % 2 == 0 else -1
    return n * CODES[code][1]


def file_shape(code: str, torch_shape) -> Tuple[int, ...]:
    """The shape a safetensors file records for a torch tensor of that shape."""
    if code == "F4":
        if not torch_shape:
            raise TypeError("a float4_e2m1fn_x2 scalar cannot be stored in safetensors")
        return tuple(torch_shape[:-1]) + (2 * torch_shape[-1],)
    return tuple(torch_shape)


def torch_shape(code: str, shape) -> Tuple[int, ...]:
    """The torch shape of a tensor the file records with `shape`."""
    if code == "F4":
        if not shape or shape[-1] % 2:
            raise TenzipError(f"F4 tensor of shape {list(shape)}: the last dimension must be even", "corrupt_input")
        return tuple(shape[:-1]) + (shape[-1] // 2,)
    return tuple(shape)


class Entry(NamedTuple):
    name: str
    code: str  # "F32", "BF16", ...
    shape: Tuple[int, ...]
    begin: int  # byte offsets in the data section (after the header)
    end: int


def _corrupt(msg: str) -> TenzipError:
    return TenzipError("safetensors: " + msg, "corrupt_input")


def build_header(specs: List[Tuple[str, str, Tuple[int, ...], int]], metadata: Optional[Dict[str, str]]):
    """specs: (name, code, shape, nbytes) per tensor -> (header bytes incl. the 8-byte length,
    entries in file order)."""
    for name, code, _, _ in specs:
        if name == "__metadata__":
            raise ValueError("a tensor cannot be named '__metadata__' in a safetensors file")
        if code not in RANK:
            raise TypeError(f"dtype {code} cannot be stored in safetensors")
    order = sorted(specs, key=lambda s: (-RANK[s[1]], s[0].encode("utf-8")))
    doc: dict = {}
    if metadata is not None:
        doc["__metadata__"] = metadata
    entries = []
    off = 0
    for name, code, shape, nbytes in order:
        doc[name] = {"dtype": code, "shape": list(shape), "data_offsets": [off, off + nbytes]}
        entries.append(Entry(name, code, tuple(shape), off, off + nbytes))
        off += nbytes
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, entries


def read_metadata(read: Callable[[int, int], bytes], file_size: int) -> Optional[Dict[str, str]]:
    """Only the __metadata__ of a header (for a .tnz, whose tensor list comes from the container)."""
    if file_size < 8:
        return None
    (n,) = struct.unpack("<Q", read(0, 8))
    if n > MAX_HEADER_SIZE or n > file_size - 8:
        raise _corrupt(f"header length {n} does not fit the file ({file_size} bytes)")
    try:
        doc = json.loads(read(8, n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _corrupt(f"header is not valid JSON ({e})") from None
    md = doc.get("__metadata__") if isinstance(doc, dict) else None
    return md if isinstance(md, dict) else None
