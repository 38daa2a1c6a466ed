"""`import tenzip` needs neither torch nor numpy; the package reports its versions and errors."""

import subprocess
import sys

import tenzip

CODE = r"""
import sys
for blocked in ("torch", "numpy", "ml_dtypes", "transformers", "safetensors"):
    sys.modules[blocked] = None  # any import of them raises ImportError
import tenzip
data = tenzip.compress(b"\x00\x01" * 50000, dtype="bf16")
assert tenzip.decompress(data) == b"\x00\x01" * 50000
assert tenzip.decompress(tenzip.compress(bytearray(b"abc"))) == b"abc"
try:
    tenzip.decompress(b"junk")
except tenzip.TenzipError as e:
    assert isinstance(e, ValueError) and e.code == "corrupt_input", e.code
else:
    raise AssertionError("no error")
try:
    tenzip.torch
except ImportError:
    pass
else:
    raise AssertionError("tenzip.torch imported without torch")
print("ok", tenzip.__version__)
"""


def test_import_without_torch_or_numpy():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")


def test_versions_and_error_class():
    assert tenzip.__version__ == "0.3.0" and tenzip.FORMAT_VERSION == 3
    assert issubclass(tenzip.TenzipError, ValueError)
    e = tenzip.TenzipError("x", "checksum_mismatch")
    assert e.code == "checksum_mismatch" and str(e) == "x"
