package layers

import (
	"fmt"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// BlockConfig sizes one transformer encoder block.
type BlockConfig struct {
	Hidden       int64   // D, hidden_size
	Heads        int64   // h, num_attention_heads
	Intermediate int64   // MLP width, intermediate_size
	Act          string  // hidden_act: "gelu", "relu", ... (see ActivationByName)
	Eps          float64 // layer_norm_eps
	QKVBias      bool    // bias on query/key/value (qkv_bias; always true in BERT)
	// HiddenDropout is applied after every dense output and the embeddings;
	// AttentionDropout to the attention probabilities. Both only in training.
	HiddenDropout, AttentionDropout float64
}

// Validate reports the first inconsistency in c.
func (c BlockConfig) Validate() error {
	switch {
	case c.Hidden <= 0 || c.Heads <= 0 || c.Intermediate <= 0:
		return fmt.Errorf("hidden size %d, heads %d and intermediate size %d must be positive", c.Hidden, c.Heads, c.Intermediate)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("hidden size %d is not a multiple of the number of attention heads %d", c.Hidden, c.Heads)
	case c.Eps <= 0:
		return fmt.Errorf("layer norm eps %g must be positive", c.Eps)
	case c.HiddenDropout < 0 || c.HiddenDropout >= 1 || c.AttentionDropout < 0 || c.AttentionDropout >= 1:
		return fmt.Errorf("dropout probabilities %g, %g must be in [0, 1)", c.HiddenDropout, c.AttentionDropout)
	}
	if _, err := ActivationByName(c.Act); err != nil {
		return err
	}
	return nil
}

// ResidualOutput mirrors Hugging Face's ViTSelfOutput, ViTOutput,
// BertSelfOutput and BertOutput: a dense layer, dropout and, in BERT
// (post-norm), the residual connection and a LayerNorm. In ViT the residual
// addition lives in the block (ViTLayer), which passes no residual.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type ResidualOutput struct {
	Dense       *Linear    // "dense"
	LayerNorm   *LayerNorm // "LayerNorm"; nil for pre-norm (ViT)
	DropoutProb float64
	Name        string // checkpoint path
}

// NewResidualOutput builds "dense" [out, in] and, if postNorm, "LayerNorm"
// under p.
func NewResidualOutput(p *nn.Path, in, out int64, postNorm bool, eps, dropout float64) (*ResidualOutput, error) {
	d, err := NewLinear(p.Sub("dense"), in, out, true)
	if err != nil {
		return nil, err
	}
	o := &ResidualOutput{Dense: d, DropoutProb: dropout, Name: PathName(p)}
	if postNorm {
		if o.LayerNorm, err = NewLayerNorm(p.Sub("LayerNorm"), out, eps); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Forward returns dropout(dense(h)), plus residual when it is not nil, then
// LayerNorm when the output has one. Neither input is freed.
func (o *ResidualOutput) Forward(h, residual *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := NewScope(o.Name)
	y := s.Dropout(s.Apply(o.Dense, h), o.DropoutProb, train)
	if residual != nil {
		y = s.Add(y, residual)
	}
	if o.LayerNorm != nil {
		y = s.Apply(o.LayerNorm, y)
	}
	return s.Result(y)
}

// Attention mirrors Hugging Face's ViTAttention and BertAttention: self-
// attention followed by its output projection W^O.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type Attention struct {
	Self   *SelfAttention  // "attention" in ViT, "self" in BERT
	Output *ResidualOutput // "output"
	Name   string          // checkpoint path
}

// NewAttention builds the self-attention under p.Sub(selfName) and the output
// under p.Sub("output").
func NewAttention(p *nn.Path, selfName string, c BlockConfig, postNorm bool) (*Attention, error) {
	s, err := NewSelfAttention(p.Sub(selfName), c.Hidden, c.Heads, c.QKVBias, c.AttentionDropout)
	if err != nil {
		return nil, err
	}
	o, err := NewResidualOutput(p.Sub("output"), c.Hidden, c.Hidden, postNorm, c.Eps, c.HiddenDropout)
	if err != nil {
		return nil, err
	}
	return &Attention{Self: s, Output: o, Name: PathName(p)}, nil
}

// Forward returns MHA(x)·W^O, eq. (5)/(11), with the residual and
// LayerNorm of eq. (12) when residual is given (BERT; see ResidualOutput).
func (a *Attention) Forward(x, mask, residual *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(a.Name)
	ctx := s.Do(func() (*ts.Tensor, error) { return a.Self.Forward(x, mask, pass) })
	return s.Result(s.Do(func() (*ts.Tensor, error) { return a.Output.Forward(ctx, residual, pass.Train) }))
}

// Intermediate mirrors Hugging Face's ViTIntermediate and BertIntermediate:
// the first MLP layer and its activation.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type Intermediate struct {
	Dense *Linear // "dense": [intermediate, D]
	Act   Activation
	Name  string // checkpoint path
}

