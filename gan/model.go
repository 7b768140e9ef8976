package gan

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Mode selects how the batch norms of G and D normalise.
type Mode int

// Batch-norm modes.
const (
	// Eval uses the running statistics.
	Eval Mode = iota
	// Train uses the batch statistics and updates the running ones.
	Train
)

// norm applies bn to x in mode, recorded on s.
func (m Mode) norm(s *layers.Scope, bn *layers.BatchNorm2d, x *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return bn.Forward(x, m == Train) })
}

// norms returns the generator's batch norms.
func (g *Generator) norms() []*layers.BatchNorm2d {
	return []*layers.BatchNorm2d{g.BN0, g.BN[0], g.BN[1], g.BN[2]}
}

// ModelConfig sizes the generator and the discriminator.
type ModelConfig struct {
	ImageSize    int64 // 32, 64 or 128
	NoiseDim     int64 // z
	EmbedDim     int64 // class embedding
	GenChannels  int64 // g: the generator's layers have 8g, 4g, 2g, g channels
	DiscChannels int64 // d: the discriminator's layers have d, 2d, 4d, 8d channels
	Classes      int64
	Attributes   int64 // attribute outputs of the auxiliary head (0 = none)
}

func (c ModelConfig) check() error {
	switch {
	case c.ImageSize != 32 && c.ImageSize != 64 && c.ImageSize != 128:
		return fmt.Errorf("gan: image size %d: want 32, 64 or 128", c.ImageSize)
	case c.NoiseDim < 1 || c.EmbedDim < 1 || c.GenChannels < 1 || c.DiscChannels < 1:
		return fmt.Errorf("gan: noise %d, embedding %d and channel counts %d/%d must be positive", c.NoiseDim, c.EmbedDim, c.GenChannels, c.DiscChannels)
	case c.Classes < 1 || c.Attributes < 0:
		return fmt.Errorf("gan: %d classes and %d attributes", c.Classes, c.Attributes)
	}
	return nil
}

// start is the side of the feature map the fully connected layer makes:
// four stride-2 transposed convolutions then reach ImageSize.
func (c ModelConfig) start() int64 { return c.ImageSize / 16 }

// Generator is the conditional DCGAN generator (paper eq. 15,
// G(z) = f_tconv(f_fc(z))): the noise z concatenated with a class
// embedding goes through a fully connected layer to an 8g×s×s map
// (s = size/16, batch norm, ReLU), then four transposed convolutions
// (kernel 4, stride 2, padding 1) double the side each time: three with
// batch norm and ReLU (4g, 2g, g channels) and a last one to 3 channels
// with tanh, so pixels are in [-1, 1].
type Generator struct {
	Cfg   ModelConfig
	Embed *layers.Embedding
	FC    *layers.Linear
	BN0   *layers.BatchNorm2d
	Up    [4]*layers.ConvTranspose2d
	BN    [3]*layers.BatchNorm2d
}

