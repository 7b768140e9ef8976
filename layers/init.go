package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// InitStd is the standard deviation Hugging Face uses for weights
// (config.initializer_range = 0.02 for ViT and BERT).
const InitStd = 0.02

// Init sets a parameter's values in place and reports libtorch's errors.
// gotch's nn.Init has no error return (its inits panic or exit), so every
// parameter of this package is made by newParam with an Init.
type Init interface {
	Reinit(x *ts.Tensor) error
}

// TruncNormal is an Init drawing from a normal distribution N(Mean, Std²)
// truncated to [Mean-Bound·Std, Mean+Bound·Std], by the inverse-CDF method.
//
// Hugging Face initialises ViT weights with torch.nn.init.trunc_normal_ at
// std 0.02 and BERT weights with a plain normal at std 0.02; a two-sigma
// truncation (Bound 2) keeps the spirit of both and avoids rare outliers.
type TruncNormal struct {
	Mean, Std, Bound float64
}

var _ Init = TruncNormal{}

// NewTruncNormal returns the weight init used throughout: mean 0, std, cut at
// two standard deviations.
func NewTruncNormal(std float64) TruncNormal {
	return TruncNormal{Mean: 0, Std: std, Bound: 2}
}

// Reinit draws x afresh from the distribution, in place and without
// recording autograd: u ~ U(2Φ(a)-1, 2Φ(b)-1) is mapped through √2·erfinv,
// the inverse CDF of the standard normal, then scaled and clamped to [a, b].
func (t TruncNormal) Reinit(x *ts.Tensor) error {
	bound := t.Bound
	if bound <= 0 {
		bound = 2
	}
	cdf := func(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }
	lo, hi := 2*cdf(-bound)-1, 2*cdf(bound)-1
	return inPlace(x, "trunc normal init",
		func(d *ts.Tensor) error { return d.Uniform_(lo, hi) },
		func(d *ts.Tensor) error { return d.Erfinv_() },
		func(d *ts.Tensor) error { return d.MulScalar_(ts.FloatScalar(t.Std * math.Sqrt2)) },
		func(d *ts.Tensor) error { return d.AddScalar_(ts.FloatScalar(t.Mean)) },
		func(d *ts.Tensor) error {
			return d.Clamp_(ts.FloatScalar(t.Mean-bound*t.Std), ts.FloatScalar(t.Mean+bound*t.Std))
		})
}

// Constant is an Init that sets every element to its value: zeros for
// biases, ones for LayerNorm weights.
type Constant float64

// Reinit fills x with c, in place and without recording autograd.
func (c Constant) Reinit(x *ts.Tensor) error {
	return inPlace(x, "constant init", func(d *ts.Tensor) error { return d.Fill_(ts.FloatScalar(float64(c))) })
}

// zeros and ones initialise biases and LayerNorm weights.
const (
	zeros Constant = 0
	ones  Constant = 1
)

// inPlace runs steps on a detached alias of x: in-place ops on a parameter
// are then not recorded, without touching the thread's grad mode. The
// first failing step stops the rest.
func inPlace(x *ts.Tensor, what string, steps ...func(d *ts.Tensor) error) error {
	d, err := x.Detach(false)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tensor.Drop(d)
	for _, step := range steps {
		if err := step(d); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// newParam adds a trainable parameter name [dims] under p with values from
// ini, wrapping errors with the full key. It draws exactly what gotch's
// p.NewVar with the same init would (an empty tensor filled in place), but
// returns libtorch's errors.
func newParam(p *nn.Path, name string, dims []int64, ini Init) (*ts.Tensor, error) {
	x, err := ts.Empty(dims, gotch.DefaultDType, p.Device())
	if err != nil {
		return nil, fmt.Errorf("create %s %v: %w", key(p, name), dims, err)
	}
	defer tensor.Drop(x)
	if err := ini.Reinit(x); err != nil {
		return nil, fmt.Errorf("init %s: %w", key(p, name), err)
	}
	v, err := p.Add(name, x, true)
	if err != nil {
		return nil, fmt.Errorf("create %s %v: %w", key(p, name), dims, err)
	}
	return v, nil
}

// PathName is the dotted checkpoint key of p ("vit.encoder.layer.3"): the
// name a module built at p gives its scope and its trace entries.
func PathName(p *nn.Path) string { return key(p, "") }

// key is the dotted checkpoint key of name under p (p's own key when name
// is empty).
func key(p *nn.Path, name string) string {
	parts := append([]string(nil), p.Paths()...)
	if name != "" {
		parts = append(parts, name)
	}
	return strings.Join(parts, ".")
}
