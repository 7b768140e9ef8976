package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// outSlots is how many tensor handles every output buffer has room for. The
// generated wrappers return at most 7 tensors (ctensorPtr0..6); FixLeaks
// checks that no wrapper needs more.
const outSlots = 16

// leakyAlloc matches a wrapper's output-slot allocation, e.g.
//
//	ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
var leakyAlloc = regexp.MustCompile(`(?m)^(\s*)(\w+) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)[ \t]*$`)

// extraOut matches the handles that a multi-output wrapper derives from its
// first slot (ctensorPtr1 .. ctensorPtrN).
var extraOut = regexp.MustCompile(`ctensorPtr(\d+) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(uintptr`)

// inplaceSwap matches where an in-place wrapper takes the handle C returned.
var inplaceSwap = regexp.MustCompile(`(?m)^([ \t]*)ts\.ctensor = \*ptr[ \t]*$`)

// leakFiles are the ts files whose wrappers return a fixed number of tensors.
var leakFiles = []string{"ts/tensor-generated.go", "ts/patch.go"}

// FixLeaks rewrites every fixed-output wrapper so that its output buffer has
// outSlots handles and is freed on return. The handles are copied into Go
// values before the wrapper returns, so freeing the buffer is safe.
func FixLeaks(gotchDir string) (int, error) {
	total := 0
	for _, rel := range leakFiles {
		path := filepath.Join(gotchDir, rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return total, err
		}
		if strings.Contains(string(src), "vbgOutSlotBytes") {
			return total, fmt.Errorf("%s is already patched; patch a fresh copy", path)
		}
		for _, m := range extraOut.FindAllStringSubmatch(string(src), -1) {
			var n int
			fmt.Sscan(m[1], &n)
			if n >= outSlots {
				return total, fmt.Errorf("%s: a wrapper returns %d tensors, more than the %d slots", path, n+1, outSlots)
			}
		}
		// In-place wrappers get a new handle to the same tensor back from C
		// and replaced the tensor's handle with it, dropping the old one on
		// the floor: the old handle kept a reference, so the storage of
		// every tensor changed in place was never freed. Keep the old
		// handle (Go values that share it stay valid) and free the new one.
		src = []byte(inplaceSwap.ReplaceAllString(string(src), "${1}lib.AtFree(*ptr) // VBG: same tensor as ts; keep ts's handle"))
		n := 0
		out := leakyAlloc.ReplaceAllStringFunc(string(src), func(line string) string {
			m := leakyAlloc.FindStringSubmatch(line)
			n++
			return fmt.Sprintf("%s%s := (*lib.Ctensor)(unsafe.Pointer(C.malloc(vbgOutSlotBytes)))\n%sdefer C.free(unsafe.Pointer(%s))", m[1], m[2], m[1], m[2])
		})
		if n == 0 {
			return total, fmt.Errorf("%s: no output-slot allocation found; is this gotch v0.9.1?", path)
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			return total, err
		}
		total += n
	}
	// Float64Values converts to float64 and never frees the copy (the
	// drop is commented out upstream): one leaked tensor per call.
	tpath := filepath.Join(gotchDir, "ts", "tensor.go")
	tsrc, err := os.ReadFile(tpath)
	if err != nil {
		return total, err
	}
	const commented = "\t// float64Ts.MustDrop()\n"
	if !strings.Contains(string(tsrc), commented) {
		return total, fmt.Errorf("%s: Float64Values no longer looks as expected; is this gotch v0.9.1?", tpath)
	}
	tsrc = []byte(strings.Replace(string(tsrc), commented, "\tfloat64Ts.MustDrop() // VBG: upstream leaked this copy\n", 1))
	if err := os.WriteFile(tpath, tsrc, 0o644); err != nil {
		return total, err
	}
	total++
	const slots = `package ts

// #include <stdlib.h>
import "C"

import "unsafe"

// vbgOutSlotBytes is the size of the output buffer each wrapper allocates:
// room for the most tensors any wrapper returns. Added by VBG's gotchpatch.
const vbgOutSlotBytes = C.size_t(%d * unsafe.Sizeof(uintptr(0)))
`
	return total, os.WriteFile(filepath.Join(gotchDir, "ts", "vbg_slots.go"), []byte(fmt.Sprintf(slots, outSlots)), 0o644)
}

