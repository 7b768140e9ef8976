package layers

import (
	"fmt"

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
	Name                      string // checkpoint path, e.g. "fusion.image_to_text"
}

// NewCrossAttention builds attention from dim-sized queries onto dim-sized
// keys and values with heads heads; dim must be a multiple of heads.
func NewCrossAttention(p *nn.Path, dim, heads int64) (*CrossAttention, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("cross attention %s: dim %d is not a multiple of %d heads", p.Paths(), dim, heads)
	}
	a := &CrossAttention{Heads: heads, HeadDim: dim / heads, Name: PathName(p)}
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

// Forward computes softmax(Q Kᵀ/√d + mask) V ·W^O with Q from queries
// [B, Nq, D] and K, V from context [B, Nk, D]; contextMask [B, Nk] (1 = real
// token, 0 = padding) may be nil. It returns [B, Nq, D]. With a trace, the
// probabilities [B, heads, Nq, Nk] are recorded under a.Name.
func (a *CrossAttention) Forward(queries, context, contextMask *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(a.Name)
	qs, cs := s.Shape(queries, 3), s.Shape(context, 3)
	if s.Failed() {
		return s.Result(nil)
	}
	q := splitHeads(s, s.Apply(a.Query, queries), qs[0], qs[1], a.Heads, a.HeadDim)
	k := splitHeads(s, s.Apply(a.Key, context), cs[0], cs[1], a.Heads, a.HeadDim)
	v := splitHeads(s, s.Apply(a.Value, context), cs[0], cs[1], a.Heads, a.HeadDim)
	o, probs := s.Attention(q, k, v, boolMask(s, contextMask), AttentionOptions{Probs: pass.Trace != nil})
	pass.Trace.Record(s, a.Name, probs)
	return s.Result(s.Apply(a.Output, mergeHeads(s, o, qs[0], qs[1], a.Heads*a.HeadDim)))
}

// boolMask turns a [B, Nk] 1/0 mask into a [B, 1, 1, Nk] boolean mask
// (true = attend), the form scaled_dot_product_attention broadcasts; nil
// stays nil.
func boolMask(s *Scope, mask *ts.Tensor) *ts.Tensor {
	if mask == nil {
		return nil
	}
	size := s.Shape(mask, 2)
	if size == nil {
		return nil
	}
	b := s.Do(func() (*ts.Tensor, error) { return mask.Ne(ts.IntScalar(0), false) })
	return s.View(b, size[0], 1, 1, size[1])
}
