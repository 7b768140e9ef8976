package layers

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// Module is a layer with one input and one output: Linear, LayerNorm,
// Conv2d, Embedding, Intermediate, an Activation. Its Forward neither frees
// its input nor keeps its output: the caller owns the result.
type Module interface {
	Forward(x *ts.Tensor) (*ts.Tensor, error)
}

// Scope owns the intermediate tensors of one forward pass, so that the pass
// can be written as its equations:
//
//	s := layers.NewScope(b.Name)
//	h := s.Add(x, s.Do(func() (*ts.Tensor, error) { return b.Attention.Forward(s.Apply(b.Norm1, x), mask, pass) }))
//	return s.Keep(s.Add(h, s.Apply(b.MLP, s.Apply(b.Norm2, h))))
//
// Every operation records its result. The first error is kept and every
// later operation is skipped: it returns nil without calling libtorch, so no
// operation ever runs on a missing tensor. Keep hands the surviving result
// to the caller, frees everything else, and returns the first error wrapped
// with the scope's name (a module's checkpoint path, say), so a failure deep
// in a model reads "vit.encoder.layer.3: attention: ...".
//
// Tensors given to a scope from outside (a forward's input) are never freed
// by it. A Scope is not safe for concurrent use; like all tensor work it
// belongs to the device worker's goroutine.
type Scope struct {
	name  string
	err   error
	owned []*ts.Tensor
}

// NewScope starts a scope whose errors are wrapped with name (empty: not
// wrapped).
func NewScope(name string) *Scope { return &Scope{name: name} }

// Err is the first error, wrapped with the scope's name, or nil.
func (s *Scope) Err() error {
	if s.err == nil || s.name == "" {
		return s.err
	}
	return fmt.Errorf("%s: %w", s.name, s.err)
}

// Failed reports whether an operation has failed, so that a forward can
// skip Go-side work (reading sizes, building masks) after an error.
func (s *Scope) Failed() bool { return s.err != nil }

// Fail records err as the scope's error unless one is already recorded.
func (s *Scope) Fail(err error) {
	if s.err == nil && err != nil {
		s.err = err
	}
}

// Failf records a formatted error (a bad shape, say).
func (s *Scope) Failf(format string, args ...any) { s.Fail(fmt.Errorf(format, args...)) }

// Own records the result of an operation the caller ran itself (for
// example a module call whose arguments are all known to be set). On error,
// or after an earlier one, x is freed and nil is returned.
func (s *Scope) Own(x *ts.Tensor, err error) *ts.Tensor {
	if err == nil && s.err == nil && x == nil {
		err = errors.New("operation returned no tensor")
	}
	if err != nil || s.err != nil {
		s.Fail(err)
		tensor.Drop(x)
		return nil
	}
	s.owned = append(s.owned, x)
	return x
}

// Do runs f unless an earlier operation failed, and records its result.
// Use it for calls that take more than a tensor (a block with a mask, a
// module of another package).
func (s *Scope) Do(f func() (*ts.Tensor, error)) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	return s.Own(f())
}

// Apply is m.Forward(x).
func (s *Scope) Apply(m Module, x *ts.Tensor) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(m.Forward(x))
}

// ready is true when no operation failed and every input is set; a missing
// input without an error is recorded as one.
func (s *Scope) ready(xs ...*ts.Tensor) bool {
	if s.err != nil {
		return false
	}
	for _, x := range xs {
		if x == nil {
			s.Fail(errors.New("operation on a missing tensor"))
			return false
		}
	}
	return true
}

// Keep frees every intermediate except x and returns x to the caller, with
// the scope's error. After an error x is freed too and nil is returned.
func (s *Scope) Keep(x *ts.Tensor) (*ts.Tensor, error) {
	if err := s.KeepAll(x); err != nil {
		return nil, err
	}
	return x, nil
}

