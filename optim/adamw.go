// Package optim holds VBG's optimizer and learning-rate schedule: AdamW
// (Adam with decoupled weight decay; with no decay it is Adam) written over
// gotch tensors, so that its moments can be saved in a checkpoint and
// restored exactly, gradient clipping by the global norm, and a linear
// warmup with cosine decay. The classifier's training loop and the GAN use
// the same implementation.
package optim

import (
	"fmt"
	"math"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// Param is one trainable tensor with its checkpoint name and the settings
// of its group.
type Param struct {
	Name   string
	Tensor *ts.Tensor
	// LRMul multiplies the learning rate given to Update (encoders and the
	// fusion/head train at different rates).
	LRMul float64
	// NoDecay leaves the tensor out of weight decay (biases, LayerNorm
	// weights, scalar gates).
	NoDecay bool
}

// Config holds AdamW's hyper-parameters.
type Config struct {
	Beta1, Beta2 float64
	Eps          float64
	// WeightDecay is the decoupled decay λ: each step multiplies a decayed
	// parameter by 1 - lr·λ. 0 makes the optimizer plain Adam.
	WeightDecay float64
}

// Defaults are PyTorch's AdamW defaults except the decay, which is given:
// betas (0.9, 0.999), eps 1e-8.
func Defaults(weightDecay float64) Config {
	return Config{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// AdamW is the optimizer (Loshchilov & Hutter, 2019; torch.optim.AdamW).
type AdamW struct {
	Config
	Params []Param
	// Step counts the updates taken; it sets the bias corrections.
	Step int64
	m, v []*ts.Tensor
}

// New makes the optimizer for params with zeroed moments.
func New(params []Param, c Config) (*AdamW, error) {
	o := &AdamW{Config: c, Params: params}
	err := tensor.NoGrad(func() error {
		for _, p := range params {
			m, err := p.Tensor.ZerosLike(false)
			if err != nil {
				return fmt.Errorf("adamw state for %s: %w", p.Name, err)
			}
			v, err := p.Tensor.ZerosLike(false)
			if err != nil {
				tensor.Drop(m)
				return fmt.Errorf("adamw state for %s: %w", p.Name, err)
			}
			o.m, o.v = append(o.m, m), append(o.v, v)
		}
		return nil
	})
	if err != nil {
		o.Drop()
		return nil, err
	}
	return o, nil
}

// Named turns name → tensor into parameters sorted by name (a stable
// order, so that optimizer state lines up across runs), each with LRMul 1.
func Named(vars map[string]*ts.Tensor) []Param {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	params := make([]Param, len(names))
	for i, n := range names {
		params[i] = Param{Name: n, Tensor: vars[n], LRMul: 1}
	}
	return params
}

// Drop frees the moments.
func (o *AdamW) Drop() {
	tensor.Drop(o.m...)
	tensor.Drop(o.v...)
	o.m, o.v = nil, nil
}

// grad returns p's gradient, or nil when it has none yet. The caller
// frees a non-nil result.
func grad(p Param) (*ts.Tensor, error) {
	g, err := p.Tensor.Grad(false)
	if err != nil {
		return nil, fmt.Errorf("grad of %s: %w", p.Name, err)
	}
	if !tensor.Defined(g) {
		tensor.Drop(g)
		return nil, nil
	}
	return g, nil
}

// ZeroGrad clears every parameter's gradient.
func (o *AdamW) ZeroGrad() error {
	for _, p := range o.Params {
		g, err := grad(p)
		if err != nil {
			return err
		}
		if g == nil {
			continue
		}
		err = g.Zero_()
		tensor.Drop(g)
		if err != nil {
			return fmt.Errorf("zero grad of %s: %w", p.Name, err)
		}
	}
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// maxNorm (torch.nn.utils.clip_grad_norm_), and returns the norm before
// clipping.
func (o *AdamW) ClipGradNorm(maxNorm float64) (float64, error) {
	var total float64
	err := tensor.NoGrad(func() error {
		var grads []*ts.Tensor
		defer func() { tensor.Drop(grads...) }()
		var sq float64
		for _, p := range o.Params {
			g, err := grad(p)
			if err != nil {
				return err
			}
			if g == nil {
				continue
			}
			grads = append(grads, g)
			n, err := g.Norm(false)
			if err != nil {
				return fmt.Errorf("grad norm of %s: %w", p.Name, err)
			}
			x, err := tensor.Scalar(n)
			tensor.Drop(n)
			if err != nil {
				return fmt.Errorf("grad norm of %s: %w", p.Name, err)
			}
			sq += x * x
		}
		total = math.Sqrt(sq)
		if maxNorm <= 0 || total <= maxNorm {
			return nil
		}
		coef := ts.FloatScalar(maxNorm / (total + 1e-6))
		for _, g := range grads {
			if err := g.MulScalar_(coef); err != nil {
				return fmt.Errorf("clip: %w", err)
			}
		}
		return nil
	})
	return total, err
}

// Update applies one step at learning rate lr (times each parameter's
// multiplier). Parameters without a gradient are left as they are.
func (o *AdamW) Update(lr float64) error {
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	return tensor.NoGrad(func() error {
		for i, p := range o.Params {
			if err := o.update(i, p, lr*p.LRMul, bc1, bc2); err != nil {
				return fmt.Errorf("adamw %s: %w", p.Name, err)
			}
		}
		return nil
	})
}

// update is one parameter's step:
//
//	θ ← θ·(1 - lr·λ)                  (decoupled decay)
//	m ← β1·m + (1-β1)·g,  v ← β2·v + (1-β2)·g²
//	θ ← θ - lr/bc1 · m / (√v/√bc2 + ε)
func (o *AdamW) update(i int, p Param, lr, bc1, bc2 float64) error {
	g, err := grad(p)
	if err != nil || g == nil {
		return err
	}
	defer tensor.Drop(g)
	if o.WeightDecay > 0 && !p.NoDecay {
		if err := p.Tensor.MulScalar_(ts.FloatScalar(1 - lr*o.WeightDecay)); err != nil {
			return err
		}
	}
	m, v := o.m[i], o.v[i]
	if err := m.Lerp_(g, ts.FloatScalar(1-o.Beta1)); err != nil {
		return err
	}
	if err := v.MulScalar_(ts.FloatScalar(o.Beta2)); err != nil {
		return err
	}
	g2, err := g.MulScalar(ts.FloatScalar(1-o.Beta2), false)
	if err != nil {
		return err
	}
	defer tensor.Drop(g2)
	if err := v.Addcmul_(g, g2); err != nil {
		return err
	}
	denom, err := v.Sqrt(false)
	if err != nil {
		return err
	}
	defer tensor.Drop(denom)
	if err := denom.MulScalar_(ts.FloatScalar(1 / math.Sqrt(bc2))); err != nil {
		return err
	}
	if err := denom.AddScalar_(ts.FloatScalar(o.Eps)); err != nil {
		return err
	}
	upd, err := m.Div(denom, false)
	if err != nil {
		return err
	}
	defer tensor.Drop(upd)
	if err := upd.MulScalar_(ts.FloatScalar(-lr / bc1)); err != nil {
		return err
	}
	return p.Tensor.Add_(upd)
}

// State returns the moments under checkpoint names prefix+"m."+param and
// prefix+"v."+param. They are the live tensors: do not free them.
func (o *AdamW) State(prefix string) map[string]*ts.Tensor {
	out := make(map[string]*ts.Tensor, 2*len(o.Params))
	for i, p := range o.Params {
		out[prefix+"m."+p.Name] = o.m[i]
		out[prefix+"v."+p.Name] = o.v[i]
	}
	return out
}

// LoadState copies moments saved by State (with the same prefix) into the
// optimizer and sets its step count. Every parameter must have both
// moments, with its shape.
func (o *AdamW) LoadState(prefix string, saved map[string]*ts.Tensor, step int64) error {
	var missing []string
	for i, p := range o.Params {
		for _, kv := range []struct {
			key string
			dst *ts.Tensor
		}{{prefix + "m." + p.Name, o.m[i]}, {prefix + "v." + p.Name, o.v[i]}} {
			src, ok := saved[kv.key]
			if !ok {
				missing = append(missing, kv.key)
				continue
			}
			if err := tensor.CopyInto(kv.dst, src); err != nil {
				return fmt.Errorf("optimizer state %s: %w", kv.key, err)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("optimizer state: %d tensors missing (first: %s)", len(missing), missing[0])
	}
	if step < 0 {
		return fmt.Errorf("optimizer state: negative step %d", step)
	}
	o.Step = step
	return nil
}
