package layers

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// DCGAN building blocks: transposed convolution with libtorch's weight
// layout, 2-D batch normalisation with running statistics kept as
// non-trainable buffers, the Gram matrix of feature maps, and the DCGAN
// initialisation (Radford et al. 2016: every weight N(0, 0.02), batch-norm
// scales N(1, 0.02), biases zero).

// DCGANStd is the standard deviation of the DCGAN initialisation.
const DCGANStd = 0.02

// Normal is an Init drawing from N(Mean, Std²), written out explicitly
// because gotch's default inits are not what their names say.
type Normal struct {
	Mean, Std float64
}

var _ Init = Normal{}

// DCGANWeightInit is N(0, 0.02): convolution, transposed convolution,
// linear and embedding weights of the DCGAN generator and discriminator.
var DCGANWeightInit = Normal{Mean: 0, Std: DCGANStd}

// DCGANNormInit is N(1, 0.02): the scale (weight) of DCGAN batch norms.
var DCGANNormInit = Normal{Mean: 1, Std: DCGANStd}

// Reinit draws x afresh from the distribution, in place and without
// recording autograd (x may be a parameter).
func (n Normal) Reinit(x *ts.Tensor) error {
	return inPlace(x, "normal init", func(d *ts.Tensor) error { return d.Normal_(n.Mean, n.Std) })
}

// ConvTranspose2d mirrors torch.nn.ConvTranspose2d with square kernels, one
// group and no dilation. Its weight is [in, out, k, k], the layout libtorch
// expects (gotch's nn.NewConvTranspose2D allocates [out, in, k, k] and so
// only works when in == out).
//
// The output side is (H-1)·Stride − 2·Padding + Kernel + OutputPadding; with
// kernel 4, stride 2, padding 1 it doubles H.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.ConvTranspose2d.html
type ConvTranspose2d struct {
	// Name is the module's checkpoint path ("g.up.2"); errors carry it.
	Name                           string
	Weight                         *ts.Tensor // [in, out, k, k]
	Bias                           *ts.Tensor // [out], nil without bias
	Stride, Padding, OutputPadding int64
}

// NewConvTranspose2d creates "weight" [in, out, k, k] drawn from ini and, if
// bias, "bias" (zeros) under p.
func NewConvTranspose2d(p *nn.Path, in, out, kernel, stride, padding int64, bias bool, ini Init) (*ConvTranspose2d, error) {
	w, err := newParam(p, "weight", []int64{in, out, kernel, kernel}, ini)
	if err != nil {
		return nil, err
	}
	c := &ConvTranspose2d{Name: key(p, ""), Weight: w, Stride: stride, Padding: padding}
	if bias {
		if c.Bias, err = newParam(p, "bias", []int64{out}, zeros); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Forward maps x [B, in, H, W] to [B, out, H', W'].
func (c *ConvTranspose2d) Forward(x *ts.Tensor) (*ts.Tensor, error) {
	b := c.Bias
	if b == nil {
		b = tensor.None
	}
	y, err := ts.ConvTranspose2d(x, c.Weight, b, []int64{c.Stride, c.Stride}, []int64{c.Padding, c.Padding},
		[]int64{c.OutputPadding, c.OutputPadding}, 1, []int64{1, 1})
	if err != nil {
		return nil, fmt.Errorf("%s: conv transpose2d: %w", c.Name, err)
	}
	return y, nil
}

// BatchNorm2d mirrors torch.nn.BatchNorm2d: per-channel normalisation of
// [B, C, H, W] with a learned scale and shift. In training mode it uses the
// batch statistics and updates RunningMean and RunningVar in place
// (exponential average with Momentum); in evaluation mode it uses the
// running statistics. The running statistics are non-trainable buffers of
// the VarStore ("running_mean", "running_var"), so they are saved and
// restored with the weights but never touched by an optimizer.
//
// https://pytorch.org/docs/2.1/generated/torch.nn.BatchNorm2d.html
type BatchNorm2d struct {
	// Name is the module's checkpoint path ("g.bn.0"); errors carry it.
	Name                    string
	Weight, Bias            *ts.Tensor // [C], trainable
	RunningMean, RunningVar *ts.Tensor // [C], buffers: zeros and ones at init
	Momentum, Eps           float64
}

// NewBatchNorm2d creates "weight" (drawn from ini; DCGANNormInit for DCGAN,
// nil for ones), "bias" (zeros) and the buffers "running_mean" (zeros) and
// "running_var" (ones) of size channels under p, with torch's defaults
// momentum 0.1 and eps 1e-5.
func NewBatchNorm2d(p *nn.Path, channels int64, ini Init) (*BatchNorm2d, error) {
	if ini == nil {
		ini = ones
	}
	w, err := newParam(p, "weight", []int64{channels}, ini)
	if err != nil {
		return nil, err
	}
	b, err := newParam(p, "bias", []int64{channels}, zeros)
	if err != nil {
		return nil, err
	}
	rm, err := p.ZerosNoTrain("running_mean", []int64{channels}, nn.WithVarType("buffer"))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key(p, "running_mean"), err)
	}
	rv, err := p.OnesNoTrain("running_var", []int64{channels}, nn.WithVarType("buffer"))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key(p, "running_var"), err)
	}
	return &BatchNorm2d{Name: key(p, ""), Weight: w, Bias: b, RunningMean: rm, RunningVar: rv, Momentum: 0.1, Eps: 1e-5}, nil
}

