#!/usr/bin/env bash
# Creates .venv, the test-only Python environment with the reference
# implementations (PyTorch 2.1.0, transformers, scikit-learn) that VBG's tests
# compare against. Idempotent: re-running with nothing changed takes a second.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
REQ="$ROOT/scripts/requirements-test.txt"
SUM=$(sha256sum "$REQ" | cut -c1-16)
if [ "$(cat "$VENV/.vbg-req" 2>/dev/null)" = "$SUM" ]; then exit 0; fi
echo "setup: creating the test-only Python environment in .venv (torch 2.1.0 and friends, once)" >&2
"${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$SUM" > "$VENV/.vbg-req"
