package layers

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

func onesTensor(t *testing.T, dims ...int64) *ts.Tensor {
	t.Helper()
	x, err := ts.Ones(dims, gotch.Float, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestScope checks the scope's contract: results survive Keep, every
// intermediate is freed, the first error stops the chain (later operations
// are skipped, never run on a missing tensor) and comes back wrapped with
// the scope's name.
func TestScope(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	x := onesTensor(t, 2, 3)
	defer tensor.Drop(x)
	w := onesTensor(t, 4, 5) // does not fit x: matmul fails
	defer tensor.Drop(w)
	tests := []struct {
		name    string
		chain   func(s *Scope) *ts.Tensor
		wantErr string
		want    []float64
	}{
		{"ok", func(s *Scope) *ts.Tensor {
			h := s.Add(x, s.MulScalar(x, 2)) // 3
			return s.Sum(s.Reshape(s.Transpose(h, 0, 1), 6), 0)
		}, "", []float64{18}},
		{"first error wins, later ops skipped", func(s *Scope) *ts.Tensor {
			h := s.Matmul(x, w)
			if h != nil {
				t.Error("failed op returned a tensor")
			}
			s.Fail(errors.New("second error"))
			return s.Add(s.Relu(h), x) // would dereference nil without the scope
		}, "blk.0: ", nil},
		{"explicit failure", func(s *Scope) *ts.Tensor {
			if s.Shape(x, 3) != nil {
				t.Error("Shape accepted rank 2 for 3")
			}
			return s.Add(x, x)
		}, "want a tensor of 3 dimensions, got shape [2 3]", nil},
		{"nil input", func(s *Scope) *ts.Tensor { return s.Add(x, nil) }, "missing tensor", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tensor.Live()
			s := NewScope("blk.0")
			y, err := s.Keep(tc.chain(s))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "blk.0: ") {
					t.Fatalf("error %v, want one containing %q and naming blk.0", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "second error") {
					t.Errorf("error %v is not the first one", err)
				}
				if y != nil {
					t.Error("a tensor came back with an error")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				got, err := tensor.Float64s(y)
				if err != nil || len(got) != len(tc.want) || got[0] != tc.want[0] {
					t.Errorf("got %v (%v), want %v", got, err, tc.want)
				}
				tensor.Drop(y)
			}
			if after := tensor.Live(); after != before {
				t.Errorf("%d tensors leaked", after-before)
			}
		})
	}
}

func TestScopeFree(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	x := onesTensor(t, 3)
	defer tensor.Drop(x)
	before := tensor.Live()
	s := NewScope("")
	h := x
	for i := 0; i < 5; i++ {
		next := s.AddScalar(h, 1)
		s.Free(h) // x is not the scope's: left alone
		h = next
		if got := tensor.Live() - before; got != 1 {
			t.Fatalf("step %d: %d live intermediates, want 1", i, got)
		}
	}
	if v := s.Float(s.Mean(h, 0)); v != 6 {
		t.Errorf("mean %v, want 6", v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := tensor.Live(); after != before {
		t.Errorf("%d tensors leaked", after-before)
	}
	if ok := tensor.Defined(x); !ok {
		t.Error("the scope freed its input")
	}
}
