package gan

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
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

func (m Mode) norm(bn *layers.BatchNorm2d, x *ts.Tensor) (*ts.Tensor, error) {
	return bn.Forward(x, m == Train)
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
	emb, err := g.Embed.Forward(classes)
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	in, err := ts.Cat([]*ts.Tensor{z, emb}, 1)
	drop(emb)
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	h, err := g.FC.Forward(in)
	drop(in)
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	s := g.Cfg.start()
	x, err := h.Reshape([]int64{-1, 8 * g.Cfg.GenChannels, s, s}, true)
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	if x, err = bnRelu(g.BN0, x, mode); err != nil {
		return nil, fmt.Errorf("generator fc: %w", err)
	}
	for i, up := range g.Up {
		y, err := up.Forward(x)
		drop(x)
		if err != nil {
			return nil, fmt.Errorf("generator layer %d: %w", i, err)
		}
		if i < 3 {
			if x, err = bnRelu(g.BN[i], y, mode); err != nil {
				return nil, fmt.Errorf("generator layer %d: %w", i, err)
			}
			continue
		}
		if x, err = y.Tanh(true); err != nil {
			return nil, fmt.Errorf("generator output: %w", err)
		}
	}
	return x, nil
}

// bnRelu applies batch norm then ReLU and frees x.
func bnRelu(bn *layers.BatchNorm2d, x *ts.Tensor, mode Mode) (*ts.Tensor, error) {
	y, err := mode.norm(bn, x)
	drop(x)
	if err != nil {
		return nil, err
	}
	return y.Relu(true)
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
		drop(o.Logit, o.ClassLogits, o.AttrLogits)
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
	h, err := d.features(x, mode)
	if err != nil {
		return nil, err
	}
	defer drop(h)
	adv, err := d.Adv.Forward(h)
	if err != nil {
		return nil, fmt.Errorf("discriminator: %w", err)
	}
	out := &DOutput{}
	if out.Logit, err = adv.Reshape([]int64{-1}, true); err != nil {
		return nil, fmt.Errorf("discriminator: %w", err)
	}
	aux, err := d.Aux.Forward(h)
	if err != nil {
		out.Drop()
		return nil, fmt.Errorf("discriminator aux: %w", err)
	}
	if d.Cfg.Attributes == 0 {
		out.ClassLogits = aux
		return out, nil
	}
	defer drop(aux)
	if out.ClassLogits, err = aux.Narrow(1, 0, d.Cfg.Classes, false); err == nil {
		out.AttrLogits, err = aux.Narrow(1, d.Cfg.Classes, d.Cfg.Attributes, false)
	}
	if err != nil {
		out.Drop()
		return nil, fmt.Errorf("discriminator aux: %w", err)
	}
	return out, nil
}

// features runs the convolutions and returns [B, 8d·s·s].
func (d *Discriminator) features(x *ts.Tensor, mode Mode) (*ts.Tensor, error) {
	h := x
	for i, conv := range d.Conv {
		y, err := conv.Forward(h)
		if h != x {
			drop(h)
		}
		if err != nil {
			return nil, fmt.Errorf("discriminator layer %d: %w", i, err)
		}
		if i > 0 {
			z, err := mode.norm(d.BN[i-1], y)
			drop(y)
			if err != nil {
				return nil, fmt.Errorf("discriminator layer %d: %w", i, err)
			}
			y = z
		}
		h, err = layers.LeakyReLU(y, 0.2)
		drop(y)
		if err != nil {
			return nil, fmt.Errorf("discriminator layer %d: %w", i, err)
		}
	}
	f, err := h.Flatten(1, -1, true)
	if err != nil {
		return nil, fmt.Errorf("discriminator: %w", err)
	}
	return f, nil
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
		return toDevice(v, shape, dev)
	}
	w1, err := he([]int64{c, 3, 3, 3})
	if err != nil {
		return nil, fmt.Errorf("style net: %w", err)
	}
	w2, err := he([]int64{2 * c, c, 3, 3})
	if err != nil {
		drop(w1)
		return nil, fmt.Errorf("style net: %w", err)
	}
	return &StyleNet{W1: w1, W2: w2}, nil
}

// Layers is the number of feature maps Features returns.
func (s *StyleNet) Layers() int { return 2 }

// Features returns the two ReLU feature maps of x [B, 3, H, W]
// ([B, c, H, W] and [B, 2c, H/2, W/2]), owned by the caller.
func (s *StyleNet) Features(x *ts.Tensor) ([]*ts.Tensor, error) {
	c1, err := ts.Conv2d(x, s.W1, none, []int64{1, 1}, []int64{1, 1}, []int64{1, 1}, 1)
	if err != nil {
		return nil, fmt.Errorf("style features: %w", err)
	}
	f1, err := c1.Relu(true)
	if err != nil {
		return nil, fmt.Errorf("style features: %w", err)
	}
	p, err := f1.AvgPool2d([]int64{2, 2}, []int64{2, 2}, []int64{0, 0}, false, true, nil, false)
	if err != nil {
		drop(f1)
		return nil, fmt.Errorf("style features: %w", err)
	}
	c2, err := ts.Conv2d(p, s.W2, none, []int64{1, 1}, []int64{1, 1}, []int64{1, 1}, 1)
	drop(p)
	if err != nil {
		drop(f1)
		return nil, fmt.Errorf("style features: %w", err)
	}
	f2, err := c2.Relu(true)
	if err != nil {
		drop(f1)
		return nil, fmt.Errorf("style features: %w", err)
	}
	return []*ts.Tensor{f1, f2}, nil
}

// Grams returns the Gram matrices (layers.GramMatrix) of x's style
// features, one [B, C, C] per layer, owned by the caller.
func (s *StyleNet) Grams(x *ts.Tensor) ([]*ts.Tensor, error) {
	feats, err := s.Features(x)
	if err != nil {
		return nil, err
	}
	defer drop(feats...)
	out := make([]*ts.Tensor, 0, len(feats))
	for _, f := range feats {
		g, err := layers.GramMatrix(f)
		if err != nil {
			drop(out...)
			return nil, fmt.Errorf("style: %w", err)
		}
		out = append(out, g)
	}
	return out, nil
}

// Drop frees the net's weights.
func (s *StyleNet) Drop() {
	if s != nil {
		drop(s.W1, s.W2)
	}
}

// none is an absent optional tensor (see package layers).
var none = ts.FromCtensor(nil)

// drop frees the tensors that are not nil.
func drop(xs ...*ts.Tensor) {
	for _, x := range xs {
		if x != nil {
			_ = x.Drop()
		}
	}
}

// toDevice makes a tensor of shape from a Go slice on dev.
func toDevice[T float32 | int64](vals []T, shape []int64, dev gotch.Device) (*ts.Tensor, error) {
	t, err := ts.NewTensorFromData(vals, shape)
	if err != nil {
		return nil, err
	}
	if dev == gotch.CPU {
		return t, nil
	}
	defer drop(t)
	return t.To(dev, false)
}
