#!/usr/bin/env bash
# Creates (or refreshes) the Python venv the tests use to cross-check tenzip against the reference
# packages (tests/requirements.txt: safetensors, torch, onnx, gguf, ...). The C++ core needs none
# of them. Prints the venv's python on stdout. Re-runs are instant unless the requirements change.
# Environment: TENZIP_TEST_VENV (default ~/.cache/tenzip/test-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${TENZIP_TEST_VENV:-$HOME/.cache/tenzip/test-venv}
REQ=tests/requirements.txt
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ -x $VENV/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi
echo "test-venv: installing $REQ into $VENV (torch is large: a few minutes the first time)" >&2
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
echo "$want" >"$stamp"
echo "$VENV/bin/python"