// WriteExtras adds Go bindings that gotch v0.9.1 lacks.
func WriteExtras(gotchDir string) error {
	const libtch = `package libtch

// Added by VBG's tools/gotchpatch: bindings for functions that torch_api.cpp
// defines but gotch v0.9.1 does not export.

//#include <stdbool.h>
//#include <stdint.h>
//#include "torch_api.h"
//int vbg_autocast(int cuda, int enter, int enabled, int bf16);
import "C"

// AtSetNumThreads sets libtorch's intra-op thread count.
func AtSetNumThreads(n int32) { C.at_set_num_threads(C.int(n)) }

// AtGetNumThreads returns libtorch's intra-op thread count.
func AtGetNumThreads() int32 { return int32(C.at_get_num_threads()) }

// AtManualSeed seeds libtorch's default generators.
func AtManualSeed(seed int64) { C.at_manual_seed(C.int64_t(seed)) }

// VbgAutocast enters (enter != 0) autocast for the CPU (cuda == 0) or CUDA
// in bfloat16 (bf16 != 0) or float16, returning the previous enabled state;
// or leaves it (enter == 0), setting the state back to enabled. It returns
// -1 on error.
func VbgAutocast(cuda, enter, enabled, bf16 int) int {
	return int(C.vbg_autocast(C.int(cuda), C.int(enter), C.int(enabled), C.int(bf16)))
}
`
	const ts = `package ts

// Added by VBG's tools/gotchpatch.

import (
	"fmt"

	lib "github.com/sugarme/gotch/libtch"
)

// SetNumThreads sets libtorch's intra-op thread count.
func SetNumThreads(n int) error {
	lib.AtSetNumThreads(int32(n))
	return TorchErr()
}

// NumThreads returns libtorch's intra-op thread count.
func NumThreads() int { return int(lib.AtGetNumThreads()) }

// ManualSeed seeds libtorch's default generators (CPU and CUDA).
func ManualSeed(seed int64) error {
	lib.AtManualSeed(seed)
	return TorchErr()
}

// Autocast runs fn with autocast on for the CPU or CUDA, in bfloat16 (bf16)
// or float16, as torch.autocast does, and restores the previous state.
func Autocast(cuda, bf16 bool, fn func()) error {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	prev := lib.VbgAutocast(b(cuda), 1, 0, b(bf16))
	if prev < 0 {
		return fmt.Errorf("autocast could not be enabled")
	}
	defer lib.VbgAutocast(b(cuda), 0, prev, b(bf16))
	fn()
	return nil
}
`
	if err := os.WriteFile(filepath.Join(gotchDir, "libtch", "vbg_extra.go"), []byte(libtch), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(gotchDir, "libtch", "vbg_autocast.cpp"), []byte(autocastCpp), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(gotchDir, "ts", "vbg_extra.go"), []byte(ts), 0o644)
}

// autocastCpp adds what torch_api.cpp lacks for autocast: choosing the CPU
// or CUDA variant and its lower-precision type (libtorch's default on CUDA
// is float16; bfloat16 is what VBG offers).
const autocastCpp = `// Added by VBG's tools/gotchpatch.
#include <ATen/autocast_mode.h>

// enter != 0: turn autocast on in the given type and return the previous
// state; enter == 0: set the state back to enabled and leave.
extern "C" int vbg_autocast(int cuda, int enter, int enabled, int bf16) {
  try {
    bool prev = cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    if (enter) {
      at::ScalarType t = bf16 ? at::kBFloat16 : at::kHalf;
      if (cuda) {
        at::autocast::set_autocast_gpu_dtype(t);
        at::autocast::set_enabled(true);
      } else {
        at::autocast::set_autocast_cpu_dtype(t);
        at::autocast::set_cpu_enabled(true);
      }
      at::autocast::increment_nesting();
    } else {
      if (cuda) {
        at::autocast::set_enabled(enabled != 0);
      } else {
        at::autocast::set_cpu_enabled(enabled != 0);
      }
      if (at::autocast::decrement_nesting() == 0) {
        at::autocast::clear_cache();
      }
    }
    return prev ? 1 : 0;
  } catch (...) {
    return -1;
  }
}
`
