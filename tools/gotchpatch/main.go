// Command gotchpatch turns a pristine copy of github.com/sugarme/gotch into the
// copy VBG builds against. It is run by scripts/setup.sh and does these things:
//
//  1. writes libtch/lib.go with the cgo flags for the libtorch it is given
//     (CPU: libtorch_cpu and c10 only; CUDA: plus torch_cuda and c10_cuda),
//     with the C++ ABI the library was built with and an rpath, so binaries
//     find libtorch without LD_LIBRARY_PATH;
//  2. fixes the per-op leak of the generated ts wrappers: each one allocated
//     its output slot with C.malloc(0), never freed it, and wrappers with
//     several outputs wrote past it. The slot now has room for every output
//     and is freed when the wrapper returns;
//  3. passes a nil optional tensor to libtorch as c10::nullopt (None), not
//     as an undefined tensor that some ops reject;
//  4. fixes grad mode: GradSetEnabled misread the previous state and
//     NoGrad always switched gradients back on;
//  5. adds Go bindings for libtch's at_set_num_threads, at_get_num_threads
//     and at_manual_seed, which gotch v0.9.1 does not export;
//  6. for a libtorch other than 2.1.0 (or with -compat), makes the generated C++ wrappers compile against a
//     libtorch other than the one gotch was generated for: every atg_*
//     function that fails to compile gets a body that throws, so calling it
//     returns a Go error instead of breaking the build.
//
// It is idempotent: it refuses to patch a tree twice (setup.sh re-copies).
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var (
		gotchDir = flag.String("gotch", "", "writable copy of gotch v0.9.1 to patch")
		libtorch = flag.String("libtorch", "", "libtorch folder with lib/ and include/")
		compat   = flag.Bool("compat", false, "stub out generated wrappers that do not compile, even for libtorch "+generatedFor)
		cxx      = flag.String("cxx", "g++", "C++ compiler used by -compat")
	)
	flag.Parse()
	if *gotchDir == "" || *libtorch == "" {
		fmt.Fprintln(os.Stderr, "usage: gotchpatch -gotch DIR -libtorch DIR [-compat]")
		os.Exit(2)
	}
	if err := run(*gotchDir, *libtorch, *compat, *cxx); err != nil {
		fmt.Fprintln(os.Stderr, "gotchpatch:", err)
		os.Exit(1)
	}
}

// generatedFor is the libtorch version gotch v0.9.1's wrappers were generated
// against; any other version goes through the compatibility step.
const generatedFor = "2.1.0"

func run(gotchDir, libtorch string, compat bool, cxx string) error {
	info, err := Inspect(libtorch)
	if err != nil {
		return err
	}
	if err := WriteLibGo(gotchDir, info); err != nil {
		return err
	}
	n, err := FixLeaks(gotchDir)
	if err != nil {
		return err
	}
	fmt.Printf("gotchpatch: freed output slots in %d wrappers\n", n)
	if n, err = FixOptionalTensors(gotchDir); err != nil {
		return err
	}
	fmt.Printf("gotchpatch: %d optional tensor arguments now pass None as c10::nullopt\n", n)
	if err := FixGradMode(gotchDir); err != nil {
		return err
	}
	if err := WriteExtras(gotchDir); err != nil {
		return err
	}
	if compat || info.Version != generatedFor {
		stubbed, err := Compat(gotchDir, info, cxx)
		if err != nil {
			return err
		}
		fmt.Printf("gotchpatch: %d generated wrappers do not compile against libtorch %s; they now return an error at run time\n", len(stubbed), info.Version)
	}
	fmt.Printf("gotchpatch: libtorch %s (%s, C++11 ABI=%d) at %s\n", info.Version, info.Kind(), info.CXX11ABI, info.Dir)
	return nil
}
