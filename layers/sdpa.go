package layers

import (
	"math"
	"strings"
	"sync/atomic"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// AttentionOptions tune Scope.Attention.
type AttentionOptions struct {
	// Dropout is the probability of dropping an attention weight, applied
	// only when Train is true.
	Dropout float64
	Train   bool
	// Probs asks for the attention probabilities too (an explanation or a
	// trace of the pass); they are then computed explicitly.
	Probs bool
}

// fusedAttention is false once libtorch has said it has no fused
// scaled_dot_product_attention (an older libtorch built through the
// compatibility step); attention then always takes the explicit path.
var fusedAttention atomic.Bool

func init() { fusedAttention.Store(true) }

// Attention is scaled dot-product attention, the one implementation every
// attention layer of VBG uses (eq. 4 and 10, and the fusion's
// cross-attention):
//
//	A = softmax(Q·Kᵀ/√d + M),  out = A·V
//
// q is [B, h, Lq, d]; k and v are [B, h, Lk, d]; mask is nil, boolean
// (true = attend) or additive (0 or a large negative value), broadcastable
// to [B, h, Lq, Lk]. It returns out [B, h, Lq, d] and, when o.Probs, A
// [B, h, Lq, Lk] (after dropout), both owned by s.
//
// Normally libtorch's fused scaled_dot_product_attention computes it; when
// the probabilities are wanted, or this libtorch lacks the fused op, the
// same equation is computed step by step.
func (s *Scope) Attention(q, k, v, mask *ts.Tensor, o AttentionOptions) (out, probs *ts.Tensor) {
	if !s.ready(q, k, v) {
		return nil, nil
	}
	p := 0.0
	if o.Train {
		p = o.Dropout
	}
	if !o.Probs && fusedAttention.Load() {
		m := tensor.None
		if mask != nil {
			m = mask
		}
		out, err := ts.ScaledDotProductAttention(q, k, v, m, p, false, nil)
		if err == nil || !missingOp(err) {
			return s.Own(out, err), nil
		}
		fusedAttention.Store(false)
	}
	return s.explicitAttention(q, k, v, mask, p)
}

// explicitAttention computes Attention step by step (probabilities kept).
func (s *Scope) explicitAttention(q, k, v, mask *ts.Tensor, p float64) (out, probs *ts.Tensor) {
	size := s.Size(q)
	if size == nil {
		return nil, nil
	}
	scores := s.MulScalar(s.Matmul(q, s.Transpose(k, -2, -1)), 1/math.Sqrt(float64(size[len(size)-1])))
	switch {
	case mask == nil:
	case mask.DType() == gotch.Bool:
		masked := s.Do(func() (*ts.Tensor, error) { return mask.LogicalNot(false) })
		scores = s.Do(func() (*ts.Tensor, error) {
			return scores.MaskedFill(masked, ts.FloatScalar(math.Inf(-1)), false)
		})
	case !s.Failed():
		scores = s.Add(scores, s.Totype(mask, scores.DType()))
	}
	probs = s.Dropout(s.Softmax(scores, -1), p, p > 0)
	return s.Matmul(probs, v), probs
}

// missingOp reports whether err says that this libtorch has no such
// operation (the compatibility step's stubs say so).
func missingOp(err error) bool {
	return strings.Contains(err.Error(), "is not available in this libtorch")
}
