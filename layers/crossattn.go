package layers

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// CrossAttention is multi-head attention whose queries come from one
// sequence and whose keys and values come from another: the building block
// of VBG's bidirectional fusion layer (image tokens attend to text tokens and
// text tokens attend to image patches). Children: query, key, value, output.
type CrossAttention struct {
	Query, Key, Value, Output *Linear
	Heads, HeadDim            int64
}

// NewCrossAttention builds attention from dim-sized queries onto dim-sized
// keys and values with heads heads; dim must be a multiple of heads.
func NewCrossAttention(p *nn.Path, dim, heads int64) (*CrossAttention, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("cross attention %s: dim %d is not a multiple of %d heads", p.Paths(), dim, heads)
	}
	a := &CrossAttention{Heads: heads, HeadDim: dim / heads}
	var err error
	for _, l := range []struct {
		name string
		dst  **Linear
	}{{"query", &a.Query}, {"key", &a.Key}, {"value", &a.Value}, {"output", &a.Output}} {
		if *l.dst, err = NewLinear(p.Sub(l.name), dim, dim, true); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// splitHeads turns [B, N, D] into [B, H, N, D/H]; it frees x.
func (a *CrossAttention) splitHeads(x *ts.Tensor) (*ts.Tensor, error) {
	defer drop(x)
	size := x.MustSize()
	v, err := x.View([]int64{size[0], size[1], a.Heads, a.HeadDim}, false)
	if err != nil {
		return nil, err
	}
	defer drop(v)
	return v.Transpose(1, 2, false)
}

// project applies lin to x and splits the heads.
func (a *CrossAttention) project(lin *Linear, x *ts.Tensor) (*ts.Tensor, error) {
	y, err := lin.Forward(x)
	if err != nil {
		return nil, err
	}
	return a.splitHeads(y)
}

// boolMask turns a [B, Nk] 1/0 mask into a [B, 1, 1, Nk] boolean mask
// (true = attend), the form scaled_dot_product_attention broadcasts.
func boolMask(mask *ts.Tensor) (*ts.Tensor, error) {
	if mask == nil {
		return nil, nil
	}
	size := mask.MustSize()
	b, err := mask.Ne(ts.IntScalar(0), false)
	if err != nil {
		return nil, err
	}
	defer drop(b)
	return b.View([]int64{size[0], 1, 1, size[1]}, false)
}

// Forward computes softmax(Q Kᵀ/√d + mask) V with Q from queries [B, Nq, D]
// and K, V from context [B, Nk, D]; contextMask [B, Nk] (1 = real token,
// 0 = padding) may be nil. It returns [B, Nq, D].
func (a *CrossAttention) Forward(queries, context, contextMask *ts.Tensor) (*ts.Tensor, error) {
	q, err := a.project(a.Query, queries)
	if err != nil {
		return nil, fmt.Errorf("cross attention query: %w", err)
	}
	defer drop(q)
	k, err := a.project(a.Key, context)
	if err != nil {
		return nil, fmt.Errorf("cross attention key: %w", err)
	}
	defer drop(k)
	v, err := a.project(a.Value, context)
	if err != nil {
		return nil, fmt.Errorf("cross attention value: %w", err)
	}
	defer drop(v)
	m, err := boolMask(contextMask)
	if err != nil {
		return nil, fmt.Errorf("cross attention mask: %w", err)
	}
	if m != nil {
		defer drop(m)
	} else {
		m = none
	}
	o, err := ts.ScaledDotProductAttention(q, k, v, m, 0, false, nil)
	if err != nil {
		return nil, fmt.Errorf("cross attention: %w", err)
	}
	defer drop(o)
	size := queries.MustSize()
	ot, err := o.Transpose(1, 2, false)
	if err != nil {
		return nil, err
	}
	defer drop(ot)
	merged, err := ot.Reshape([]int64{size[0], size[1], a.Heads * a.HeadDim}, false)
	if err != nil {
		return nil, err
	}
	defer drop(merged)
	return a.Output.Forward(merged)
}

// Weights returns the attention probabilities [B, Nq, Nk], averaged over
// heads, for explanation figures. It computes them explicitly, so call it
// under no-grad and only when they are wanted.
func (a *CrossAttention) Weights(queries, context, contextMask *ts.Tensor) (*ts.Tensor, error) {
	q, err := a.project(a.Query, queries)
	if err != nil {
		return nil, err
	}
	defer drop(q)
	k, err := a.project(a.Key, context)
	if err != nil {
		return nil, err
	}
	defer drop(k)
	kt, err := k.Transpose(-2, -1, false)
	if err != nil {
		return nil, err
	}
	defer drop(kt)
	s, err := q.Matmul(kt, false)
	if err != nil {
		return nil, err
	}
	if err := s.MulScalar_(ts.FloatScalar(1 / math.Sqrt(float64(a.HeadDim)))); err != nil {
		drop(s)
		return nil, err
	}
	if contextMask != nil {
		m, err := boolMask(contextMask)
		if err != nil {
			drop(s)
			return nil, err
		}
		notM, err := m.LogicalNot(true)
		if err != nil {
			drop(s)
			return nil, err
		}
		if err := s.MaskedFill_(notM, ts.FloatScalar(math.Inf(-1))); err != nil {
			drop(s, notM)
			return nil, err
		}
		drop(notM)
	}
	defer drop(s)
	p, err := s.Softmax(-1, s.DType(), false)
	if err != nil {
		return nil, err
	}
	defer drop(p)
	return p.MeanDim([]int64{1}, false, p.DType(), false)
}
