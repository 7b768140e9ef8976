#!/usr/bin/env bash
# Checks that VBG's set-up works against a libtorch other than the 2.1.0 that
# gotch v0.9.1 is generated for: Debian's libtorch-dev (1.13.x, whose headers
# say 1.13.0). It
#
#   1. installs libtorch-dev and libopenblas0-pthread with apt if missing
#      (libtorch links the system libblas.so.3; Debian's reference BLAS is
#      about 20x slower than OpenBLAS);
#   2. lays Debian's libtorch out as setup.sh expects (a folder with lib/ and
#      include/, made of symlinks to /usr/lib/<multiarch> and /usr/include);
#   3. copies the working tree (tracked and untracked, not ignored files) into
#      a separate folder and runs scripts/setup.sh there with LIBTORCH set, so
#      gotchpatch's compatibility step stubs the wrappers that do not compile;
#      this repository's .deps, go.work and bin are never touched;
#   4. builds and runs a small program there: a matmul with backward whose
#      gradient is checked, and calls to stubbed wrappers that must come back
#      as Go errors, not crashes.
#
# Idempotent: the copy lives in $VBG_COMPAT_DIR (default
# ${TMPDIR:-/tmp}/vbg-check-compat) and keeps its .deps and Go's build cache,
# so a second run takes seconds. The first run compiles gotch's C++ part
# (about 3 minutes on 2 cores).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${VBG_COMPAT_DIR:-${TMPDIR:-/tmp}/vbg-check-compat}
REPO="$WORK/repo"
LT="$WORK/libtorch-debian"
START=$(date +%s)

say() { printf 'check-compat: %s\n' "$*" >&2; }
die() { printf 'check-compat: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock -n 9 || { say "another check-compat is running in $WORK; waiting"; flock 9; }

# --- packages -------------------------------------------------------------------
need=()
for p in libtorch-dev libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "installing ${need[*]} needs root"
    SUDO=sudo
  fi
  say "installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- libtorch in the layout setup.sh expects --------------------------------------
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
SYSLIB="/usr/lib/$MULTIARCH"
[ -e "$SYSLIB/libtorch_cpu.so" ] || die "$SYSLIB/libtorch_cpu.so missing; is libtorch-dev installed?"
[ -e /usr/include/torch/csrc/api/include/torch/version.h ] || die "libtorch-dev's headers are not in /usr/include"
mkdir -p "$LT"
ln -sfn "$SYSLIB" "$LT/lib"
ln -sfn /usr/include "$LT/include"
BLAS=$(readlink -f "$SYSLIB/libblas.so.3" || true)
case "$BLAS" in
  *openblas*) say "libblas.so.3 is $BLAS" ;;
  *) say "warning: libblas.so.3 is $BLAS, not OpenBLAS: matmuls will be slow (update-alternatives --config libblas.so.3-$MULTIARCH)" ;;
esac

# --- a copy of the working tree ---------------------------------------------------
# Everything but the set-up's outputs is replaced, so files deleted here
# disappear there too; .deps, bin and go.work stay, and stamps decide what
# setup.sh redoes.
MARK="$REPO/.vbg-compat-copy"
if [ -d "$REPO" ] && [ -n "$(ls -A "$REPO")" ] && [ ! -f "$MARK" ]; then
  die "$REPO exists and is not a copy made by this script; set VBG_COMPAT_DIR elsewhere"
fi
mkdir -p "$REPO"
[ "$(cd "$REPO" && pwd -P)" != "$(cd "$ROOT" && pwd -P)" ] || die "VBG_COMPAT_DIR must not hold this repository"
find "$REPO" -mindepth 1 -maxdepth 1 ! -name .deps ! -name bin ! -name go.work ! -name .vbg-compat-copy -exec rm -rf {} +
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -C "$REPO" -xf -
touch "$MARK"

# --- set-up against Debian's libtorch ---------------------------------------------------
say "running setup.sh in $REPO with LIBTORCH=$LT"
LIBTORCH="$LT" "$REPO/scripts/setup.sh"
STUBS="$REPO/.deps/gotch/libtch/vbg-stubbed.txt"
[ -f "$STUBS" ] || die "$STUBS missing: gotchpatch's compatibility step did not run"
NSTUB=$(grep -vc '^#' "$STUBS" || true)
say "$NSTUB libtch functions are stubbed (list: $STUBS)"

