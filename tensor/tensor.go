// Package tensor holds VBG's few helpers over gotch tensors: freeing handles,
// moving Go slices onto a device and reading values back, copying into
// parameters, and running without gradients. Every helper returns an error
// where gotch's own convenience calls (Must*, Float64Values, Copy_, NoGrad)
// end the process in log.Fatal.
//
// Ownership: a helper that returns a tensor hands it to the caller, who
// frees it (with Drop, or through a layers.Scope). Helpers never free their
// arguments.
package tensor

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// None is an absent optional tensor: a nil C pointer that VBG's patched
// gotch passes to libtorch as None (c10::nullopt). Never free it.
var None = ts.FromCtensor(nil)

// Drop frees the tensors that are not nil. Drop only fails on a handle
// libtorch no longer knows, a bug elsewhere that freeing cannot mend, so its
// error is dropped.
func Drop(xs ...*ts.Tensor) {
	for _, x := range xs {
		if x != nil && x != None {
			_ = x.Drop()
		}
	}
}

// DropMap frees every tensor of m.
func DropMap(m map[string]*ts.Tensor) {
	for _, x := range m {
		Drop(x)
	}
}

// Live is the number of tensor handles that exist now (created and not yet
// freed). Leak tests compare it before and after a piece of work.
func Live() int { return len(ts.ExistingTensors) }

// Element is a Go type that a tensor can be made from and read into.
type Element interface {
	float32 | float64 | int64 | int32 | uint8
}

// FromSlice makes a tensor of shape from vals on dev. The caller owns it.
func FromSlice[T Element](vals []T, shape []int64, dev gotch.Device) (*ts.Tensor, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if int64(len(vals)) != n {
		return nil, fmt.Errorf("tensor: %d values for shape %v (%d elements)", len(vals), shape, n)
	}
	x, err := ts.NewTensorFromData(vals, shape)
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	if dev == gotch.CPU {
		return x, nil
	}
	defer Drop(x)
	y, err := x.To(dev, false)
	if err != nil {
		return nil, fmt.Errorf("tensor: to %v: %w", dev, err)
	}
	return y, nil
}

// Numel is the number of elements of x.
func Numel(x *ts.Tensor) (int64, error) {
	size, err := x.Size()
	if err != nil {
		return 0, fmt.Errorf("tensor: size: %w", err)
	}
	n := int64(1)
	for _, d := range size {
		n *= d
	}
	return n, nil
}

// Values copies every element of x, in row-major order, into a new Go slice
// of T, converting the dtype and moving to the CPU first where needed.
func Values[T Element](x *ts.Tensor) ([]T, error) {
	if x == nil {
		return nil, errors.New("tensor: read of a nil tensor")
	}
	var zero T
	want, err := gotch.DTypeFromData([]T{zero})
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	src := x
	dev, err := x.Device()
	if err != nil {
		return nil, fmt.Errorf("tensor: device: %w", err)
	}
	if dev != gotch.CPU {
		if src, err = x.To(gotch.CPU, false); err != nil {
			return nil, fmt.Errorf("tensor: to cpu: %w", err)
		}
		defer Drop(src)
	}
	if src.DType() != want {
		c, err := src.Totype(want, false)
		if err != nil {
			return nil, fmt.Errorf("tensor: to %v: %w", want, err)
		}
		defer Drop(c)
		src = c
	}
	n, err := Numel(src)
	if err != nil {
		return nil, err
	}
	out := make([]T, n)
	if n == 0 {
		return out, nil
	}
	if err := src.CopyData(out, uint(n)); err != nil {
		return nil, fmt.Errorf("tensor: copy out: %w", err)
	}
	return out, nil
}

// Float64s reads x as float64 values.
func Float64s(x *ts.Tensor) ([]float64, error) { return Values[float64](x) }

// Int64s reads x as int64 values.
func Int64s(x *ts.Tensor) ([]int64, error) { return Values[int64](x) }

// Scalar reads the one value of a one-element tensor (a loss, a norm).
func Scalar(x *ts.Tensor) (float64, error) {
	v, err := Float64s(x)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("tensor: want one value, got %d", len(v))
	}
	return v[0], nil
}

// CopyInto copies src into dst in place without recording autograd (dst may
// be a parameter). The shapes must match; src is moved to dst's device and
// converted to its dtype.
func CopyInto(dst, src *ts.Tensor) error {
	ds, err := dst.Size()
	if err != nil {
		return fmt.Errorf("copy: destination size: %w", err)
	}
	ss, err := src.Size()
	if err != nil {
		return fmt.Errorf("copy: source size: %w", err)
	}
	if fmt.Sprint(ds) != fmt.Sprint(ss) {
		return fmt.Errorf("copy: shape %v, want %v", ss, ds)
	}
	dev, err := dst.Device()
	if err != nil {
		return fmt.Errorf("copy: device: %w", err)
	}
	return NoGrad(func() error {
		s, err := src.To(dev, false)
		if err != nil {
			return fmt.Errorf("copy: to %v: %w", dev, err)
		}
		defer Drop(s)
		if s.DType() != dst.DType() {
			c, err := s.Totype(dst.DType(), false)
			if err != nil {
				return fmt.Errorf("copy: to %v: %w", dst.DType(), err)
			}
			defer Drop(c)
			s = c
		}
		// ts.Tensor.Copy_ ends in log.Fatal on a libtorch error; the C call
		// with ts.TorchErr reports it instead.
		lib.AtCopy_(lib.Ctensor(dst.Ctensor()), lib.Ctensor(s.Ctensor()))
		if err := ts.TorchErr(); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		return nil
	})
}

// NoGrad runs fn with gradient recording off and restores the previous
// mode, like torch.no_grad. Gradient mode is per OS thread: call it on the
// device worker's goroutine.
func NoGrad(fn func() error) error {
	return withGrad(false, fn)
}

// WithGrad runs fn with gradient recording on (inside a NoGrad, say) and
// restores the previous mode.
func WithGrad(fn func() error) error {
	return withGrad(true, fn)
}

func withGrad(on bool, fn func() error) error {
	prev, err := ts.GradSetEnabled(on)
	if err != nil {
		return fmt.Errorf("grad mode: %w", err)
	}
	ferr := fn()
	if _, err := ts.GradSetEnabled(prev); err != nil && ferr == nil {
		ferr = fmt.Errorf("grad mode: %w", err)
	}
	return ferr
}

// Defined reports whether x holds a tensor (an undefined one stands for "no
// gradient yet").
func Defined(x *ts.Tensor) bool {
	if x == nil || x.Ctensor() == nil {
		return false
	}
	ok, err := x.Defined()
	return err == nil && ok
}

// RequiresGrad reports whether x records gradients.
func RequiresGrad(x *ts.Tensor) (bool, error) {
	ok, err := x.RequiresGrad()
	if err != nil {
		return false, fmt.Errorf("tensor: requires grad: %w", err)
	}
	return ok, nil
}
