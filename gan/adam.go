package gan

import (
	"fmt"
	"math"
	"sort"

	"github.com/sugarme/gotch/ts"
)

// adam is Adam (Kingma & Ba) over named tensors, written out so that its
// moments can be saved in a checkpoint and restored exactly (gotch's
// wrapped optimizers keep their state out of reach).
type adam struct {
	names        []string
	params       []*ts.Tensor
	m, v         []*ts.Tensor
	beta1, beta2 float64
	eps          float64
	step         int64
}

// newAdam creates the optimizer for params (name -> tensor) with zeroed
// moments; parameters are kept in name order.
func newAdam(params map[string]*ts.Tensor, beta1, beta2 float64) (*adam, error) {
	o := &adam{beta1: beta1, beta2: beta2, eps: 1e-8}
	for n := range params {
		o.names = append(o.names, n)
	}
	sort.Strings(o.names)
	for _, n := range o.names {
		p := params[n]
		var m, v *ts.Tensor
		var err error
		ts.NoGrad(func() {
			if m, err = p.ZerosLike(false); err == nil {
				v, err = p.ZerosLike(false)
			}
		})
		if err != nil {
			o.drop()
			return nil, fmt.Errorf("adam state for %s: %w", n, err)
		}
		o.params = append(o.params, p)
		o.m = append(o.m, m)
		o.v = append(o.v, v)
	}
	return o, nil
}

// zeroGrad clears the gradients of the optimizer's parameters.
func (o *adam) zeroGrad() error {
	for i, p := range o.params {
		g, err := p.Grad(false)
		if err != nil {
			return fmt.Errorf("grad of %s: %w", o.names[i], err)
		}
		if ok, _ := g.Defined(); ok {
			err = g.Zero_()
		}
		drop(g)
		if err != nil {
			return fmt.Errorf("zero grad of %s: %w", o.names[i], err)
		}
	}
	return nil
}

// update applies one Adam step at learning rate lr; parameters without a
// gradient are skipped.
func (o *adam) update(lr float64) error {
	o.step++
	bc1 := 1 - math.Pow(o.beta1, float64(o.step))
	bc2 := 1 - math.Pow(o.beta2, float64(o.step))
	var err error
	ts.NoGrad(func() {
		for i := range o.params {
			if err = o.updateOne(i, lr, bc1, bc2); err != nil {
				err = fmt.Errorf("adam %s: %w", o.names[i], err)
				return
			}
		}
	})
	return err
}

func (o *adam) updateOne(i int, lr, bc1, bc2 float64) error {
	g, err := o.params[i].Grad(false)
	if err != nil {
		return err
	}
	defer drop(g)
	if ok, _ := g.Defined(); !ok {
		return nil
	}
	m, v := o.m[i], o.v[i]
	if err := m.Lerp_(g, ts.FloatScalar(1-o.beta1)); err != nil { // m = β1·m + (1-β1)·g
		return err
	}
	if err := v.MulScalar_(ts.FloatScalar(o.beta2)); err != nil {
		return err
	}
	g2, err := g.MulScalar(ts.FloatScalar(1-o.beta2), false)
	if err != nil {
		return err
	}
	defer drop(g2)
	if err := v.Addcmul_(g, g2); err != nil { // v = β2·v + (1-β2)·g²
		return err
	}
	denom, err := v.Sqrt(false)
	if err != nil {
		return err
	}
	defer drop(denom)
	if err := denom.MulScalar_(ts.FloatScalar(1 / math.Sqrt(bc2))); err != nil {
		return err
	}
	if err := denom.AddScalar_(ts.FloatScalar(o.eps)); err != nil {
		return err
	}
	upd, err := m.Div(denom, false)
	if err != nil {
		return err
	}
	defer drop(upd)
	if err := upd.MulScalar_(ts.FloatScalar(-lr / bc1)); err != nil {
		return err
	}
	return o.params[i].Add_(upd)
}

// state returns the moments under prefix+"m."+name and prefix+"v."+name.
// They are the live tensors: do not free them.
func (o *adam) state(prefix string) map[string]*ts.Tensor {
	out := make(map[string]*ts.Tensor, 2*len(o.names))
	for i, n := range o.names {
		out[prefix+"m."+n] = o.m[i]
		out[prefix+"v."+n] = o.v[i]
	}
	return out
}

// load copies saved moments (named as by state) into the optimizer.
func (o *adam) load(prefix string, saved map[string]*ts.Tensor, step int64) error {
	for i, n := range o.names {
		for _, kv := range []struct {
			key string
			dst *ts.Tensor
		}{{prefix + "m." + n, o.m[i]}, {prefix + "v." + n, o.v[i]}} {
			src, ok := saved[kv.key]
			if !ok {
				return fmt.Errorf("adam state %s missing", kv.key)
			}
			if err := copyInto(kv.dst, src); err != nil {
				return fmt.Errorf("adam state %s: %w", kv.key, err)
			}
		}
	}
	o.step = step
	return nil
}

func (o *adam) drop() {
	drop(o.m...)
	drop(o.v...)
}

// copyInto copies src into dst without recording autograd, checking shapes.
func copyInto(dst, src *ts.Tensor) error {
	ds, err := dst.Size()
	if err != nil {
		return err
	}
	ss, err := src.Size()
	if err != nil {
		return err
	}
	if fmt.Sprint(ds) != fmt.Sprint(ss) {
		return fmt.Errorf("shape %v, want %v", ss, ds)
	}
	dev, err := dst.Device()
	if err != nil {
		return err
	}
	ts.NoGrad(func() {
		var c *ts.Tensor
		if c, err = src.To(dev, false); err != nil {
			return
		}
		defer drop(c)
		if c.DType() != dst.DType() {
			var t *ts.Tensor
			if t, err = c.Totype(dst.DType(), false); err != nil {
				return
			}
			defer drop(t)
			c = t
		}
		dst.Copy_(c) // shapes and dtypes were checked; gotch's Copy_ exits only on a libtorch error
	})
	return err
}
