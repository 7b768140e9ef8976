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
// sequence and softmax attention between them, computed by libtorch's
// scaled_dot_product_attention.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type SelfAttention struct {
	Query, Key, Value *Linear // "query", "key", "value": [D, D]
	NumHeads, HeadDim int64
	DropoutProb       float64 // on the attention probabilities, in training
}

// NewSelfAttention builds the projections under p ("query", "key", "value").
// hidden must be divisible by heads.
func NewSelfAttention(p *nn.Path, hidden, heads int64, bias bool, dropout float64) (*SelfAttention, error) {
	if heads <= 0 || hidden <= 0 || hidden%heads != 0 {
		return nil, fmt.Errorf("self-attention %s: hidden size %d is not a positive multiple of %d heads", key(p, ""), hidden, heads)
	}
	a := &SelfAttention{NumHeads: heads, HeadDim: hidden / heads, DropoutProb: dropout}
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
// mask broadcastable to [B, heads, L, L] (see AdditiveMask).
func (a *SelfAttention) Forward(x, mask *ts.Tensor, train bool) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil || len(size) != 3 {
		return nil, fmt.Errorf("self-attention: want input [B, L, D], got %v (%v)", size, err)
	}
	b, l := size[0], size[1]
	// Eq. (3)/(9): Q = X·W^Q, K = X·W^K, V = X·W^V, split into heads [B, h, L, d_k].
	q, err := a.project(a.Query, x, b, l)
	if err != nil {
		return nil, fmt.Errorf("self-attention query: %w", err)
	}
	k, err := a.project(a.Key, x, b, l)
	if err != nil {
		drop(q)
		return nil, fmt.Errorf("self-attention key: %w", err)
	}
	v, err := a.project(a.Value, x, b, l)
	if err != nil {
		drop(q, k)
		return nil, fmt.Errorf("self-attention value: %w", err)
	}
	// Eq. (4)/(10): head_i = softmax(Q_i·K_iᵀ/√d_k)·V_i (+ mask before softmax).
	p := 0.0
	if train {
		p = a.DropoutProb
	}
	if mask == nil {
		// No mask: libtorch gets None (VBG's gotch patch passes a nil
		// optional tensor as nullopt) and may use its fused CPU kernel.
		mask = none
	}
	if mask != none && mask.DType() != gotch.Bool && mask.DType() != q.DType() {
		// Under autocast q is bfloat16 while the additive mask was made in
		// the hidden states' float32; SDPA wants them to agree.
		m, err := mask.Totype(q.DType(), false)
		if err != nil {
			drop(q, k, v)
			return nil, fmt.Errorf("self-attention mask: %w", err)
		}
		defer drop(m)
		mask = m
	}
	ctx, err := ts.ScaledDotProductAttention(q, k, v, mask, p, false, nil)
	drop(q, k, v)
	if err != nil {
		return nil, fmt.Errorf("self-attention: %w", err)
	}
	// Eq. (5)/(11): [head_1; …; head_h] — back to [B, L, h·d_k].
	t, err := ctx.Transpose(1, 2, true)
	if err != nil {
		return nil, fmt.Errorf("self-attention merge heads: %w", err)
	}
	out, err := t.Reshape([]int64{b, l, a.NumHeads * a.HeadDim}, true)
	if err != nil {
		return nil, fmt.Errorf("self-attention merge heads: %w", err)
	}
	return out, nil
}

// project computes lin(x) as heads: [B, L, D] -> [B, h, L, d_k] (a view).
func (a *SelfAttention) project(lin *Linear, x *ts.Tensor, b, l int64) (*ts.Tensor, error) {
	y, err := lin.Forward(x)
	if err != nil {
		return nil, err
	}
	v, err := y.View([]int64{b, l, a.NumHeads, a.HeadDim}, true)
	if err != nil {
		return nil, err
	}
	t, err := v.Transpose(1, 2, true)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// AdditiveMask turns a padding mask [B, L] (1 or true = attend, 0 = padding;
// any integer, bool or float dtype) into an additive attention mask
// [B, 1, 1, L] of dtype: 0 where attended and the dtype's lowest finite value
// where masked, as Hugging Face's get_extended_attention_mask does. A finite
// value (not -inf) keeps rows that are entirely padding finite. The caller
// owns the result.
func AdditiveMask(mask *ts.Tensor, dtype gotch.DType) (*ts.Tensor, error) {
	size, err := mask.Size()
	if err != nil || len(size) != 2 {
		return nil, fmt.Errorf("attention mask: want [B, L], got %v (%v)", size, err)
	}
	lowest, err := lowestFinite(dtype)
	if err != nil {
		return nil, fmt.Errorf("attention mask: %w", err)
	}
	m, err := mask.Totype(dtype, false)
	if err != nil {
		return nil, fmt.Errorf("attention mask: %w", err)
	}
	// (1 - m)·lowest  ==  (m - 1)·(-lowest)
	if err := m.AddScalar_(ts.FloatScalar(-1)); err != nil {
		drop(m)
		return nil, fmt.Errorf("attention mask: %w", err)
	}
	if err := m.MulScalar_(ts.FloatScalar(-lowest)); err != nil {
		drop(m)
		return nil, fmt.Errorf("attention mask: %w", err)
	}
	out, err := m.View([]int64{size[0], 1, 1, size[1]}, true)
	if err != nil {
		return nil, fmt.Errorf("attention mask: %w", err)
	}
	return out, nil
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
