package baselines

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// initFn fills a freshly created parameter in place (on a detached alias, so
// nothing is recorded by autograd).
type initFn func(x *ts.Tensor) error

// normalInit draws N(0, std²).
func normalInit(std float64) initFn {
	return func(x *ts.Tensor) error { return x.Normal_(0, std) }
}

// truncNormalInit draws N(0, std²) truncated at ±2 std (torch's
// trunc_normal_ with its default bounds when std is small).
func truncNormalInit(std float64) initFn {
	return func(x *ts.Tensor) error {
		if err := x.Normal_(0, std); err != nil {
			return err
		}
		return x.Clamp_(ts.FloatScalar(-2*std), ts.FloatScalar(2*std))
	}
}

// uniformInit draws U(-bound, bound).
func uniformInit(bound float64) initFn {
	return func(x *ts.Tensor) error { return x.Uniform_(-bound, bound) }
}

// constInit fills v.
func constInit(v float64) initFn {
	return func(x *ts.Tensor) error { return x.Fill_(ts.FloatScalar(v)) }
}

// kaimingNormal is torch.nn.init.kaiming_normal_ for ReLU: std √(2/fan),
// fan = fan_out (out·k·k) when fanOut, else fan_in (in·k·k).
func kaimingNormal(dims []int64, fanOut bool) initFn {
	fan := dims[1]
	if fanOut {
		fan = dims[0]
	}
	for _, d := range dims[2:] {
		fan *= d
	}
	return normalInit(math.Sqrt(2 / float64(fan)))
}

// torchDefault is the default init of torch's Linear and Conv weights and
// biases: U(±1/√fan_in) (kaiming_uniform with a=√5 gives the same bound).
func torchDefault(fanIn int64) initFn { return uniformInit(1 / math.Sqrt(float64(fanIn))) }

// registry holds the parameters and buffers of one model by checkpoint name
// (torchvision's names), for loading user-supplied weights, and the first
// construction error.
type registry struct {
	root    string
	tensors map[string]*ts.Tensor
	head    []string // name prefixes of the final classifier (skipped on shape mismatch)
	err     error
}

func newRegistry(p *nn.Path) *registry {
	return &registry{root: strings.Join(p.Paths(), "."), tensors: map[string]*ts.Tensor{}}
}

// name is the checkpoint name of name under p, relative to the model root.
func (r *registry) name(p *nn.Path, name string) string {
	full := strings.Join(append(append([]string(nil), p.Paths()...), name), ".")
	if r.root != "" {
		full = strings.TrimPrefix(full, r.root+".")
	}
	return full
}

// path is p's own checkpoint name relative to the model root ("layer2.1"),
// the name of a block's scope.
func (r *registry) path(p *nn.Path) string { return strings.TrimSuffix(r.name(p, ""), ".") }

// fail records the first error.
func (r *registry) fail(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// param creates a variable name under p with dims, filled by ini; buffers
// (trainable false) are saved in checkpoints but not optimized.
func (r *registry) param(p *nn.Path, name string, dims []int64, ini initFn, trainable bool) *ts.Tensor {
	if r.err != nil {
		return nil
	}
	key := r.name(p, name)
	var t *ts.Tensor
	var err error
	if trainable {
		t, err = p.Zeros(name, dims)
	} else {
		t, err = p.ZerosNoTrain(name, dims)
	}
	if err != nil {
		r.fail(fmt.Errorf("create %s %v: %w", key, dims, err))
		return nil
	}
	if ini != nil {
		d, err := t.Detach(false)
		if err == nil {
			err = ini(d)
			tensor.Drop(d)
		}
		if err != nil {
			r.fail(fmt.Errorf("init %s: %w", key, err))
			return nil
		}
	}
	r.tensors[key] = t
	return t
}

// conv is a 2-D convolution (torch.nn.Conv2d, one group, no dilation).
type conv struct {
	w, b            *ts.Tensor
	stride, padding []int64
}

// newConv builds "weight" [out, in, kh, kw] and, with bias, "bias" under p.
// wInit nil means torch's default; the bias is zero when wInit is given and
// torch's default otherwise.
func (r *registry) conv(p *nn.Path, in, out int64, kernel, stride, padding []int64, bias bool, wInit initFn) *conv {
	dims := []int64{out, in, kernel[0], kernel[1]}
	bInit := constInit(0)
	if wInit == nil {
		wInit = torchDefault(in * kernel[0] * kernel[1])
		bInit = wInit
	}
	c := &conv{w: r.param(p, "weight", dims, wInit, true), stride: stride, padding: padding}
	if bias {
		c.b = r.param(p, "bias", []int64{out}, bInit, true)
	}
	return c
}

// sq is a square size pair.
func sq(k int64) []int64 { return []int64{k, k} }

// Forward implements layers.Module.
func (c *conv) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	b := c.b
	if b == nil {
		b = tensor.None
	}
	return ts.Conv2d(x, c.w, b, c.stride, c.padding, []int64{1, 1}, 1)
}

