package pretrained

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/vbg-museum/vbg/tensor"
)

// TestTorchBinMatchesPyTorch reads checkpoints written by torch.save (torch
// 2.1) and compares every tensor with the same tensors written by
// safetensors.torch.
func TestTorchBinMatchesPyTorch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dir := t.TempDir()
	runPython(t, "make-torch-fixtures.py", dir)

	bin, err := OpenWeights(filepath.Join(dir, "mixed.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	want, err := OpenSafetensors(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if !reflect.DeepEqual(bin.Names(), want.Names()) {
		t.Fatalf("names %v, want %v", bin.Names(), want.Names())
	}
	for _, name := range want.Names() {
		info, _ := want.Info(name)
		shape, _ := bin.Shape(name)
		if !reflect.DeepEqual(shape, info.Shape) {
			t.Errorf("%s: shape %v want %v", name, shape, info.Shape)
		}
		got, err := bin.Tensor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		exp, err := want.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType() != exp.DType() {
			t.Errorf("%s: dtype %v want %v", name, got.DType(), exp.DType())
		}
		if g, e := f64s(t, got), f64s(t, exp); !reflect.DeepEqual(g, e) {
			t.Errorf("%s: values %v want %v", name, g, e)
		}
		got.Drop()
		exp.Drop()
	}
	if _, err := bin.Tensor("nope"); err == nil || !strings.Contains(err.Error(), "mixed.bin") {
		t.Errorf("missing tensor: %v", err)
	}

	nested, err := OpenTorchBin(filepath.Join(dir, "nested.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(nested.Names(), []string{"a.bias", "a.weight"}) {
		t.Errorf("nested names %v", nested.Names())
	}

	// The legacy (pre-1.6) format of a plain state dict is read too.
	legacy, err := OpenTorchBin(filepath.Join(dir, "legacy.bin"))
	if err != nil {
		t.Fatalf("legacy format: %v", err)
	}
	x, err := legacy.Tensor("x")
	if err != nil {
		t.Fatal(err)
	}
	if got := f64s(t, x); !reflect.DeepEqual(got, []float64{1, 1}) {
		t.Errorf("legacy x = %v", got)
	}
	x.Drop()

	sharded, err := OpenWeights(filepath.Join(dir, "sharded", "pytorch_model.bin.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer sharded.Close()
	all, err := ReadAll(sharded)
	if err != nil {
		t.Fatal(err)
	}
	defer tensor.DropMap(all)
	if got := f64s(t, all["b"]); !reflect.DeepEqual(got, []float64{2, 2}) || all["a"].DType() != gotch.Float {
		t.Errorf("sharded b = %v", got)
	}
}

func TestOpenTorchBinErrors(t *testing.T) {
	for name, content := range map[string][]byte{
		"empty.bin":    nil,
		"garbage.bin":  []byte("this is not a checkpoint"),
		"notazip.bin":  {0x80, 0x02, 'K', 1, '.'},
		"truncated.pt": []byte("PK\x03\x04truncated"),
	} {
		p := writeTemp(t, name, content)
		if _, err := OpenTorchBin(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := OpenWeights(writeTemp(t, "weights.h5", []byte("x"))); err == nil {
		t.Error("unknown extension: want an error")
	}
}

// TestTorchBinHostile: checkpoints whose pickle claims far more data than the file holds
// are refused with an error naming the file, without allocating what they claim.
func TestTorchBinHostile(t *testing.T) {
	for i, b := range torchBinHostile(t) {
		p := writeTemp(t, fmt.Sprintf("hostile%d.bin", i), b)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		src, err := OpenTorchBin(p)
		if err == nil {
			for _, n := range src.Names() {
				if x, err2 := src.Tensor(n); err2 == nil {
					x.Drop()
				} else {
					err = err2
				}
			}
			src.Close()
		}
		runtime.ReadMemStats(&m1)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("hostile %d: %v", i, err)
		}
		if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 64<<20 {
			t.Errorf("hostile %d: allocated %d MB", i, grew>>20)
		}
	}
}