// NewGenerator builds a generator under p ("embed", "fc", "bn0",
// "up.0".."up.3", "bn.0".."bn.2"). Weights are DCGAN-initialised: every
// convolution and linear weight N(0, 0.02), batch-norm scales N(1, 0.02),
// biases zero. The class embedding is N(0, 1), like torch's nn.Embedding:
// it is an input code on the scale of z, not a layer weight.
func NewGenerator(p *nn.Path, c ModelConfig) (*Generator, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	g := &Generator{Cfg: c}
	var err error
	if g.Embed, err = layers.NewEmbedding(p.Sub("embed"), c.Classes, c.EmbedDim, -1); err != nil {
		return nil, err
	}
	if err = (layers.Normal{Mean: 0, Std: 1}).Reinit(g.Embed.Weight); err != nil {
		return nil, err
	}
	s := c.start()
	ch := []int64{8 * c.GenChannels, 4 * c.GenChannels, 2 * c.GenChannels, c.GenChannels, 3}
	if g.FC, err = layers.NewLinear(p.Sub("fc"), c.NoiseDim+c.EmbedDim, ch[0]*s*s, false); err != nil {
		return nil, err
	}
	if err = layers.DCGANWeightInit.Reinit(g.FC.Weight); err != nil {
		return nil, err
	}
	if g.BN0, err = layers.NewBatchNorm2d(p.Sub("bn0"), ch[0], layers.DCGANNormInit); err != nil {
		return nil, err
	}
	for i := 0; i < 4; i++ {
		if g.Up[i], err = layers.NewConvTranspose2d(p.Sub("up").Sub(fmt.Sprint(i)), ch[i], ch[i+1], 4, 2, 1, false, layers.DCGANWeightInit); err != nil {
			return nil, err
		}
		if i < 3 {
			if g.BN[i], err = layers.NewBatchNorm2d(p.Sub("bn").Sub(fmt.Sprint(i)), ch[i+1], layers.DCGANNormInit); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// Forward maps noise z [B, NoiseDim] and class ids [B] (int64) to images
// [B, 3, S, S] in [-1, 1]; mode selects the batch-norm statistics.
func (g *Generator) Forward(z, classes *ts.Tensor, mode Mode) (*ts.Tensor, error) {
	s := layers.NewScope("generator")
	// Eq. 15, f_fc: the noise and the class code to an 8g×s×s map.
	h := s.Apply(g.FC, s.Cat(1, z, s.Apply(g.Embed, classes)))
	n := g.Cfg.start()
	x := s.Relu(mode.norm(s, g.BN0, s.Reshape(h, -1, 8*g.Cfg.GenChannels, n, n)))
	// Eq. 15, f_tconv: each transposed convolution doubles the side. A
	// layer's input is freed once it has run (autograd keeps what it needs).
	for i := range g.Up {
		in := x
		x = s.Do(func() (*ts.Tensor, error) { return g.layer(i, in, mode) })
		s.Free(in)
	}
	return s.Keep(x)
}

// layer is the generator's layer i: transposed convolution "up.i", then
// batch norm "bn.i" and ReLU, or tanh after the last.
func (g *Generator) layer(i int, x *ts.Tensor, mode Mode) (*ts.Tensor, error) {
	s := layers.NewScope(fmt.Sprintf("up.%d", i))
	y := s.Apply(g.Up[i], x)
	if i == len(g.Up)-1 {
		return s.Keep(s.Tanh(y))
	}
	return s.Keep(s.Relu(mode.norm(s, g.BN[i], y)))
}

// Discriminator is the DCGAN discriminator with an auxiliary head (paper
// eq. 18, D(x) = σ(F(x))): four convolutions (kernel 4, stride 2, padding
// 1; d, 2d, 4d, 8d channels) with LeakyReLU(0.2), batch norm on all but the
// first, then two linear heads on the flattened 8d×s×s features: one
// real/fake logit F(x), and an auxiliary head with one logit per class and
// per attribute of the category-attribute table, used by the attribute
// consistency loss.
type Discriminator struct {
	Cfg  ModelConfig
	Conv [4]*layers.Conv2d
	BN   [3]*layers.BatchNorm2d
	Adv  *layers.Linear // -> 1
	Aux  *layers.Linear // -> Classes + Attributes
}

// DOutput is what the discriminator says about a batch; the caller frees
// it with Drop.
type DOutput struct {
	Logit       *ts.Tensor // [B]: F(x); D(x) = σ(Logit)
	ClassLogits *ts.Tensor // [B, Classes]
	AttrLogits  *ts.Tensor // [B, Attributes], nil without attributes
}

// Drop frees the output's tensors.
func (o *DOutput) Drop() {
	if o != nil {
		tensor.Drop(o.Logit, o.ClassLogits, o.AttrLogits)
	}
}

// NewDiscriminator builds a discriminator under p ("conv.0".."conv.3",
// "bn.0".."bn.2", "adv", "aux"), DCGAN-initialised.
func NewDiscriminator(p *nn.Path, c ModelConfig) (*Discriminator, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	d := &Discriminator{Cfg: c}
	ch := []int64{3, c.DiscChannels, 2 * c.DiscChannels, 4 * c.DiscChannels, 8 * c.DiscChannels}
	var err error
	for i := 0; i < 4; i++ {
		if d.Conv[i], err = layers.NewConv2d(p.Sub("conv").Sub(fmt.Sprint(i)), ch[i], ch[i+1], 4, 2, 1, false); err != nil {
			return nil, err
		}
		if err = layers.DCGANWeightInit.Reinit(d.Conv[i].Weight); err != nil {
			return nil, err
		}
		if i > 0 {
			if d.BN[i-1], err = layers.NewBatchNorm2d(p.Sub("bn").Sub(fmt.Sprint(i-1)), ch[i+1], layers.DCGANNormInit); err != nil {
				return nil, err
			}
		}
	}
	s := c.start()
	feat := ch[4] * s * s
	if d.Adv, err = layers.NewLinear(p.Sub("adv"), feat, 1, true); err != nil {
		return nil, err
	}
	if d.Aux, err = layers.NewLinear(p.Sub("aux"), feat, c.Classes+c.Attributes, true); err != nil {
		return nil, err
	}
	for _, w := range []*ts.Tensor{d.Adv.Weight, d.Aux.Weight} {
		if err = layers.DCGANWeightInit.Reinit(w); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Forward scores images x [B, 3, S, S] in [-1, 1]; mode selects the
// batch-norm statistics.
func (d *Discriminator) Forward(x *ts.Tensor, mode Mode) (*DOutput, error) {
	s := layers.NewScope("discriminator")
	h := x
	for i := range d.Conv {
		in := h
		h = s.Do(func() (*ts.Tensor, error) { return d.layer(i, in, mode) })
		s.Free(in) // x, not the scope's, is left alone
	}
	h = s.Flatten(h, 1, -1) // [B, 8d·s·s]
	// Eq. 18, D(x) = σ(F(x)): the real/fake logit F(x).
	out := &DOutput{Logit: s.Reshape(s.Apply(d.Adv, h), -1)}
	// The auxiliary head: class logits, then attribute logits.
	aux := s.Apply(d.Aux, h)
	out.ClassLogits = aux
	if d.Cfg.Attributes > 0 {
		out.ClassLogits = s.Narrow(aux, 1, 0, d.Cfg.Classes)
		out.AttrLogits = s.Narrow(aux, 1, d.Cfg.Classes, d.Cfg.Attributes)
	}
	if err := s.KeepAll(out.Logit, out.ClassLogits, out.AttrLogits); err != nil {
		return nil, err
	}
	return out, nil
}

// layer is the discriminator's layer i: convolution "conv.i", batch norm
// "bn.(i-1)" on all but the first, LeakyReLU(0.2).
func (d *Discriminator) layer(i int, x *ts.Tensor, mode Mode) (*ts.Tensor, error) {
	s := layers.NewScope(fmt.Sprintf("conv.%d", i))
	h := s.Apply(d.Conv[i], x)
	if i > 0 {
		h = mode.norm(s, d.BN[i-1], h)
	}
	return s.Keep(s.Do(func() (*ts.Tensor, error) { return layers.LeakyReLU(h, 0.2) }))
}

// StyleNet is the fixed feature extractor the style constraint loss takes
// Gram matrices on: conv3×3(3→c) + ReLU, then 2×2 average pooling,
// conv3×3(c→2c) + ReLU. Its weights are random (He-normal, drawn from a Go
// generator with a fixed seed, so every process builds the same net) and
// never trained: shallow random convolutional features capture texture
// statistics well (Ustyuzhaninov et al., 2017), they need no pretrained
// VGG, and their targets for the texture library can be computed once.
type StyleNet struct {
	W1, W2 *ts.Tensor // [c, 3, 3, 3], [2c, c, 3, 3]; not parameters
}

// NewStyleNet builds the net with c first-layer channels on dev.
func NewStyleNet(c int64, seed uint64, dev gotch.Device) (*StyleNet, error) {
	if c < 1 {
		return nil, fmt.Errorf("style net: %d channels", c)
	}
	r := rand.New(rand.NewPCG(seed, 0x7374796c65))
	he := func(shape []int64) (*ts.Tensor, error) {
		n := shape[0] * shape[1] * shape[2] * shape[3]
		fanIn := float64(shape[1] * shape[2] * shape[3])
		std := math.Sqrt(2 / fanIn)
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
		return tensor.FromSlice(v, shape, dev)
	}
	w1, err := he([]int64{c, 3, 3, 3})
	if err != nil {
		return nil, fmt.Errorf("style net: %w", err)
	}
	w2, err := he([]int64{2 * c, c, 3, 3})
	if err != nil {
		tensor.Drop(w1)
		return nil, fmt.Errorf("style net: %w", err)
	}
	return &StyleNet{W1: w1, W2: w2}, nil
}

// Layers is the number of feature maps Features returns.
func (n *StyleNet) Layers() int { return 2 }

// Features returns the two ReLU feature maps of x [B, 3, H, W]
// ([B, c, H, W] and [B, 2c, H/2, W/2]), owned by the caller.
func (n *StyleNet) Features(x *ts.Tensor) ([]*ts.Tensor, error) {
	s := layers.NewScope("style features")
	f1 := s.Relu(conv3x3(s, x, n.W1))
	p := s.Do(func() (*ts.Tensor, error) {
		return f1.AvgPool2d([]int64{2, 2}, []int64{2, 2}, []int64{0, 0}, false, true, nil, false)
	})
	f2 := s.Relu(conv3x3(s, p, n.W2))
	if err := s.KeepAll(f1, f2); err != nil {
		return nil, err
	}
	return []*ts.Tensor{f1, f2}, nil
}

// conv3x3 convolves x with w (3×3, stride 1, padding 1, no bias).
func conv3x3(s *layers.Scope, x, w *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) {
		return ts.Conv2d(x, w, tensor.None, []int64{1, 1}, []int64{1, 1}, []int64{1, 1}, 1)
	})
}

// Grams returns the Gram matrices (layers.GramMatrix) of x's style
// features, one [B, C, C] per layer, owned by the caller.
func (n *StyleNet) Grams(x *ts.Tensor) ([]*ts.Tensor, error) {
	s := layers.NewScope("style")
	feats, err := n.Features(x)
	s.Fail(err)
	grams := make([]*ts.Tensor, len(feats))
	for i, f := range feats {
		s.Own(f, nil)
		grams[i] = s.Do(func() (*ts.Tensor, error) { return layers.GramMatrix(f) })
	}
	if err := s.KeepAll(grams...); err != nil {
		return nil, err
	}
	return grams, nil
}

// Drop frees the net's weights.
func (n *StyleNet) Drop() {
	if n != nil {
		tensor.Drop(n.W1, n.W2)
	}
}