// batchNorm is torch.nn.BatchNorm2d (eps 1e-5, momentum 0.1) with weight 1
// and bias 0 at init, and running statistics saved as buffers.
type batchNorm struct {
	w, b, mean, vari *ts.Tensor
	eps              float64
}

func (r *registry) batchNorm(p *nn.Path, c int64, eps float64) *batchNorm {
	return &batchNorm{
		w:    r.param(p, "weight", []int64{c}, constInit(1), true),
		b:    r.param(p, "bias", []int64{c}, constInit(0), true),
		mean: r.param(p, "running_mean", []int64{c}, constInit(0), false),
		vari: r.param(p, "running_var", []int64{c}, constInit(1), false),
		eps:  eps,
	}
}

func (n *batchNorm) forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	return ts.BatchNorm(x, n.w, n.b, n.mean, n.vari, train, 0.1, n.eps, false)
}

// linear is torch.nn.Linear.
type linear struct{ w, b *ts.Tensor }

// linear builds "weight" [out, in] and "bias" under p; nil inits mean
// torch's defaults.
func (r *registry) linear(p *nn.Path, in, out int64, bias bool, wInit, bInit initFn) *linear {
	if wInit == nil {
		wInit = torchDefault(in)
	}
	if bInit == nil {
		bInit = torchDefault(in)
	}
	l := &linear{w: r.param(p, "weight", []int64{out, in}, wInit, true)}
	if bias {
		l.b = r.param(p, "bias", []int64{out}, bInit, true)
	}
	return l
}

// Forward implements layers.Module.
func (l *linear) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	b := l.b
	if b == nil {
		b = tensor.None
	}
	return ts.Linear(x, l.w, b)
}

// layerNorm is torch.nn.LayerNorm over the last dimension (eps 1e-5).
type layerNorm struct {
	w, b *ts.Tensor
	dim  int64
}

func (r *registry) layerNorm(p *nn.Path, dim int64) *layerNorm {
	return &layerNorm{w: r.param(p, "weight", []int64{dim}, constInit(1), true), b: r.param(p, "bias", []int64{dim}, constInit(0), true), dim: dim}
}

// Forward implements layers.Module.
func (n *layerNorm) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	return ts.LayerNorm(x, []int64{n.dim}, n.w, n.b, 1e-5, false)
}

// scope is a layers.Scope with the operations of the baseline networks
// that package layers has no use for (batch norm in a mode, pooling).
// Like every Scope operation they record their result and are skipped
// after the first error.
type scope struct{ *layers.Scope }

// newScope starts a scope whose errors are wrapped with name.
func newScope(name string) scope { return scope{layers.NewScope(name)} }

// bn is batch norm n on x, with batch statistics when train.
func (s scope) bn(n *batchNorm, x *ts.Tensor, train bool) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return n.forward(x, train) })
}