// KeepAll is Keep for several results.
func (s *Scope) KeepAll(xs ...*ts.Tensor) error {
	kept := make(map[*ts.Tensor]bool, len(xs))
	if s.err == nil {
		for _, x := range xs {
			kept[x] = true
		}
	}
	for _, o := range s.owned {
		if !kept[o] {
			tensor.Drop(o)
		}
	}
	s.owned = nil
	return s.Err()
}

// ModuleError is a failure inside a module's forward, named by the
// module's checkpoint path: "vit.encoder.layer.3.attention.attention: ...".
type ModuleError struct {
	Path string
	Err  error
}

// Error is the path, a colon and the underlying error.
func (e *ModuleError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ModuleError) Unwrap() error { return e.Err }

// Result is Keep for the forward of a module whose scope is named after its
// checkpoint path. The error names the innermost module that failed, once:
// an error that already names a module (a child's ModuleError) comes back
// as it is, any other is wrapped in a ModuleError with the scope's name.
func (s *Scope) Result(x *ts.Tensor) (*ts.Tensor, error) {
	if err := s.Results(x); err != nil {
		return nil, err
	}
	return x, nil
}

// Results is Result for several outputs.
func (s *Scope) Results(xs ...*ts.Tensor) error {
	err := s.err
	var named *ModuleError
	if err != nil && s.name != "" && !errors.As(err, &named) {
		err = &ModuleError{Path: s.name, Err: err}
	}
	_ = s.KeepAll(xs...)
	return err
}

// Close frees every intermediate and returns the scope's error. Defer it
// in code whose results are not tensors (a loss read back as a number).
func (s *Scope) Close() error { return s.KeepAll() }

// Free frees xs now, before the scope ends, when the scope owns them (an
// encoder frees each layer's input once the next layer has run, so that a
// pass without gradients holds one layer's activations at a time). Tensors
// the scope does not own are left alone.
func (s *Scope) Free(xs ...*ts.Tensor) {
	for _, x := range xs {
		if x == nil {
			continue
		}
		for i, o := range s.owned {
			if o == x {
				tensor.Drop(o)
				s.owned = append(s.owned[:i], s.owned[i+1:]...)
				break
			}
		}
	}
}

// Size is x's shape; nil after an error.
func (s *Scope) Size(x *ts.Tensor) []int64 {
	if !s.ready(x) {
		return nil
	}
	size, err := x.Size()
	if err != nil {
		s.Fail(err)
		return nil
	}
	return size
}

// Shape is x's shape, checked to have rank dims: a forward that wants
// [B, L, D] asks Shape(x, 3) and gets an error naming the shape otherwise.
func (s *Scope) Shape(x *ts.Tensor, dims int) []int64 {
	size := s.Size(x)
	if size != nil && len(size) != dims {
		s.Failf("want a tensor of %d dimensions, got shape %v", dims, size)
		return nil
	}
	return size
}

// Float reads a one-element tensor (a loss, a norm) as a number; 0 after
// an error.
func (s *Scope) Float(x *ts.Tensor) float64 {
	if !s.ready(x) {
		return 0
	}
	v, err := tensor.Scalar(x)
	s.Fail(err)
	return v
}

// Arithmetic.

// Add is a + b (broadcasting).
func (s *Scope) Add(a, b *ts.Tensor) *ts.Tensor {
	if !s.ready(a, b) {
		return nil
	}
	return s.Own(a.Add(b, false))
}

// Sub is a - b.
func (s *Scope) Sub(a, b *ts.Tensor) *ts.Tensor {
	if !s.ready(a, b) {
		return nil
	}
	return s.Own(a.Sub(b, false))
}

// Mul is a · b element-wise.
func (s *Scope) Mul(a, b *ts.Tensor) *ts.Tensor {
	if !s.ready(a, b) {
		return nil
	}
	return s.Own(a.Mul(b, false))
}

// Div is a / b element-wise.
func (s *Scope) Div(a, b *ts.Tensor) *ts.Tensor {
	if !s.ready(a, b) {
		return nil
	}
	return s.Own(a.Div(b, false))
}

