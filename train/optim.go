package train

import (
	"fmt"
	"math"
	"sort"

	"github.com/sugarme/gotch/ts"
)

// Param is one trainable tensor with its checkpoint name and the learning
// rate multiplier of its group (encoders and fusion/head train at different
// rates).
type Param struct {
	Name    string
	Tensor  *ts.Tensor
	LRMul   float64
	NoDecay bool // biases and LayerNorm weights are not decayed
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), written
// over gotch tensors so that its state (moments and step) can be saved in a
// checkpoint and restored exactly; gotch's wrapped libtorch optimizers keep
// their state out of reach.
type AdamW struct {
	Params       []Param
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	Step         int64
	m, v         []*ts.Tensor
}

// NewAdamW creates the optimizer with zeroed moments.
func NewAdamW(params []Param, weightDecay float64) (*AdamW, error) {
	o := &AdamW{Params: params, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
	for _, p := range params {
		var m, v *ts.Tensor
		var err error
		ts.NoGrad(func() {
			if m, err = p.Tensor.ZerosLike(false); err == nil {
				v, err = p.Tensor.ZerosLike(false)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("adamw state for %s: %w", p.Name, err)
		}
		o.m = append(o.m, m)
		o.v = append(o.v, v)
	}
	return o, nil
}

// ZeroGrad clears every parameter's gradient.
func (o *AdamW) ZeroGrad() error {
	for _, p := range o.Params {
		g, err := p.Tensor.Grad(false)
		if err != nil {
			return fmt.Errorf("grad of %s: %w", p.Name, err)
		}
		if ok, _ := g.Defined(); ok {
			err = g.Zero_()
		}
		g.Drop()
		if err != nil {
			return fmt.Errorf("zero grad of %s: %w", p.Name, err)
		}
	}
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// maxNorm, and returns the norm before clipping.
func (o *AdamW) ClipGradNorm(maxNorm float64) (float64, error) {
	var total float64
	var err error
	ts.NoGrad(func() {
		var sq float64
		grads := make([]*ts.Tensor, 0, len(o.Params))
		defer func() {
			for _, g := range grads {
				g.Drop()
			}
		}()
		for _, p := range o.Params {
			g, e := p.Tensor.Grad(false)
			if e != nil {
				err = e
				return
			}
			if !defined(g) {
				g.Drop()
				continue
			}
			grads = append(grads, g)
			n, e := g.Norm(false)
			if e != nil {
				err = e
				return
			}
			x := n.Float64Values()[0]
			n.Drop()
			sq += x * x
		}
		total = math.Sqrt(sq)
		if maxNorm > 0 && total > maxNorm {
			coef := ts.FloatScalar(maxNorm / (total + 1e-6))
			for _, g := range grads {
				if e := g.MulScalar_(coef); e != nil {
					err = e
					return
				}
			}
		}
	})
	return total, err
}

// Update applies one AdamW step at learning rate lr (times each
// parameter's multiplier). Parameters without a gradient are skipped.
func (o *AdamW) Update(lr float64) error {
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	var err error
	ts.NoGrad(func() {
		for i, p := range o.Params {
			if err = o.update(i, p, lr*p.LRMul, bc1, bc2); err != nil {
				err = fmt.Errorf("adamw %s: %w", p.Name, err)
				return
			}
		}
	})
	return err
}

func (o *AdamW) update(i int, p Param, lr, bc1, bc2 float64) error {
	g, err := p.Tensor.Grad(false)
	if err != nil {
		return err
	}
	defer g.Drop()
	if !defined(g) {
		return nil
	}
	if o.WeightDecay > 0 && !p.NoDecay {
		if err := p.Tensor.MulScalar_(ts.FloatScalar(1 - lr*o.WeightDecay)); err != nil {
			return err
		}
	}
	m, v := o.m[i], o.v[i]
	if err := m.Lerp_(g, ts.FloatScalar(1-o.Beta1)); err != nil { // m = β1·m + (1-β1)·g
		return err
	}
	if err := v.MulScalar_(ts.FloatScalar(o.Beta2)); err != nil {
		return err
	}
	g2, err := g.MulScalar(ts.FloatScalar(1-o.Beta2), false)
	if err != nil {
		return err
	}
	defer g2.Drop()
	if err := v.Addcmul_(g, g2); err != nil { // v = β2·v + (1-β2)·g²
		return err
	}
	denom, err := v.Sqrt(false)
	if err != nil {
		return err
	}
	defer denom.Drop()
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
	defer upd.Drop()
	if err := upd.MulScalar_(ts.FloatScalar(-lr / bc1)); err != nil {
		return err
	}
	return p.Tensor.Add_(upd)
}

// State returns the optimizer's tensors under checkpoint names
// ("optim.m.<param>", "optim.v.<param>"). They are the live tensors: do not
// free them.
func (o *AdamW) State() map[string]*ts.Tensor {
	out := make(map[string]*ts.Tensor, 2*len(o.Params))
	for i, p := range o.Params {
		out["optim.m."+p.Name] = o.m[i]
		out["optim.v."+p.Name] = o.v[i]
	}
	return out
}

// LoadState copies saved moments into the optimizer. Every parameter must
// have both moments with its shape.
func (o *AdamW) LoadState(saved map[string]*ts.Tensor, step int64) error {
	var missing []string
	for i, p := range o.Params {
		for _, kv := range []struct {
			key string
			dst *ts.Tensor
		}{{"optim.m." + p.Name, o.m[i]}, {"optim.v." + p.Name, o.v[i]}} {
			src, ok := saved[kv.key]
			if !ok {
				missing = append(missing, kv.key)
				continue
			}
			if err := copyInto(kv.dst, src); err != nil {
				return fmt.Errorf("optimizer state %s: %w", kv.key, err)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("optimizer state: %d tensors missing (first: %s)", len(missing), missing[0])
	}
	o.Step = step
	return nil
}

// copyInto copies src into dst without recording autograd, checking shapes.
func copyInto(dst, src *ts.Tensor) error {
	ds, ss := dst.MustSize(), src.MustSize()
	if fmt.Sprint(ds) != fmt.Sprint(ss) {
		return fmt.Errorf("shape %v, want %v", ss, ds)
	}
	var err error
	ts.NoGrad(func() {
		var c *ts.Tensor
		if c, err = src.To(dst.MustDevice(), false); err != nil {
			return
		}
		defer c.Drop()
		if c.DType() != dst.DType() {
			var t *ts.Tensor
			if t, err = c.Totype(dst.DType(), false); err != nil {
				return
			}
			defer t.Drop()
			c = t
		}
		dst.Copy_(c) // shapes and dtypes were checked; gotch's Copy_ exits only on a libtorch error
	})
	return err
}

func defined(t *ts.Tensor) bool {
	ok, err := t.Defined()
	return err == nil && ok
}