# --- the check program -------------------------------------------------------------------
mkdir -p "$REPO/cmd/vbg-compat-check"
cat > "$REPO/cmd/vbg-compat-check/main.go" <<'GOEOF'
// Command vbg-compat-check exercises gotch against a libtorch that needed
// stubbed wrappers. Written by scripts/check-compat.sh into its copy only.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func main() {
	runtime.LockOSThread() // libtorch's grad mode and gotch's error slot are thread-local
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vbg-compat-check: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("vbg-compat-check: ok")
}

func run() error {
	// d/da sum(a @ b) = ones @ bᵀ: every row of the gradient is b's row sums.
	a, err := ts.NewTensorFromData([]float32{1, 2, 3, 4}, []int64{2, 2})
	if err != nil {
		return fmt.Errorf("tensor a: %w", err)
	}
	if a, err = a.SetRequiresGrad(true, true); err != nil {
		return fmt.Errorf("requires grad: %w", err)
	}
	b, err := ts.NewTensorFromData([]float32{5, 6, 7, 8}, []int64{2, 2})
	if err != nil {
		return fmt.Errorf("tensor b: %w", err)
	}
	c, err := a.Matmul(b, false)
	if err != nil {
		return fmt.Errorf("matmul: %w", err)
	}
	s, err := c.Sum(gotch.Float, false)
	if err != nil {
		return fmt.Errorf("sum: %w", err)
	}
	if err := s.Backward(); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	g, err := a.Grad(false)
	if err != nil {
		return fmt.Errorf("grad: %w", err)
	}
	got, want := g.Float64Values(), []float64{11, 15, 11, 15}
	for i := range want {
		if len(got) != len(want) || math.Abs(got[i]-want[i]) > 1e-5 {
			return fmt.Errorf("grad of sum(a@b) is %v, want %v", got, want)
		}
	}
	fmt.Printf("vbg-compat-check: matmul+backward ok, grad %v\n", got)

	// Stubbed wrappers: an error naming the wrapper, and the process goes on.
	q := ts.MustOnes([]int64{1, 2, 4, 8}, gotch.Float, gotch.CPU)
	_, err = ts.ScaledDotProductAttention(q, q, q, ts.NewTensor(), 0, false, nil)
	if err == nil || !strings.Contains(err.Error(), "atg_scaled_dot_product_attention is not available in this libtorch") {
		return fmt.Errorf("ScaledDotProductAttention: want the stub's error, got %v", err)
	}
	// gotch appends a goroutine stack to libtorch errors; show the first line.
	fmt.Printf("vbg-compat-check: stubbed wrapper returned: %s\n", strings.SplitN(err.Error(), "\n", 2)[0])
	_, err = q.SqueezeDims([]int64{0}, false)
	if err == nil || !strings.Contains(err.Error(), "atg_squeeze_dims is not available") {
		return fmt.Errorf("SqueezeDims: want the stub's error, got %v", err)
	}
	// The error slot was reset: a working op after a stub succeeds.
	if _, err := q.Squeeze(false); err != nil {
		return fmt.Errorf("squeeze after a stubbed call: %w", err)
	}

	// Throughput, for information (OpenBLAS vs reference BLAS is 20x).
	const n = 1024
	x := ts.MustRandn([]int64{n, n}, gotch.Float, gotch.CPU)
	x.MustMatmul(x, false).MustDrop()
	t0 := time.Now()
	const reps = 5
	for i := 0; i < reps; i++ {
		x.MustMatmul(x, false).MustDrop()
	}
	sec := time.Since(t0).Seconds()
	fmt.Printf("vbg-compat-check: %d³ fp32 matmul: %.1f GFLOP/s on %d threads\n", n, 2*n*n*n*reps/sec/1e9, ts.NumThreads())
	return nil
}
GOEOF
say "building and running the check program"
(cd "$REPO" && go build -o bin/vbg-compat-check ./cmd/vbg-compat-check)
"$REPO/bin/vbg-compat-check"
say "ok: libtorch $(sed -n 's/^# against libtorch \([^ ]*\).*/\1/p' "$STUBS"), $NSTUB stubbed wrappers, $(( $(date +%s) - START ))s"