// NewIntermediate builds "dense" under p.
func NewIntermediate(p *nn.Path, c BlockConfig) (*Intermediate, error) {
	act, err := ActivationByName(c.Act)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key(p, "dense"), err)
	}
	d, err := NewLinear(p.Sub("dense"), c.Hidden, c.Intermediate, true)
	if err != nil {
		return nil, err
	}
	return &Intermediate{Dense: d, Act: act, Name: PathName(p)}, nil
}

// Forward returns act(x·W_1 + b_1), the inner part of eq. (13).
func (m *Intermediate) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	s := NewScope(m.Name)
	return s.Result(s.Apply(m.Act, s.Apply(m.Dense, x)))
}

// Block is one transformer encoder layer: [B, L, D] -> [B, L, D]. mask is
// nil or an additive mask (AdditiveMask). The input is not freed.
type Block interface {
	Forward(x, mask *ts.Tensor, pass Pass) (*ts.Tensor, error)
}

// PreNormBlock mirrors Hugging Face's ViTLayer: LayerNorm before attention and
// before the MLP, residuals around both (pre-norm, as in ViT).
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
type PreNormBlock struct {
	LayerNormBefore *LayerNorm      // "layernorm_before"
	Attention       *Attention      // "attention" (self-attention at "attention.attention")
	LayerNormAfter  *LayerNorm      // "layernorm_after"
	Intermediate    *Intermediate   // "intermediate"
	Output          *ResidualOutput // "output"
	Name            string          // checkpoint path, e.g. "vit.encoder.layer.3"
}

// NewPreNormBlock builds a ViT layer under p (e.g. "encoder.layer.3").
func NewPreNormBlock(p *nn.Path, c BlockConfig) (*PreNormBlock, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("block %s: %w", key(p, ""), err)
	}
	b := PreNormBlock{Name: PathName(p)}
	var err error
	if b.LayerNormBefore, err = NewLayerNorm(p.Sub("layernorm_before"), c.Hidden, c.Eps); err != nil {
		return nil, err
	}
	if b.Attention, err = NewAttention(p.Sub("attention"), "attention", c, false); err != nil {
		return nil, err
	}
	if b.LayerNormAfter, err = NewLayerNorm(p.Sub("layernorm_after"), c.Hidden, c.Eps); err != nil {
		return nil, err
	}
	if b.Intermediate, err = NewIntermediate(p.Sub("intermediate"), c); err != nil {
		return nil, err
	}
	if b.Output, err = NewResidualOutput(p.Sub("output"), c.Intermediate, c.Hidden, false, c.Eps, c.HiddenDropout); err != nil {
		return nil, err
	}
	return &b, nil
}

// Forward applies the layer. The paper writes eq. (6)–(7) post-norm; ViT
// (and its checkpoints) are pre-norm, which is what this computes.
func (b *PreNormBlock) Forward(x, mask *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(b.Name)
	attn := Func(func(n *ts.Tensor) (*ts.Tensor, error) { return b.Attention.Forward(n, mask, nil, pass) })
	mlp := Func(func(n *ts.Tensor) (*ts.Tensor, error) {
		return b.Output.Forward(s.Apply(b.Intermediate, n), nil, pass.Train)
	})
	h := s.Add(x, s.Apply(attn, s.Apply(b.LayerNormBefore, x)))           // eq. (6): z' = z + MHA(LN(z))
	return s.Result(s.Add(h, s.Apply(mlp, s.Apply(b.LayerNormAfter, h)))) // eq. (7): z = z' + MLP(LN(z'))
}

// PostNormBlock mirrors Hugging Face's BertLayer: residual then LayerNorm
// after attention and after the feed-forward network (post-norm, as in BERT).
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type PostNormBlock struct {
	Attention    *Attention      // "attention" (self-attention at "attention.self")
	Intermediate *Intermediate   // "intermediate"
	Output       *ResidualOutput // "output" (with "output.LayerNorm")
	Name         string          // checkpoint path, e.g. "bert.encoder.layer.0"
}