// AddScalar is x + v.
func (s *Scope) AddScalar(x *ts.Tensor, v float64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.AddScalar(ts.FloatScalar(v), false))
}

// MulScalar is x · v.
func (s *Scope) MulScalar(x *ts.Tensor, v float64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.MulScalar(ts.FloatScalar(v), false))
}

// Matmul is the matrix product a·b (batched over leading dimensions).
func (s *Scope) Matmul(a, b *ts.Tensor) *ts.Tensor {
	if !s.ready(a, b) {
		return nil
	}
	return s.Own(a.Matmul(b, false))
}

// Shape changes.

// View is x viewed as dims (no copy; x must be contiguous enough).
func (s *Scope) View(x *ts.Tensor, dims ...int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.View(dims, false))
}

// Reshape is x with shape dims (a view where possible, else a copy).
func (s *Scope) Reshape(x *ts.Tensor, dims ...int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Reshape(dims, false))
}

// Transpose swaps dimensions d0 and d1 (a view).
func (s *Scope) Transpose(x *ts.Tensor, d0, d1 int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Transpose(d0, d1, false))
}

// Permute reorders the dimensions (a view).
func (s *Scope) Permute(x *ts.Tensor, dims ...int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Permute(dims, false))
}

// Flatten merges dimensions from..to (inclusive; -1 is the last).
func (s *Scope) Flatten(x *ts.Tensor, from, to int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Flatten(from, to, false))
}

// Unsqueeze inserts a dimension of size 1 at dim.
func (s *Scope) Unsqueeze(x *ts.Tensor, dim int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Unsqueeze(dim, false))
}

// Narrow is x[..., start:start+length, ...] along dim (a view).
func (s *Scope) Narrow(x *ts.Tensor, dim, start, length int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Narrow(dim, start, length, false))
}

// Select is x[..., i, ...] along dim, which is removed (a view).
func (s *Scope) Select(x *ts.Tensor, dim, i int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Select(dim, i, false))
}

// Contiguous is x laid out contiguously (a new handle to the same data
// when it already is).
func (s *Scope) Contiguous(x *ts.Tensor) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Contiguous(false))
}

// Cat concatenates xs along dim.
func (s *Scope) Cat(dim int64, xs ...*ts.Tensor) *ts.Tensor {
	if !s.ready(xs...) {
		return nil
	}
	return s.Own(ts.Cat(xs, dim))
}

// Stack stacks xs along a new dimension dim.
func (s *Scope) Stack(dim int64, xs ...*ts.Tensor) *ts.Tensor {
	if !s.ready(xs...) {
		return nil
	}
	return s.Own(ts.Stack(xs, dim))
}

// Totype is x converted to dtype.
func (s *Scope) Totype(x *ts.Tensor, dtype gotch.DType) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Totype(dtype, false))
}

// Reductions.

// Mean averages x over dims, which are removed.
func (s *Scope) Mean(x *ts.Tensor, dims ...int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.MeanDim(dims, false, x.DType(), false))
}

// Sum adds x over dims, which are removed.
func (s *Scope) Sum(x *ts.Tensor, dims ...int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.SumDimIntlist(dims, false, x.DType(), false))
}

// Nonlinearities and regularisation.

// Softmax is softmax over dim.
func (s *Scope) Softmax(x *ts.Tensor, dim int64) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Softmax(dim, x.DType(), false))
}

// Sigmoid is σ(x).
func (s *Scope) Sigmoid(x *ts.Tensor) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Sigmoid(false))
}

// Tanh is tanh(x).
func (s *Scope) Tanh(x *ts.Tensor) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Tanh(false))
}

// Relu is max(x, 0).
func (s *Scope) Relu(x *ts.Tensor) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	return s.Own(x.Relu(false))
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) when train is true; otherwise (or when p is 0) it returns x.
func (s *Scope) Dropout(x *ts.Tensor, p float64, train bool) *ts.Tensor {
	if !s.ready(x) {
		return nil
	}
	if !train || p == 0 {
		return x
	}
	return s.Own(ts.Dropout(x, p, true))
}
