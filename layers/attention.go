package layers

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SelfAttention mirrors Hugging Face's ViTSelfAttention and
// BertSelfAttention (SDPA variants: ViTSdpaSelfAttention,
// BertSdpaSelfAttention): per-head query, key and value projections of one
// sequence and softmax attention between them, computed by Scope.Attention
// (libtorch's scaled_dot_product_attention unless a trace wants the
// probabilities).
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type SelfAttention struct {
	Query, Key, Value *Linear // "query", "key", "value": [D, D]
	NumHeads, HeadDim int64
	DropoutProb       float64 // on the attention probabilities, in training
	Name              string  // checkpoint path, e.g. "vit.encoder.layer.0.attention.attention"
}

// NewSelfAttention builds the projections under p ("query", "key", "value").
// hidden must be divisible by heads.
func NewSelfAttention(p *nn.Path, hidden, heads int64, bias bool, dropout float64) (*SelfAttention, error) {
	if heads <= 0 || hidden <= 0 || hidden%heads != 0 {
		return nil, fmt.Errorf("self-attention %s: hidden size %d is not a positive multiple of %d heads", key(p, ""), hidden, heads)
	}
	a := &SelfAttention{NumHeads: heads, HeadDim: hidden / heads, DropoutProb: dropout, Name: PathName(p)}
	var err error
	for _, l := range []struct {
		name string
		dst  **Linear
	}{{"query", &a.Query}, {"key", &a.Key}, {"value", &a.Value}} {
		if *l.dst, err = NewLinear(p.Sub(l.name), hidden, hidden, bias); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Forward attends x [B, L, D] to itself and returns the concatenated heads
// [B, L, D] (before the output projection W^O). mask is nil or an additive
// mask broadcastable to [B, heads, L, L] (see AdditiveMask). With a trace,
// the probabilities [B, heads, L, L] are recorded under a.Name.
func (a *SelfAttention) Forward(x, mask *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(a.Name)
	size := s.Shape(x, 3)
	if size == nil {
		return s.Result(nil)
	}
	b, l := size[0], size[1]
	// Eq. (3)/(9): Q = X·W^Q, K = X·W^K, V = X·W^V, split into heads [B, h, L, d_k].
	q := splitHeads(s, s.Apply(a.Query, x), b, l, a.NumHeads, a.HeadDim)
	k := splitHeads(s, s.Apply(a.Key, x), b, l, a.NumHeads, a.HeadDim)
	v := splitHeads(s, s.Apply(a.Value, x), b, l, a.NumHeads, a.HeadDim)
	// Eq. (4)/(10): head_i = softmax(Q_i·K_iᵀ/√d_k + M)·V_i.
	ctx, probs := s.Attention(q, k, v, MaskLike(s, mask, q), AttentionOptions{Dropout: a.DropoutProb, Train: pass.Train, Probs: pass.Trace != nil})
	pass.Trace.Record(s, a.Name, probs)
	// Eq. (5)/(11): [head_1; …; head_h], back to [B, L, h·d_k].
	return s.Result(mergeHeads(s, ctx, b, l, a.NumHeads*a.HeadDim))
}

// splitHeads views x [B, L, h·d] as heads [B, h, L, d].
func splitHeads(s *Scope, x *ts.Tensor, b, l, heads, dim int64) *ts.Tensor {
	return s.Transpose(s.View(x, b, l, heads, dim), 1, 2)
}

// mergeHeads turns heads [B, h, L, d] back into [B, L, h·d].
func mergeHeads(s *Scope, x *ts.Tensor, b, l, dim int64) *ts.Tensor {
	return s.Reshape(s.Transpose(x, 1, 2), b, l, dim)
}

// MaskLike is an additive mask in q's dtype: under autocast q is bfloat16
// while the mask was made in the hidden states' float32, and SDPA wants
// them to agree. Boolean and missing masks are returned as they are.
func MaskLike(s *Scope, mask, q *ts.Tensor) *ts.Tensor {
	if mask == nil || q == nil || mask.DType() == gotch.Bool || mask.DType() == q.DType() {
		return mask
	}
	return s.Totype(mask, q.DType())
}

// AdditiveMask turns a padding mask [B, L] (1 or true = attend, 0 = padding;
// any integer, bool or float dtype) into an additive attention mask
// [B, 1, 1, L] of dtype: 0 where attended and the dtype's lowest finite value
// where masked, as Hugging Face's get_extended_attention_mask does. A finite
// value (not -inf) keeps rows that are entirely padding finite. The caller
// owns the result.
func AdditiveMask(mask *ts.Tensor, dtype gotch.DType) (*ts.Tensor, error) {
	s := NewScope("attention mask")
	size := s.Shape(mask, 2)
	lowest, err := lowestFinite(dtype)
	s.Fail(err)
	if s.Failed() {
		return s.Keep(nil)
	}
	// (1 - m)·lowest  ==  (m - 1)·(-lowest)
	m := s.MulScalar(s.AddScalar(s.Totype(mask, dtype), -1), -lowest)
	return s.Keep(s.View(m, size[0], 1, 1, size[1]))
}

// lowestFinite is torch.finfo(dtype).min.
func lowestFinite(dtype gotch.DType) (float64, error) {
	switch dtype {
	case gotch.Float:
		return -math.MaxFloat32, nil
	case gotch.Double:
		return -math.MaxFloat64, nil
	case gotch.Half:
		return -65504, nil
	case gotch.BFloat16:
		return -3.3895313892515355e38, nil
	}
	return 0, fmt.Errorf("no additive mask for dtype %v", dtype)
}
