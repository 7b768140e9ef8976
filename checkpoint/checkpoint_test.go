package checkpoint

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

func testStore(t *testing.T) *nn.VarStore {
	t.Helper()
	vs := nn.NewVarStore(gotch.CPU)
	w, err := vs.Root().Sub("lin").Zeros("weight", []int64{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]float32, 12)
	for i := range vals {
		vals[i] = float32(i) * 0.25
	}
	src, _ := tensor.FromSlice(vals, []int64{3, 4}, gotch.CPU)
	defer tensor.Drop(src)
	if err := tensor.CopyInto(w, src); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestRoundTrip saves and loads a checkpoint with state, labels and extra
// tensors, including a step checkpoint's partial epoch and a state with no
// best epoch yet (Best is -Inf, which JSON cannot hold).
func TestRoundTrip(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := testStore(t)
	m, _ := tensor.FromSlice([]float32{1, 2}, []int64{2}, gotch.CPU)
	defer tensor.Drop(m)
	for _, st := range []State{
		{Epoch: 6, Step: 60, Best: 0.75, BestEpoch: 4, SinceBest: 2, ConfigHash: "abc"},
		{Step: 3, Best: math.Inf(-1), ConfigHash: "abc", Partial: &Partial{Batches: 3, LossSum: 1.5, Correct: 7, Seen: 48, Seconds: 2, StartStep: 0}},
	} {
		path := filepath.Join(t.TempDir(), "last.safetensors")
		if err := Save(path, vs, Contents{State: st, Labels: []string{"a", "b"}, Extra: map[string]*ts.Tensor{"optim.m.lin.weight": m}}, nil); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Epoch != st.Epoch || c.State.Step != st.Step || c.State.Best != st.Best || (st.Partial != nil && *c.State.Partial != *st.Partial) {
			t.Errorf("state %+v, saved %+v", c.State, st)
		}
		if len(c.Labels) != 2 || c.Labels[1] != "b" || len(c.Optim) != 1 || len(c.Model) != 1 {
			t.Errorf("labels %v, %d optimizer and %d model tensors", c.Labels, len(c.Optim), len(c.Model))
		}
		if err := c.Restore(vs); err != nil {
			t.Fatal(err)
		}
		if err := c.CheckLabels([]string{"b", "a"}, "labels.json"); err == nil {
			t.Error("reordered labels accepted")
		}
		c.Drop()
	}
}

// TestCorruption flips bytes anywhere in a checkpoint (the state in the
// header, a dtype, a shape, a tensor byte, the labels) and truncates it:
// every change is refused by Load with one line naming the file.
func TestCorruption(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := testStore(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := Save(good, vs, Contents{State: State{Epoch: 6, Step: 60, BestEpoch: 6, Best: 0.7}, Labels: []string{"cats", "dogs"}}, nil); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%q not in the file", old)
			}
			return bytes.Replace(b, []byte(old), []byte(new), 1)
		}
	}
	tests := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"epoch in the state", replace(`\"epoch\":6`, `\"epoch\":2`)},
		{"dtype", replace(`"F32"`, `"I32"`)},
		{"shape", replace(`[3,4]`, `[4,3]`)},
		{"labels", replace(`cats`, `dogs`)},
		{"a tensor byte", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"checksum", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"vbg.sha256":"`)) + len(`"vbg.sha256":"`)
			b[i] ^= 1
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, tc.edit(bytes.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tensor.Live()
			c, err := Load(path)
			if err == nil {
				c.Drop()
				t.Fatal("a corrupted checkpoint loaded")
			}
			if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name the file on one line", err)
			}
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
		})
	}
}

// TestInterruptedSave kills a save halfway (the midway callback fails the
// write the way a crash stops it): the previous checkpoint stays intact
// and the temporary file is removed.
func TestInterruptedSave(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := testStore(t)
	path := filepath.Join(t.TempDir(), "last.safetensors")
	if err := Save(path, vs, Contents{State: State{Epoch: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		Save(path, vs, Contents{State: State{Epoch: 2}}, func() { panic("crash") })
	}()
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	if c.State.Epoch != 1 {
		t.Errorf("epoch %d after an interrupted save, want the old 1", c.State.Epoch)
	}
}