// NewPostNormBlock builds a BERT layer under p (e.g. "encoder.layer.3").
func NewPostNormBlock(p *nn.Path, c BlockConfig) (*PostNormBlock, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("block %s: %w", key(p, ""), err)
	}
	b := PostNormBlock{Name: PathName(p)}
	var err error
	if b.Attention, err = NewAttention(p.Sub("attention"), "self", c, true); err != nil {
		return nil, err
	}
	if b.Intermediate, err = NewIntermediate(p.Sub("intermediate"), c); err != nil {
		return nil, err
	}
	if b.Output, err = NewResidualOutput(p.Sub("output"), c.Intermediate, c.Hidden, true, c.Eps, c.HiddenDropout); err != nil {
		return nil, err
	}
	return &b, nil
}

// Forward applies the layer: X' = LN(X + MHA(X)) (eq. 12), then
// LN(X' + FFN(X')) with FFN = act(X'W_1+b_1)W_2+b_2 (eq. 13).
func (b *PostNormBlock) Forward(x, mask *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(b.Name)
	h := s.Do(func() (*ts.Tensor, error) { return b.Attention.Forward(x, mask, x, pass) })
	i := s.Apply(b.Intermediate, h)
	return s.Result(s.Do(func() (*ts.Tensor, error) { return b.Output.Forward(i, h, pass.Train) }))
}

// Encoder mirrors Hugging Face's ViTEncoder and BertEncoder: a stack of
// blocks at "layer.0", "layer.1", ...
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type Encoder struct {
	Layers []Block
	Name   string // checkpoint path, e.g. "vit.encoder"
}

// NewEncoder builds n blocks with build(p.Sub("layer").Sub(i)).
func NewEncoder(p *nn.Path, n int64, build func(p *nn.Path) (Block, error)) (*Encoder, error) {
	if n < 0 {
		return nil, fmt.Errorf("encoder %s: negative number of layers %d", key(p, "layer"), n)
	}
	e := &Encoder{Layers: make([]Block, n), Name: PathName(p)}
	lp := p.Sub("layer")
	for i := range e.Layers {
		b, err := build(lp.Sub(strconv.Itoa(i)))
		if err != nil {
			return nil, err
		}
		e.Layers[i] = b
	}
	return e, nil
}

// NewPreNormEncoder builds n PreNormBlocks (a ViT encoder) under p.
func NewPreNormEncoder(p *nn.Path, n int64, c BlockConfig) (*Encoder, error) {
	return NewEncoder(p, n, func(p *nn.Path) (Block, error) { return NewPreNormBlock(p, c) })
}

// NewPostNormEncoder builds n PostNormBlocks (a BERT encoder) under p.
func NewPostNormEncoder(p *nn.Path, n int64, c BlockConfig) (*Encoder, error) {
	return NewEncoder(p, n, func(p *nn.Path) (Block, error) { return NewPostNormBlock(p, c) })
}

// Forward runs x through every layer; x is not freed. Each layer's input is
// freed once the next layer has run, so a pass without gradients holds one
// layer's activations at a time. With no layers it returns a shallow copy
// of x.
func (e *Encoder) Forward(x, mask *ts.Tensor, pass Pass) (*ts.Tensor, error) {
	s := NewScope(e.Name)
	if len(e.Layers) == 0 {
		return s.Result(s.Do(x.ShallowClone))
	}
	h := x
	for _, l := range e.Layers {
		next := s.Do(func() (*ts.Tensor, error) { return l.Forward(h, mask, pass) })
		s.Free(h)
		h = next
	}
	return s.Result(h)
}

// Pooler mirrors Hugging Face's ViTPooler and BertPooler: tanh(dense(h_0)),
// a projection of the first ([CLS]) token.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type Pooler struct {
	Dense *Linear // "dense"
	Name  string  // checkpoint path
}

// NewPooler builds "dense" [D, D] under p.
func NewPooler(p *nn.Path, hidden int64) (*Pooler, error) {
	d, err := NewLinear(p.Sub("dense"), hidden, hidden, true)
	if err != nil {
		return nil, err
	}
	return &Pooler{Dense: d, Name: PathName(p)}, nil
}

// Forward maps the hidden states [B, L, D] to [B, D].
func (p *Pooler) Forward(h *ts.Tensor) (*ts.Tensor, error) {
	s := NewScope(p.Name)
	return s.Result(s.Tanh(s.Apply(p.Dense, s.Select(h, 1, 0))))
}
