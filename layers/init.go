package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// InitStd is the standard deviation Hugging Face uses for weights
// (config.initializer_range = 0.02 for ViT and BERT).
const InitStd = 0.02

// TruncNormal is an nn.Init drawing from a normal distribution N(Mean, Std²)
// truncated to [Mean-Bound·Std, Mean+Bound·Std], by the inverse-CDF method.
//
// Hugging Face initialises ViT weights with torch.nn.init.trunc_normal_ at
// std 0.02 and BERT weights with a plain normal at std 0.02; a two-sigma
// truncation (Bound 2) keeps the spirit of both and avoids rare outliers.
type TruncNormal struct {
	Mean, Std, Bound float64
}

var _ nn.Init = TruncNormal{}

// NewTruncNormal returns the weight init used throughout: mean 0, std, cut at
// two standard deviations.
func NewTruncNormal(std float64) TruncNormal {
	return TruncNormal{Mean: 0, Std: std, Bound: 2}
}

// InitTensor returns a new tensor of the given shape drawn from the
// distribution. It panics only if libtorch fails (nn.Init has no error).
func (t TruncNormal) InitTensor(dims []int64, device gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	dtype := gotch.DefaultDType
	if len(dtypeOpt) > 0 {
		dtype = dtypeOpt[0]
	}
	x, err := ts.Empty(dims, dtype, device)
	if err != nil {
		panic(fmt.Errorf("trunc normal init %v: %w", dims, err))
	}
	if err := t.fill(x); err != nil {
		drop(x)
		panic(err)
	}
	return x
}

// Set re-initialises tensor in place. It panics only if libtorch fails.
func (t TruncNormal) Set(tensor *ts.Tensor) {
	if err := t.fill(tensor); err != nil {
		panic(err)
	}
}

// fill draws u ~ U(2Φ(a)-1, 2Φ(b)-1) and maps it through √2·erfinv, the
// inverse CDF of the standard normal, then scales and clamps to [a, b].
func (t TruncNormal) fill(x *ts.Tensor) error {
	bound := t.Bound
	if bound <= 0 {
		bound = 2
	}
	cdf := func(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }
	lo, hi := 2*cdf(-bound)-1, 2*cdf(bound)-1
	// Work on a detached alias: in-place ops on a parameter are then not
	// recorded, without touching the thread's grad mode (gotch's
	// GradSetEnabled misreports the previous mode, so it cannot be restored).
	x, err := x.Detach(false)
	if err != nil {
		return fmt.Errorf("trunc normal init: %w", err)
	}
	defer drop(x)
	steps := []func() error{
		func() error { return x.Uniform_(lo, hi) },
		x.Erfinv_,
		func() error { return x.MulScalar_(ts.FloatScalar(t.Std * math.Sqrt2)) },
		func() error { return x.AddScalar_(ts.FloatScalar(t.Mean)) },
		func() error {
			return x.Clamp_(ts.FloatScalar(t.Mean-bound*t.Std), ts.FloatScalar(t.Mean+bound*t.Std))
		},
	}
	for _, step := range steps {
		if err = step(); err != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("trunc normal init: %w", err)
	}
	return nil
}

// newVar adds a trainable parameter name under p initialised by ini,
// wrapping errors with the full key.
func newVar(p *nn.Path, name string, dims []int64, ini nn.Init) (t *ts.Tensor, err error) {
	defer func() {
		// nn.Init has no error return; our inits panic on libtorch errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("init %s: %v", key(p, name), r)
		}
	}()
	t, err = p.NewVar(name, dims, ini)
	if err != nil {
		return nil, fmt.Errorf("create %s %v: %w", key(p, name), dims, err)
	}
	return t, nil
}

// key is the dotted checkpoint key of name under p (p's own key when name
// is empty).
func key(p *nn.Path, name string) string {
	parts := append([]string(nil), p.Paths()...)
	if name != "" {
		parts = append(parts, name)
	}
	return strings.Join(parts, ".")
}

// zerosInit and onesInit initialise biases and LayerNorm weights.
var (
	zerosInit = nn.NewConstInit(0)
	onesInit  = nn.NewConstInit(1)
)
