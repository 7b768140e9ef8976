#!/usr/bin/env bash
# VBG set-up: does whatever is missing, and only that. Safe to re-run; when
# everything is in place it takes a few seconds.
#
#   libtorch  PyPI's torch==2.1.0 wheel (the build gotch v0.9.1 is generated
#             against), unpacked into .deps/libtorch. Set LIBTORCH=/path to use
#             another libtorch (a CUDA build, or another version: then the
#             wrappers that do not compile are stubbed, see tools/gotchpatch).
#   gotch     a project-local copy of github.com/sugarme/gotch v0.9.1 in
#             .deps/gotch, patched by tools/gotchpatch (link flags, leak fix,
#             thread/seed bindings); go.work points the build at it.
#   vbg       bin/vbg, which finds libtorch through its rpath.
#
# Nothing is written outside the repository except pip's and Go's own caches.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$ROOT/.deps"
TORCH_VERSION=2.1.0
GOTCH_VERSION=v0.9.1
# The torch wheel's libtorch_cpu.so needs the CUDA runtime and CUPTI sonames
# (for its profiler) even on CPU; these are the versions torch 2.1.0 pins.
CUDA_RT_WHEELS="nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH (Go 1.26 or newer is needed)"
command -v g++ >/dev/null || die "g++ is not on PATH (needed to build gotch's C++ part)"
mkdir -p "$DEPS"

# --- libtorch ---------------------------------------------------------------
PY=${PYTHON:-python3}
if [ -n "${LIBTORCH:-}" ]; then
  LT=$(cd "$LIBTORCH" && pwd)
  say "using LIBTORCH=$LT"
else
  LT="$DEPS/libtorch"
  if [ ! -f "$LT/.complete" ]; then
    command -v "$PY" >/dev/null || die "python3 with pip is needed to fetch torch==$TORCH_VERSION from PyPI"
    say "downloading torch==$TORCH_VERSION from PyPI (about 670 MB, once)"
    mkdir -p "$DEPS/wheels"
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux1_x86_64 \
      -d "$DEPS/wheels" "torch==$TORCH_VERSION" $CUDA_RT_WHEELS \
      || die "pip could not fetch torch==$TORCH_VERSION; set LIBTORCH to an unpacked libtorch instead"
    rm -rf "$LT.tmp" && mkdir -p "$LT.tmp/lib"
    say "unpacking libtorch into $LT"
    whl=$(ls "$DEPS"/wheels/torch-"$TORCH_VERSION"-*.whl | head -1)
    (cd "$LT.tmp" && "$PY" - "$whl" <<'PYEOF'
import sys, zipfile, os, shutil
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        keep = n.startswith("torch/include/") or n in (
            "torch/lib/libtorch_cpu.so", "torch/lib/libc10.so") or n.startswith("torch/lib/libgomp")
        if not keep or n.endswith("/"):
            continue
        dst = n[len("torch/"):]
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(n) as src, open(dst, "wb") as out:
            shutil.copyfileobj(src, out)
PYEOF
    )
    for w in "$DEPS"/wheels/nvidia_cuda_runtime_cu12-*.whl "$DEPS"/wheels/nvidia_cuda_cupti_cu12-*.whl; do
      (cd "$LT.tmp" && "$PY" -c '
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        b = os.path.basename(n)
        if b in ("libcudart.so.12", "libcupti.so.12"):
            open(os.path.join("lib", b), "wb").write(z.read(n))
' "$w")
    done
    echo "$TORCH_VERSION" > "$LT.tmp/.complete"
    rm -rf "$LT" && mv "$LT.tmp" "$LT"
    rm -rf "$DEPS/wheels"
  fi
fi

# --- gotch --------------------------------------------------------------------
# The stamp records what the copy was patched for; a change re-creates it.
PATCH_SUM=$(ls "$ROOT"/tools/gotchpatch/*.go | grep -v _test.go | xargs cat | sha256sum | cut -c1-16)
STAMP="gotch=$GOTCH_VERSION libtorch=$LT patch=$PATCH_SUM"
GD="$DEPS/gotch"
if [ "$(cat "$GD/.vbg-stamp" 2>/dev/null)" != "$STAMP" ]; then
  say "preparing a patched copy of gotch $GOTCH_VERSION"
  src=$(cd "$ROOT" && GOFLAGS=-mod=mod GOWORK=off go mod download -json "github.com/sugarme/gotch@$GOTCH_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "go mod download github.com/sugarme/gotch@$GOTCH_VERSION failed"
  rm -rf "$GD.tmp" && cp -r "$src" "$GD.tmp" && chmod -R u+w "$GD.tmp"
  (cd "$ROOT" && GOWORK=off go run ./tools/gotchpatch -gotch "$GD.tmp" -libtorch "$LT")
  echo "$STAMP" > "$GD.tmp/.vbg-stamp"
  rm -rf "$GD" && mv "$GD.tmp" "$GD"
fi

# --- go.work --------------------------------------------------------------------
WORK="go 1.26

use .

replace github.com/sugarme/gotch $GOTCH_VERSION => ./.deps/gotch
"
if [ "$(cat "$ROOT/go.work" 2>/dev/null)" != "$WORK" ]; then
  printf '%s' "$WORK" > "$ROOT/go.work"
fi

# --- vbg ------------------------------------------------------------------------
if [ "${VBG_SETUP_NO_BUILD:-}" != 1 ]; then
  if [ ! -f "$DEPS/.built" ]; then say "building gotch's C++ part (about 3 minutes on 2 cores, once)"; fi
  (cd "$ROOT" && go build -o bin/vbg ./cmd/vbg) && touch "$DEPS/.built"
fi
