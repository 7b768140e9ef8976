#!/usr/bin/env bash
# Installs the emoji dataset's raw sources from npm into .deps/emoji (git-ignored):
#   emoji-datasource          metadata (emoji.json: name, short_names, category, ...)
#   emoji-datasource-google   64 px PNGs under img/google/64/
#   emoji-datasource-twitter  64 px PNGs under img/twitter/64/
# Versions are pinned so the prepared dataset is the same everywhere. Idempotent: when the
# pinned versions are already installed it returns at once without touching the network.
# Then: vbg data prepare emoji --src .deps/emoji/node_modules --out .deps/data/emoji-category
set -euo pipefail
VER=16.0.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.deps/emoji"
STAMP="$DEST/.vbg-emoji-version"
PKGS=(emoji-datasource emoji-datasource-google emoji-datasource-twitter)

installed=1
for p in "${PKGS[@]}"; do
  [ -f "$DEST/node_modules/$p/package.json" ] || installed=0
done
if [ "$installed" = 1 ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VER" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-emoji: npm not found; install Node.js first" >&2; exit 1; }
echo "fetch-emoji: installing ${PKGS[*]} @$VER into $DEST" >&2
mkdir -p "$DEST"
npm install --prefix "$DEST" --no-audit --no-fund --no-save --loglevel=error \
  "emoji-datasource@$VER" "emoji-datasource-google@$VER" "emoji-datasource-twitter@$VER"
echo "$VER" > "$STAMP"
echo "fetch-emoji: done ($DEST/node_modules)" >&2