// convBNReLU is relu(bn(conv(x))).
func (s scope) convBNReLU(c *conv, n *batchNorm, x *ts.Tensor, train bool) *ts.Tensor {
	return s.Relu(s.bn(n, s.Apply(c, x), train))
}

// gelu is the exact (erf) GELU.
func (s scope) gelu(x *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.Gelu("none", false) })
}

func (s scope) maxPool(x *ts.Tensor, k, st, p int64, ceil bool) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.MaxPool2d(sq(k), sq(st), sq(p), sq(1), ceil, false) })
}

func (s scope) avgPool(x *ts.Tensor, k, st, p int64) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.AvgPool2d(sq(k), sq(st), sq(p), false, true, nil, false) })
}

// gap is global average pooling [B, C, H, W] -> [B, C] (in float32, also
// under autocast).
func (s scope) gap(x *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.MeanDim([]int64{2, 3}, false, gotch.Float, false) })
}

func (s scope) adaptiveAvg(x *ts.Tensor, h, w int64) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.AdaptiveAvgPool2d([]int64{h, w}, false) })
}

// atLeast upsamples x [B, C, H, W] bilinearly to min×min when it is
// smaller, for networks whose valid convolutions need a minimum input size.
func (s scope) atLeast(x *ts.Tensor, min int64) *ts.Tensor {
	size := s.Shape(x, 4)
	if size == nil || (size[2] >= min && size[3] >= min) {
		return x
	}
	return s.Do(func() (*ts.Tensor, error) {
		return x.UpsampleBilinear2d([]int64{max(min, size[2]), max(min, size[3])}, false, nil, nil, false)
	})
}

// crossEntropy is the mean softmax cross-entropy of logits [B, K] against
// labels [B], weighted per class when weights [K] is not nil.
func crossEntropy(logits, labels, weights *ts.Tensor) (*ts.Tensor, error) {
	w := weights
	if w == nil {
		w = tensor.None
	}
	l, err := logits.CrossEntropyLoss(labels, w, 1, -100, 0, false)
	if err != nil {
		return nil, fmt.Errorf("cross entropy: %w", err)
	}
	return l, nil
}

// LoadReport says what LoadWeights copied.
type LoadReport struct {
	Loaded  int      // tensors copied
	Skipped []string // classifier tensors left at their init (class count differs)
	Unused  []string // file tensors the model does not have
}

// loadWeights copies tensors by name from src into the model's registry.
// Every tensor of the model must be in src except the classifier's when its
// shape differs (another class count).
func (r *registry) loadWeights(src map[string]*ts.Tensor) (*LoadReport, error) {
	rep := &LoadReport{}
	var missing []string
	names := make([]string, 0, len(r.tensors))
	for n := range r.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	isHead := func(n string) bool {
		for _, h := range r.head {
			if strings.HasPrefix(n, h+".") {
				return true
			}
		}
		return false
	}
	var errs []error
	for _, n := range names {
		dst := r.tensors[n]
		s, ok := src[n]
		if !ok {
			if isHead(n) {
				rep.Skipped = append(rep.Skipped, n)
				continue
			}
			missing = append(missing, n)
			continue
		}
		ds, _ := dst.Size()
		ss, _ := s.Size()
		if fmt.Sprint(ds) != fmt.Sprint(ss) {
			if isHead(n) {
				rep.Skipped = append(rep.Skipped, n)
				continue
			}
			errs = append(errs, fmt.Errorf("%s: shape %v in the file, %v in the model", n, ss, ds))
			continue
		}
		if err := tensor.CopyInto(dst, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		rep.Loaded++
	}
	for n := range src {
		if _, ok := r.tensors[n]; !ok && !strings.HasSuffix(n, "num_batches_tracked") {
			rep.Unused = append(rep.Unused, n)
		}
	}
	sort.Strings(rep.Unused)
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%d tensors missing from the file (first: %s)", len(missing), missing[0]))
	}
	return rep, errors.Join(errs...)
}
