package layers

import (
	"math"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// TestAttentionPaths checks that the explicit path (taken when the
// probabilities are wanted, or when libtorch has no fused kernel) computes
// what the fused kernel does, for every kind of mask, and that its
// probabilities are a distribution over the attended keys.
func TestAttentionPaths(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	if err := ts.ManualSeed(7); err != nil {
		t.Fatal(err)
	}
	q := ts.MustRandn([]int64{2, 3, 4, 8}, gotch.Float, gotch.CPU)
	k := ts.MustRandn([]int64{2, 3, 5, 8}, gotch.Float, gotch.CPU)
	v := ts.MustRandn([]int64{2, 3, 5, 8}, gotch.Float, gotch.CPU)
	keep := []float32{1, 1, 1, 0, 0, 1, 1, 1, 1, 1} // [2, 5]: the first row ignores its last two keys
	boolMask := ts.MustOfSlice(keep).MustGt(ts.FloatScalar(0.5), true).MustView([]int64{2, 1, 1, 5}, true)
	add := make([]float32, len(keep))
	for i, m := range keep {
		add[i] = (1 - m) * -math.MaxFloat32
	}
	addMask := ts.MustOfSlice(add).MustView([]int64{2, 1, 1, 5}, true)
	defer tensor.Drop(q, k, v, boolMask, addMask)
	for _, tc := range []struct {
		name string
		mask *ts.Tensor
	}{{"no mask", nil}, {"boolean mask", boolMask}, {"additive mask", addMask}} {
		t.Run(tc.name, func(t *testing.T) {
			before := tensor.Live()
			s := NewScope("attention")
			fused, _ := s.Attention(q, k, v, tc.mask, AttentionOptions{})
			explicit, probs := s.Attention(q, k, v, tc.mask, AttentionOptions{Probs: true})
			delta := s.Sub(fused, explicit)
			gap := s.Do(func() (*ts.Tensor, error) { return delta.Abs(false) })
			diff := s.Float(s.Do(func() (*ts.Tensor, error) { return gap.Max(false) }))
			sums := s.Sum(probs, -1)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if diff > 1e-6 {
				t.Errorf("explicit path differs from the fused kernel by %g", diff)
			}
			got, err := tensor.Float64s(sums)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				if math.Abs(g-1) > 1e-6 {
					t.Fatalf("probabilities of query %d sum to %g", i, g)
				}
			}
			if tc.mask != nil {
				p, _ := tensor.Float64s(probs)
				for i := 0; i < 3*4; i++ { // first example: every head and query
					if p[i*5+3] != 0 || p[i*5+4] != 0 {
						t.Fatalf("masked keys got weight %v", p[i*5:i*5+5])
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
		})
	}
}
