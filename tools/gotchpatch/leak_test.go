package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fakeWrappers = `package ts

func(ts *Tensor) Abs_()(err error) {
  ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))

  lib.AtgAbs_(ptr, ts.ctensor)
  if err = TorchErr(); err != nil {
    return err
  }
  ts.ctensor = *ptr

  return err
}

func(ts *Tensor) MaxDim(dim int64, keepdim bool, del bool)(retVal0 *Tensor, retVal1 *Tensor, err error) {
  ctensorPtr0 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
  ctensorPtr1 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr0)) + unsafe.Sizeof(ctensorPtr0)))
  lib.AtgMaxDim(ctensorPtr0, ts.ctensor, dim, ckeepdim)
  retVal0 = newTensor(*ctensorPtr0, "MaxDim_0")
  retVal1 = newTensor(*ctensorPtr1, "MaxDim_1")
  return retVal0, retVal1, err
}
`

func TestFixLeaks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ts"), 0o755)
	os.WriteFile(filepath.Join(dir, "ts", "tensor-generated.go"), []byte(fakeWrappers), 0o644)
	os.WriteFile(filepath.Join(dir, "ts", "patch.go"), []byte("package ts\n\nfunc f() {\n\tptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))\n\t_ = ptr\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ts", "tensor.go"), []byte("package ts\n\nfunc g() {\n\tfloat64Ts.MustCopyData(vec, numel)\n\t// float64Ts.MustDrop()\n}\n"), 0o644)
	n, err := FixLeaks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // three allocations and Float64Values
		t.Errorf("patched %d places, want 4", n)
	}
	gen, _ := os.ReadFile(filepath.Join(dir, "ts", "tensor-generated.go"))
	for _, want := range []string{
		"ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(vbgOutSlotBytes)))\n  defer C.free(unsafe.Pointer(ptr))",
		"ctensorPtr0 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(vbgOutSlotBytes)))\n  defer C.free(unsafe.Pointer(ctensorPtr0))",
		"lib.AtFree(*ptr)",
	} {
		if !strings.Contains(string(gen), want) {
			t.Errorf("patched source lacks %q:\n%s", want, gen)
		}
	}
	if strings.Contains(string(gen), "ts.ctensor = *ptr") || strings.Contains(string(gen), "C.malloc(0)") {
		t.Errorf("leaky code left:\n%s", gen)
	}
	ten, _ := os.ReadFile(filepath.Join(dir, "ts", "tensor.go"))
	if strings.Contains(string(ten), "// float64Ts.MustDrop()") {
		t.Errorf("Float64Values still leaks:\n%s", ten)
	}
	if _, err := FixLeaks(dir); err == nil {
		t.Error("patching twice was accepted")
	}
}

func TestFixGradMode(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ts"), 0o755)
	os.MkdirAll(filepath.Join(dir, "libtch"), 0o755)
	for _, f := range gradModeFixes {
		os.WriteFile(filepath.Join(dir, f.file), []byte("package x\n\nfunc f() {\n"+f.old+"\n"), 0o644)
	}
	if err := FixGradMode(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range gradModeFixes {
		b, _ := os.ReadFile(filepath.Join(dir, f.file))
		if !strings.Contains(string(b), f.new) || strings.Contains(string(b), f.old) {
			t.Errorf("%s not patched:\n%s", f.file, b)
		}
	}
	if err := FixGradMode(dir); err == nil {
		t.Error("patching twice was accepted")
	}
}
