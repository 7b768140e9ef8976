package layers

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// none is an absent optional tensor: a nil C pointer that the libtorch
// wrappers pass on as an undefined (None) tensor.
var none = ts.FromCtensor(nil)

// drop frees the tensors that are not nil. Errors from Drop are ignored: it
// only fails on a tensor libtorch no longer knows, which is a bug elsewhere.
func drop(xs ...*ts.Tensor) {
	for _, x := range xs {
		if x != nil {
			_ = x.Drop()
		}
	}
}

// Linear mirrors torch.nn.Linear (y = x·Wᵀ + b), the dense layer inside every
// Hugging Face transformer module. Weight is [out, in] as in the checkpoint.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Linear.html
type Linear struct {
	Weight *ts.Tensor // [out, in]
	Bias   *ts.Tensor // [out], nil without bias
}

// NewLinear creates "weight" (truncated normal, std InitStd) and, if bias,
// "bias" (zeros) under p.
func NewLinear(p *nn.Path, in, out int64, bias bool) (*Linear, error) {
	w, err := newVar(p, "weight", []int64{out, in}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	l := &Linear{Weight: w}
	if bias {
		if l.Bias, err = newVar(p, "bias", []int64{out}, zerosInit); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Forward applies the layer to the last dimension of x (any leading shape).
func (l *Linear) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	b := l.Bias
	if b == nil {
		b = none
	}
	y, err := ts.Linear(x, l.Weight, b)
	if err != nil {
		return nil, fmt.Errorf("linear: %w", err)
	}
	return y, nil
}

// LayerNorm mirrors torch.nn.LayerNorm over the last dimension (Hugging Face's
// "LayerNorm", "layernorm_before", "layernorm_after", "layernorm").
//
// https://pytorch.org/docs/2.1/generated/torch.nn.LayerNorm.html
type LayerNorm struct {
	Weight, Bias *ts.Tensor // [dim]: ones and zeros at init
	Dim          int64
	Eps          float64
}

// NewLayerNorm creates "weight" (ones) and "bias" (zeros) of size dim under p.
func NewLayerNorm(p *nn.Path, dim int64, eps float64) (*LayerNorm, error) {
	w, err := newVar(p, "weight", []int64{dim}, onesInit)
	if err != nil {
		return nil, err
	}
	b, err := newVar(p, "bias", []int64{dim}, zerosInit)
	if err != nil {
		return nil, err
	}
	return &LayerNorm{Weight: w, Bias: b, Dim: dim, Eps: eps}, nil
}

// Forward normalises the last dimension of x.
func (n *LayerNorm) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.LayerNorm(x, []int64{n.Dim}, n.Weight, n.Bias, n.Eps, true)
	if err != nil {
		return nil, fmt.Errorf("layer norm: %w", err)
	}
	return y, nil
}

// Embedding mirrors torch.nn.Embedding: a lookup table of Num rows of Dim.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Embedding.html
type Embedding struct {
	Weight *ts.Tensor // [num, dim]
	// PaddingIdx, when >= 0, is the row that is zero at init and receives no
	// gradient (torch's padding_idx); -1 for none.
	PaddingIdx int64
}

// NewEmbedding creates "weight" [num, dim] (truncated normal, std InitStd)
// under p. A paddingIdx >= 0 zeroes that row, as Hugging Face does for the
// pad token.
func NewEmbedding(p *nn.Path, num, dim, paddingIdx int64) (*Embedding, error) {
	if paddingIdx >= num {
		return nil, fmt.Errorf("embedding %s: padding index %d outside [0, %d)", key(p, "weight"), paddingIdx, num)
	}
	w, err := newVar(p, "weight", []int64{num, dim}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	if paddingIdx >= 0 {
		if err := zeroRow(w, paddingIdx); err != nil {
			return nil, fmt.Errorf("embedding %s: %w", key(p, "weight"), err)
		}
	} else {
		paddingIdx = -1
	}
	return &Embedding{Weight: w, PaddingIdx: paddingIdx}, nil
}

// zeroRow sets row i of the parameter w to zero without recording autograd.
func zeroRow(w *ts.Tensor, i int64) error {
	// A detached alias records nothing (see TruncNormal.fill).
	d, err := w.Detach(false)
	if err != nil {
		return fmt.Errorf("zero row %d: %w", i, err)
	}
	defer drop(d)
	row, err := d.Narrow(0, i, 1, false)
	if err != nil {
		return fmt.Errorf("zero row %d: %w", i, err)
	}
	defer drop(row)
	if err := row.Zero_(); err != nil {
		return fmt.Errorf("zero row %d: %w", i, err)
	}
	return nil
}

// Forward looks up ids (any integer shape) and returns [ids..., dim].
func (e *Embedding) Forward(ids *ts.Tensor) (*ts.Tensor, error) {
	y, err := ts.Embedding(e.Weight, ids, e.PaddingIdx, false, false)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	return y, nil
}

// Conv2d mirrors torch.nn.Conv2d with square kernels, no dilation, one group.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.Conv2d.html
type Conv2d struct {
	Weight          *ts.Tensor // [out, in, k, k]
	Bias            *ts.Tensor // [out], nil without bias
	Stride, Padding int64
}

// NewConv2d creates "weight" (truncated normal, std InitStd) and, if bias,
// "bias" (zeros) under p.
func NewConv2d(p *nn.Path, in, out, kernel, stride, padding int64, bias bool) (*Conv2d, error) {
	w, err := newVar(p, "weight", []int64{out, in, kernel, kernel}, NewTruncNormal(InitStd))
	if err != nil {
		return nil, err
	}
	c := &Conv2d{Weight: w, Stride: stride, Padding: padding}
	if bias {
		if c.Bias, err = newVar(p, "bias", []int64{out}, zerosInit); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Forward convolves x [B, in, H, W] to [B, out, H', W'].
func (c *Conv2d) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	b := c.Bias
	if b == nil {
		b = none
	}
	y, err := ts.Conv2d(x, c.Weight, b, []int64{c.Stride, c.Stride}, []int64{c.Padding, c.Padding}, []int64{1, 1}, 1)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	return y, nil
}

// dropoutOwned applies dropout with probability p when train is true and
// frees x; otherwise (or when p is 0) it returns x itself. Either way the
// caller owns exactly the returned tensor.
func dropoutOwned(x *ts.Tensor, p float64, train bool) (*ts.Tensor, error) {
	if !train || p == 0 {
		return x, nil
	}
	y, err := ts.Dropout(x, p, true)
	drop(x)
	if err != nil {
		return nil, fmt.Errorf("dropout: %w", err)
	}
	return y, nil
}

// Activation is an element-wise nonlinearity that consumes (frees) its input.
type Activation func(x *ts.Tensor) (*ts.Tensor, error)

// ActivationByName returns the Hugging Face hidden_act of that name: "gelu"
// (exact, erf), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation),
// "relu", "silu" / "swish", or "tanh".
func ActivationByName(name string) (Activation, error) {
	var f func(x *ts.Tensor) (*ts.Tensor, error)
	switch name {
	case "gelu":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Gelu("none", true) }
	case "gelu_new", "gelu_pytorch_tanh":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Gelu("tanh", true) }
	case "relu":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Relu(true) }
	case "silu", "swish":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Silu(true) }
	case "tanh":
		f = func(x *ts.Tensor) (*ts.Tensor, error) { return x.Tanh(true) }
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