// Forward normalises x [B, C, H, W]. With train it normalises by the batch
// statistics and updates the running ones; otherwise it uses the running
// statistics and changes nothing.
func (n *BatchNorm2d) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	y, err := ts.BatchNorm(x, n.Weight, n.Bias, n.RunningMean, n.RunningVar, train, n.Momentum, n.Eps, false)
	if err != nil {
		return nil, fmt.Errorf("%s: batch norm: %w", n.Name, err)
	}
	return y, nil
}

// LeakyReLU returns max(x, slope·x) for 0 <= slope <= 1 (DCGAN's
// discriminator uses slope 0.2; gotch's LeakyRelu has a fixed 0.01). x is
// not freed.
func LeakyReLU(x *ts.Tensor, slope float64) (*ts.Tensor, error) {
	if slope < 0 || slope > 1 {
		return nil, fmt.Errorf("leaky relu: slope %g outside [0, 1]", slope)
	}
	s := NewScope("leaky relu")
	sx := s.MulScalar(x, slope)
	return s.Keep(s.Do(func() (*ts.Tensor, error) { return x.Maximum(sx, false) }))
}

// GramMatrix returns the Gram matrices of feature maps f [B, C, H, W]:
//
//	G[b] = F_b · F_bᵀ / (C·H·W),  F_b = f[b] reshaped to [C, H·W]
//
// so G[b][i][j] = Σ_p f[b,i,p]·f[b,j,p] / (C·H·W), a [B, C, C] tensor.
// Dividing by C·H·W (Gatys et al.'s normalisation with the channel count
// included) makes the entries independent of the image size, so Gram
// matrices of patches and of whole images can be compared.
func GramMatrix(f *ts.Tensor) (*ts.Tensor, error) {
	s := NewScope("gram matrix")
	size := s.Shape(f, 4)
	if s.Failed() {
		return s.Keep(nil)
	}
	b, c, hw := size[0], size[1], size[2]*size[3]
	flat := s.Reshape(f, b, c, hw)
	ft := s.Transpose(flat, 1, 2)
	g := s.Do(func() (*ts.Tensor, error) { return flat.Bmm(ft, false) })
	return s.Keep(s.Do(func() (*ts.Tensor, error) { return g.DivScalar(ts.FloatScalar(float64(c*hw)), false) }))
}
