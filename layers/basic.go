package layers

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// optional is t, or None for a missing optional tensor (a bias).
func optional(t *ts.Tensor) *ts.Tensor {
	if t == nil {
		return tensor.None
	}
	return t
}

// leafError names a failure of a leaf module (Linear, LayerNorm, ...) by
// its checkpoint path, or by its kind when it was built without one.
func leafError(name, kind string, err error) error {
	switch {
	case err == nil:
		return nil
	case name == "":
		return fmt.Errorf("%s: %w", kind, err)
	}
	return &ModuleError{Path: name, Err: err}
}

// Linear mirrors torch.nn.Linear (y = x·Wᵀ + b), the dense layer inside every
// Hugging Face transformer module. Weight is [out, in] as in the checkpoint.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Linear.html
type Linear struct {
	Weight *ts.Tensor // [out, in]
	Bias   *ts.Tensor // [out], nil without bias
	Name   string     // checkpoint path, e.g. "vit.encoder.layer.0.attention.attention.query"
}

// NewLinear creates "weight" (truncated normal, std InitStd) and, if bias,
// "bias" (zeros) under p.
func NewLinear(p *nn.Path, in, out int64, bias bool) (*Linear, error) {
	w, err := newParam(p, "weight", []int64{out, in}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	l := &Linear{Weight: w, Name: PathName(p)}
	if bias {
		if l.Bias, err = newParam(p, "bias", []int64{out}, zeros); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Forward applies the layer to the last dimension of x (any leading shape).
func (l *Linear) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.Linear(x, l.Weight, optional(l.Bias))
	return y, leafError(l.Name, "linear", err)
}

// LayerNorm mirrors torch.nn.LayerNorm over the last dimension (Hugging Face's
// "LayerNorm", "layernorm_before", "layernorm_after", "layernorm").
//
// https://pytorch.org/docs/2.1/generated/torch.nn.LayerNorm.html
type LayerNorm struct {
	Weight, Bias *ts.Tensor // [dim]: ones and zeros at init
	Dim          int64
	Eps          float64
	Name         string // checkpoint path
}

// NewLayerNorm creates "weight" (ones) and "bias" (zeros) of size dim under p.
func NewLayerNorm(p *nn.Path, dim int64, eps float64) (*LayerNorm, error) {
	w, err := newParam(p, "weight", []int64{dim}, ones)
	if err != nil {
		return nil, err
	}
	b, err := newParam(p, "bias", []int64{dim}, zeros)
	if err != nil {
		return nil, err
	}
	return &LayerNorm{Weight: w, Bias: b, Dim: dim, Eps: eps, Name: PathName(p)}, nil
}

// Forward normalises the last dimension of x.
func (n *LayerNorm) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.LayerNorm(x, []int64{n.Dim}, n.Weight, n.Bias, n.Eps, true)
	return y, leafError(n.Name, "layer norm", err)
}

// Embedding mirrors torch.nn.Embedding: a lookup table of Num rows of Dim.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Embedding.html
type Embedding struct {
	Weight *ts.Tensor // [num, dim]
	// PaddingIdx, when >= 0, is the row that is zero at init and receives no
	// gradient (torch's padding_idx); -1 for none.
	PaddingIdx int64
	Name       string // checkpoint path
}

// NewEmbedding creates "weight" [num, dim] (truncated normal, std InitStd)
// under p. A paddingIdx >= 0 zeroes that row, as Hugging Face does for the
// pad token.
func NewEmbedding(p *nn.Path, num, dim, paddingIdx int64) (*Embedding, error) {
	if paddingIdx >= num {
		return nil, fmt.Errorf("embedding %s: padding index %d outside [0, %d)", key(p, "weight"), paddingIdx, num)
	}
	w, err := newParam(p, "weight", []int64{num, dim}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	if paddingIdx >= 0 {
		err := inPlace(w, fmt.Sprintf("zero row %d", paddingIdx), func(d *ts.Tensor) error {
			row, err := d.Narrow(0, paddingIdx, 1, false)
			if err != nil {
				return err
			}
			defer tensor.Drop(row)
			return row.Zero_()
		})
		if err != nil {
			return nil, fmt.Errorf("embedding %s: %w", key(p, "weight"), err)
		}
	} else {
		paddingIdx = -1
	}
	return &Embedding{Weight: w, PaddingIdx: paddingIdx, Name: PathName(p)}, nil
}

// Forward looks up ids (any integer shape) and returns [ids..., dim].
func (e *Embedding) Forward(ids *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.Embedding(e.Weight, ids, e.PaddingIdx, false, false)
	return y, leafError(e.Name, "embedding", err)
}

// Conv2d mirrors torch.nn.Conv2d with square kernels, no dilation, one group.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Conv2d.html
type Conv2d struct {
	Weight          *ts.Tensor // [out, in, k, k]
	Bias            *ts.Tensor // [out], nil without bias
	Stride, Padding int64
	Name            string // checkpoint path
}

// NewConv2d creates "weight" (truncated normal, std InitStd) and, if bias,
// "bias" (zeros) under p.
func NewConv2d(p *nn.Path, in, out, kernel, stride, padding int64, bias bool) (*Conv2d, error) {
	w, err := newParam(p, "weight", []int64{out, in, kernel, kernel}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	c := &Conv2d{Weight: w, Stride: stride, Padding: padding, Name: PathName(p)}
	if bias {
		if c.Bias, err = newParam(p, "bias", []int64{out}, zeros); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Forward convolves x [B, in, H, W] to [B, out, H', W'].
func (c *Conv2d) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.Conv2d(x, c.Weight, optional(c.Bias), []int64{c.Stride, c.Stride}, []int64{c.Padding, c.Padding}, []int64{1, 1}, 1)
	return y, leafError(c.Name, "conv2d", err)
}

// Activation is an element-wise nonlinearity; it is a Module (Func) and
// does not free its input.
type Activation = Func

// ActivationByName returns the Hugging Face hidden_act of that name: "gelu"
// (exact, erf), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation),
// "relu", "silu" / "swish", or "tanh".
func ActivationByName(name string) (Activation, error) {
	var f Func
	switch name {
	case "gelu":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Gelu("none", false) }
	case "gelu_new", "gelu_pytorch_tanh":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Gelu("tanh", false) }
	case "relu":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Relu(false) }
	case "silu", "swish":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Silu(false) }
	case "tanh":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Tanh(false) }
	default:
		return nil, fmt.Errorf("unknown activation %q (want gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish or tanh)", name)
	}
	return func(x *ts.Tensor) (*ts.Tensor, error) {
		y, err := f(x)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return y, nil
	}, nil
}
