package device

import (
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestThreadsDefaultToCores(t *testing.T) {
	tests := []struct {
		name string
		ask  int
		want int
	}{
		{"default is one per core", 0, runtime.NumCPU()},
		{"negative is default", -3, runtime.NumCPU()},
		{"one", 1, 1},
		{"explicit", 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Start(Config{Threads: tc.ask})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if w.Threads != tc.want {
				t.Errorf("Threads = %d, want %d", w.Threads, tc.want)
			}
			var got int
			if err := w.Do(func() error { got = ts.NumThreads(); return nil }); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("libtorch reports %d threads, want %d", got, tc.want)
			}
		})
	}
}

// TestGradModeStaysOnWorkerThread turns grad mode off and on inside many
// closures; because they all run on one locked thread, grad mode is always
// what the closure set. Without the lock this failed in 3-6% of runs.
func TestGradModeStaysOnWorkerThread(t *testing.T) {
	w, err := Start(Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 200; i++ {
		err := w.Do(func() error {
			x := ts.MustOnes([]int64{4}, 6, w.Device).MustSetRequiresGrad(true, true)
			defer x.MustDrop()
			var y *ts.Tensor
			ts.NoGrad(func() { y = x.MustMulScalar(ts.FloatScalar(2), false) })
			runtime.Gosched()
			if y.MustRequiresGrad() {
				t.Errorf("iteration %d: no-grad result requires grad", i)
			}
			y.MustDrop()
			z := x.MustMulScalar(ts.FloatScalar(2), false)
			defer z.MustDrop()
			if !z.MustRequiresGrad() {
				t.Errorf("iteration %d: grad mode was not restored", i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"gpu", "cuda:x", "cuda:-1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if d, err := Parse("cpu"); err != nil || d.Name != "CPU" {
		t.Errorf("Parse(cpu) = %v, %v", d, err)
	}
}

// TestNestedNoGrad checks the patched grad-mode handling: a NoGrad nested
// in another leaves gradients off, and the outer one restores them.
func TestNestedNoGrad(t *testing.T) {
	w, err := Start(Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Do(func() error {
		x := ts.MustOnes([]int64{2}, 6, w.Device).MustSetRequiresGrad(true, true)
		defer x.MustDrop()
		requires := func() bool {
			y := x.MustMulScalar(ts.FloatScalar(2), false)
			defer y.MustDrop()
			return y.MustRequiresGrad()
		}
		ts.NoGrad(func() {
			ts.NoGrad(func() {})
			if requires() {
				t.Error("grad mode on after a nested NoGrad")
			}
		})
		if !requires() {
			t.Error("grad mode not restored after NoGrad")
		}
		if prev, err := ts.GradSetEnabled(false); err != nil || !prev {
			t.Errorf("GradSetEnabled reported previous state %v (%v), want true", prev, err)
		}
		if prev, _ := ts.GradSetEnabled(true); prev {
			t.Error("GradSetEnabled reported previous state true, want false")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAutocastBF16 checks the autocast binding added by gotchpatch: inside
// ts.Autocast a float32 matmul computes in bfloat16, and outside it does not.
func TestAutocastBF16(t *testing.T) {
	w, err := Start(Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Do(func() error {
		x := ts.MustOnes([]int64{4, 4}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		var inside gotch.DType
		if err := ts.Autocast(false, true, func() {
			y := x.MustMatmul(x, false)
			inside = y.DType()
			y.MustDrop()
		}); err != nil {
			return err
		}
		if inside != gotch.BFloat16 {
			t.Errorf("matmul under autocast gave %v, want bfloat16", inside)
		}
		y := x.MustMatmul(x, false)
		defer y.MustDrop()
		if y.DType() != gotch.Float {
			t.Errorf("matmul after autocast gave %v, want float32", y.DType())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
