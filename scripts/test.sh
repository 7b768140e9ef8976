#!/usr/bin/env bash
# Quick start, part 2: does whatever set-up is missing (as demo.sh, plus the
# test-only Python environment with the reference implementations), then
# runs every test. CI runs exactly this (.ci/run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
scripts/setup-pyenv.sh
scripts/fetch-emoji.sh
scripts/fetch-models.sh
go vet ./...
go test -timeout 40m ./... "$@"
# The compatibility step against another libtorch (Debian's 1.13.1).
if [ "${VBG_SKIP_COMPAT:-}" != 1 ]; then
  scripts/check-compat.sh
fi
