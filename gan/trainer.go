package gan

import (
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/optim"
	"github.com/vbg-museum/vbg/seed"
	"github.com/vbg-museum/vbg/tensor"
)

// RealBatch is one batch of real training pairs as plain Go buffers.
type RealBatch struct {
	// Images holds len(Labels) images, CHW float32 in [-1, 1], of side
	// the GAN's image size, one after another.
	Images []float32
	// Labels are class ids.
	Labels []int64
	// Attrs holds one attribute vector (AttributeTable.Targets) per image,
	// one after another; nil when the table has no attributes.
	Attrs []float32
}

// Source yields the real batches of one pass over the data; epoch selects
// the order, so a source is deterministic given the epoch.
type Source func(epoch int) iter.Seq2[RealBatch, error]

// Config holds the GAN's sizes and training settings (package experiment
// fills it from an experiment's gan: section).
type Config struct {
	// ImageSize is the generated side: 32, 64 or 128.
	ImageSize    int
	NoiseDim     int // z
	EmbedDim     int // class embedding concatenated to z
	GenChannels  int // generator width: 8·g, 4·g, 2·g, g channels
	DiscChannels int // discriminator width: d, 2·d, 4·d, 8·d channels

	BatchSize int
	LRG, LRD  float64
	Beta1     float64 // Adam; DCGAN uses 0.5
	Beta2     float64
	MinSteps  int // steps per round before stability is checked
	MaxSteps  int // steps per round at most
	Loss      LossWeights
	Stability StabilityConfig
}

// LossWeights weigh the loss terms.
type LossWeights struct {
	// Adversarial is "minimax" (paper eq. 19) or "non_saturating" (G
	// minimises −log D(G(z))).
	Adversarial     string
	AdversarialW    float64
	StyleW          float64 // Gram-matrix distance to the class's textures; 0 = off
	AttributeW      float64 // attribute consistency in D and G; 0 = off
	StyleChannels   int     // width of the feature network the Gram matrices are taken on
	AttributeClassW float64 // weight of the class term within attribute consistency
}

// StabilityConfig is the criterion that ends a round early (see
// Stability).
type StabilityConfig struct {
	Window    int
	Tolerance float64
	MaxGap    float64
}

// Options configure a Trainer.
type Options struct {
	Config  Config
	Classes int
	// Table is the category-attribute table: its vocabulary sizes the
	// discriminator's attribute outputs and its priors are G's attribute
	// targets. Nil means no attributes (class consistency only).
	Table  *AttributeTable
	Device gotch.Device
	// Seed fixes the noise, the style net and everything random that the
	// trainer draws on the Go side.
	Seed uint64
}

// Trainer trains the conditional DCGAN on real batches and samples from
// it. All its tensors live on the goroutine that created it (see package
// device); it is not safe for concurrent use.
type Trainer struct {
	Cfg   Config
	Model ModelConfig
	VS    *nn.VarStore
	G     *Generator
	D     *Discriminator
	Style *StyleNet
	// Steps counts GAN steps over the trainer's life; Epoch counts passes
	// over the source (each round continues with the next one).
	Steps, Epoch int64

	dev        gotch.Device
	seed       uint64
	optG, optD *optim.AdamW
	priors     *ts.Tensor   // [K, A] or nil
	targets    []*ts.Tensor // per style layer [K, C, C]; nil before SetTextures
	hasTex     *ts.Tensor   // [K]: 1 where the class has texture patches
	meta       *ts.Tensor
}

// NewTrainer builds G, D (in a VarStore of their own: "g.*", "d.*"), the
// style net and the two Adam optimizers.
func NewTrainer(o Options) (*Trainer, error) {
	c := o.Config
	attrs := 0
	if o.Table != nil {
		attrs = len(o.Table.Vocab)
	}
	mc := ModelConfig{ImageSize: int64(c.ImageSize), NoiseDim: int64(c.NoiseDim), EmbedDim: int64(c.EmbedDim),
		GenChannels: int64(c.GenChannels), DiscChannels: int64(c.DiscChannels), Classes: int64(o.Classes), Attributes: int64(attrs)}
	t := &Trainer{Cfg: c, Model: mc, VS: nn.NewVarStore(o.Device), dev: o.Device, seed: o.Seed}
	var err error
	if t.G, err = NewGenerator(t.VS.Root().Sub("g"), mc); err != nil {
		return nil, err
	}
	if t.D, err = NewDiscriminator(t.VS.Root().Sub("d"), mc); err != nil {
		return nil, err
	}
	if t.Style, err = NewStyleNet(int64(c.Loss.StyleChannels), o.Seed, o.Device); err != nil {
		return nil, err
	}
	if t.optG, t.optD, err = t.optimizers(); err != nil {
		return nil, err
	}
	if attrs > 0 {
		pr := make([]float32, 0, o.Classes*attrs)
		for k := 0; k < o.Classes; k++ {
			pr = append(pr, o.Table.Prior(k)...)
		}
		if t.priors, err = tensor.FromSlice(pr, []int64{int64(o.Classes), int64(attrs)}, o.Device); err != nil {
			return nil, fmt.Errorf("gan priors: %w", err)
		}
	}
	return t, nil
}

// optimizers builds Adam (AdamW without decay) for G's and for D's
// trainable tensors, each in name order, so that checkpoints line up.
func (t *Trainer) optimizers() (optG, optD *optim.AdamW, err error) {
	gp, dp := map[string]*ts.Tensor{}, map[string]*ts.Tensor{}
	for name, v := range t.VS.Variables() {
		v := v
		trainable, err := tensor.RequiresGrad(&v)
		if err != nil {
			return nil, nil, fmt.Errorf("gan %s: %w", name, err)
		}
		switch {
		case !trainable:
		case strings.HasPrefix(name, "g."):
			gp[name] = &v
		case strings.HasPrefix(name, "d."):
			dp[name] = &v
		}
	}
	c := optim.Config{Beta1: t.Cfg.Beta1, Beta2: t.Cfg.Beta2, Eps: 1e-8, WeightDecay: 0}
	if optG, err = optim.New(optim.Named(gp), c); err != nil {
		return nil, nil, fmt.Errorf("gan generator optimizer: %w", err)
	}
	if optD, err = optim.New(optim.Named(dp), c); err != nil {
		optG.Drop()
		return nil, nil, fmt.Errorf("gan discriminator optimizer: %w", err)
	}
	return optG, optD, nil
}

// SetTextures computes the style targets from a texture library: for each
// class, the mean Gram matrix (per style layer) of its patches. Classes
// without patches get no style loss.
func (t *Trainer) SetTextures(lib *TextureLibrary) error {
	k := int(t.Model.Classes)
	if lib == nil {
		return fmt.Errorf("gan textures: no library")
	}
	if len(lib.Patches) != k {
		return fmt.Errorf("gan textures: library for %d classes, want %d", len(lib.Patches), k)
	}
	tensor.Drop(t.targets...)
	tensor.Drop(t.hasTex)
	t.targets, t.hasTex = nil, nil
	perLayer := make([][]*ts.Tensor, t.Style.Layers()) // [layer][class] -> [C, C]
	defer func() {
		for _, l := range perLayer {
			tensor.Drop(l...)
		}
	}()
	has := make([]float32, k)
	err := tensor.NoGrad(func() error {
		for c := 0; c < k; c++ {
			if err := t.classTargets(lib, c, perLayer, has); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gan textures: %w", err)
	}
	var targets []*ts.Tensor
	for _, l := range perLayer {
		st, err := ts.Stack(l, 0)
		if err != nil {
			tensor.Drop(targets...)
			return fmt.Errorf("gan textures: %w", err)
		}
		targets = append(targets, st)
	}
	if t.hasTex, err = tensor.FromSlice(has, []int64{int64(k)}, t.dev); err != nil {
		tensor.Drop(targets...)
		return fmt.Errorf("gan textures: %w", err)
	}
	t.targets = targets
	return nil
}

// classTargets appends class c's mean Gram matrix per style layer to
// perLayer (zeros for a class without patches) and marks has[c].
func (t *Trainer) classTargets(lib *TextureLibrary, c int, perLayer [][]*ts.Tensor, has []float32) error {
	n, p := lib.Count(c), lib.PatchSize
	if n == 0 {
		for l := range perLayer {
			ch := t.Model.styleChannels(t.Cfg, l)
			z, err := ts.Zeros([]int64{ch, ch}, gotch.Float, t.dev)
			if err != nil {
				return err
			}
			perLayer[l] = append(perLayer[l], z)
		}
		return nil
	}
	has[c] = 1
	flat := make([]float32, 0, n*3*p*p)
	for _, patch := range lib.Patches[c] {
		flat = append(flat, patch...)
	}
	x, err := tensor.FromSlice(flat, []int64{int64(n), 3, int64(p), int64(p)}, t.dev)
	if err != nil {
		return err
	}
	defer tensor.Drop(x)
	grams, err := t.Style.Grams(x)
	if err != nil {
		return err
	}
	defer tensor.Drop(grams...)
	for l, g := range grams {
		m, err := g.MeanDim([]int64{0}, false, gotch.Float, false)
		if err != nil {
			return err
		}
		perLayer[l] = append(perLayer[l], m)
	}
	return nil
}

func (m ModelConfig) styleChannels(c Config, layer int) int64 {
	return int64(c.Loss.StyleChannels) << layer
}

// noise returns n×NoiseDim standard normal values for a stream: the same
// (seed, stream) always gives the same noise.
func (t *Trainer) noise(stream uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(t.seed, stream))
	z := make([]float32, n*int(t.Model.NoiseDim))
	for i := range z {
		z[i] = float32(r.NormFloat64())
	}
	return z
}

// Step runs one GAN step on a real batch: a D update on the real images
// and on fakes of the same classes (adversarial loss, plus the attribute
// consistency loss on the real pairs), then a G update on the same fakes
// (adversarial loss, attribute consistency to the class and its
// attribute priors, style constraint to the class's texture Grams).
func (t *Trainer) Step(b RealBatch) (StepStats, error) {
	var st StepStats
	if err := t.checkBatch(b); err != nil {
		return st, fmt.Errorf("gan step: %w", err)
	}
	s := layers.NewScope("gan step")
	in := t.upload(s, b)
	in.fake = s.Do(func() (*ts.Tensor, error) { return t.G.Forward(in.z, in.labels, Train) })
	if !s.Failed() {
		s.Fail(t.updateD(in, &st))
	}
	if !s.Failed() {
		s.Fail(t.updateG(in, &st))
	}
	if err := s.Close(); err != nil {
		return st, err
	}
	t.Steps++
	return st, nil
}

// stepInputs are one step's tensors, owned by the step's scope.
type stepInputs struct {
	real   *ts.Tensor // [B, 3, S, S]
	labels *ts.Tensor // [B] class ids
	attrs  *ts.Tensor // [B, A] attribute targets of the real texts; nil without attributes
	z      *ts.Tensor // [B, NoiseDim]
	fake   *ts.Tensor // G(z, labels) [B, 3, S, S]
}

// checkBatch reports a batch the step cannot take.
func (t *Trainer) checkBatch(b RealBatch) error {
	n := len(b.Labels)
	s, a := int(t.Model.ImageSize), int(t.Model.Attributes)
	switch {
	case n < 2:
		return fmt.Errorf("batch of %d; batch norm needs at least 2", n)
	case len(b.Images) != n*3*s*s:
		return fmt.Errorf("%d image values for %d images of %d×%d", len(b.Images), n, s, s)
	case a > 0 && len(b.Attrs) != n*a:
		return fmt.Errorf("%d attribute values for %d images of %d attributes", len(b.Attrs), n, a)
	}
	return nil
}

// upload moves a batch and the step's noise onto the device.
func (t *Trainer) upload(s *layers.Scope, b RealBatch) *stepInputs {
	n, size, a := int64(len(b.Labels)), t.Model.ImageSize, t.Model.Attributes
	in := &stepInputs{
		real:   s.Own(tensor.FromSlice(b.Images, []int64{n, 3, size, size}, t.dev)),
		labels: s.Own(tensor.FromSlice(b.Labels, []int64{n}, t.dev)),
	}
	if a > 0 {
		in.attrs = s.Own(tensor.FromSlice(b.Attrs, []int64{n, a}, t.dev))
	}
	in.z = s.Own(tensor.FromSlice(t.noise(uint64(t.Steps), int(n)), []int64{n, t.Model.NoiseDim}, t.dev))
	return in
}

// discriminate runs D on x in training mode; s owns its outputs.
func (t *Trainer) discriminate(s *layers.Scope, x *ts.Tensor) *DOutput {
	if s.Failed() {
		return &DOutput{}
	}
	out, err := t.D.Forward(x, Train)
	if err != nil {
		s.Fail(err)
		return &DOutput{}
	}
	for _, y := range []*ts.Tensor{out.Logit, out.ClassLogits, out.AttrLogits} {
		if y != nil {
			s.Own(y, nil)
		}
	}
	return out
}

// updateD is the discriminator's update on the real images and on the
// detached fakes:
//
//	L_D = w_adv·L_adv(D) + w_attr·L_attr(D on real pairs)
func (t *Trainer) updateD(in *stepInputs, st *StepStats) error {
	lc := t.Cfg.Loss
	s := layers.NewScope("discriminator update")
	fake := s.Do(func() (*ts.Tensor, error) { return in.fake.Detach(false) })
	dReal, dFake := t.discriminate(s, in.real), t.discriminate(s, fake)
	adv := s.Do(func() (*ts.Tensor, error) { return DiscriminatorLoss(dReal.Logit, dFake.Logit) })
	st.AdvD = s.Float(adv)
	loss := s.MulScalar(adv, lc.AdversarialW)
	if lc.AttributeW > 0 {
		attr := s.Do(func() (*ts.Tensor, error) {
			return AttributeLoss(dReal.ClassLogits, dReal.AttrLogits, in.labels, in.attrs, lc.AttributeClassW)
		})
		st.AttrD = s.Float(attr)
		loss = s.Add(loss, s.MulScalar(attr, lc.AttributeW))
	}
	st.LossD = s.Float(loss)
	st.DReal, st.DFake = meanSigmoid(s, dReal.Logit), meanSigmoid(s, dFake.Logit)
	if !s.Failed() {
		s.Fail(minimise(t.optD, loss, t.Cfg.LRD))
	}
	return s.Close()
}

// updateG is the generator's update on the same fakes, against the
// updated discriminator:
//
//	L_G = w_adv·L_adv(G) + w_attr·L_attr(D on fakes, priors) + w_style·L_style
func (t *Trainer) updateG(in *stepInputs, st *StepStats) error {
	lc := t.Cfg.Loss
	s := layers.NewScope("generator update")
	d := t.discriminate(s, in.fake)
	adv := s.Do(func() (*ts.Tensor, error) { return GeneratorLoss(d.Logit, lc.Adversarial == "non_saturating") })
	st.AdvG = s.Float(adv)
	loss := s.MulScalar(adv, lc.AdversarialW)
	if lc.AttributeW > 0 {
		attr := s.Do(func() (*ts.Tensor, error) { return t.attributeConsistency(in, d) })
		st.AttrG = s.Float(attr)
		loss = s.Add(loss, s.MulScalar(attr, lc.AttributeW))
	}
	if lc.StyleW > 0 && t.targets != nil {
		style := s.Do(func() (*ts.Tensor, error) { return t.style(in) })
		st.Style = s.Float(style)
		loss = s.Add(loss, s.MulScalar(style, lc.StyleW))
	}
	st.LossG = s.Float(loss)
	if !s.Failed() {
		s.Fail(minimise(t.optG, loss, t.Cfg.LRG))
	}
	return s.Close()
}

// attributeConsistency is G's attribute consistency loss: D's auxiliary
// head on the fakes against the asked-for classes and their attribute
// priors p(a | c).
func (t *Trainer) attributeConsistency(in *stepInputs, d *DOutput) (*ts.Tensor, error) {
	s := layers.NewScope("attribute consistency")
	var prior *ts.Tensor
	if t.priors != nil {
		prior = s.Do(func() (*ts.Tensor, error) { return t.priors.IndexSelect(0, in.labels, false) })
	}
	return s.Keep(s.Do(func() (*ts.Tensor, error) {
		return AttributeLoss(d.ClassLogits, d.AttrLogits, in.labels, prior, t.Cfg.Loss.AttributeClassW)
	}))
}

// style is the style constraint loss of the fakes against their classes'
// texture Gram matrices.
func (t *Trainer) style(in *stepInputs) (*ts.Tensor, error) {
	s := layers.NewScope("style")
	grams, err := t.Style.Grams(in.fake)
	s.Fail(err)
	for _, g := range grams {
		s.Own(g, nil)
	}
	targets := make([]*ts.Tensor, len(t.targets))
	for l, all := range t.targets {
		targets[l] = s.Do(func() (*ts.Tensor, error) { return all.IndexSelect(0, in.labels, false) })
	}
	w := s.Do(func() (*ts.Tensor, error) { return t.hasTex.IndexSelect(0, in.labels, false) })
	return s.Keep(s.Do(func() (*ts.Tensor, error) { return StyleLoss(grams, targets, w) }))
}

// minimise takes one optimizer step on loss: zero the gradients,
// backpropagate, update at learning rate lr.
func minimise(opt *optim.AdamW, loss *ts.Tensor, lr float64) error {
	if err := opt.ZeroGrad(); err != nil {
		return err
	}
	if err := loss.Backward(); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	return opt.Update(lr)
}

// meanSigmoid is the mean of σ(l) over logits, computed in float64 on the
// host; 0 after an error.
func meanSigmoid(s *layers.Scope, logits *ts.Tensor) float64 {
	if s.Failed() {
		return 0
	}
	v, err := tensor.Float64s(logits)
	if err != nil {
		s.Fail(err)
		return 0
	}
	var sum float64
	for _, l := range v {
		sum += 1 / (1 + math.Exp(-l))
	}
	return sum / float64(len(v))
}

// RoundStats summarise one call of Train.
type RoundStats struct {
	Steps    int     `json:"steps"`
	Stable   bool    `json:"stable"`
	StableAt int     `json:"stable_at,omitempty"` // step of the round at which it became stable
	Reason   string  `json:"reason"`              // the stability verdict of the last window
	Last     Window  `json:"last_window"`
	Seconds  float64 `json:"seconds"`
}

// TrainOptions control one call of Train.
type TrainOptions struct {
	// Progress receives a progress bar with the D and G losses; nil for none.
	Progress io.Writer
	// Desc prefixes the bar's description.
	Desc string
}

// Train runs GAN steps over src, epoch after epoch, until the stability
// criterion holds (checked from Cfg.MinSteps on) or Cfg.MaxSteps steps.
func (t *Trainer) Train(src Source, o TrainOptions) (RoundStats, error) {
	c := t.Cfg
	stab := &Stability{Window: c.Stability.Window, Tolerance: c.Stability.Tolerance, MaxGap: c.Stability.MaxGap, MinSteps: c.MinSteps}
	w := o.Progress
	if w == nil {
		w = io.Discard
	}
	bar := progressbar.NewOptions(c.MaxSteps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(o.Desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	start := time.Now()
	var rs RoundStats
	var sum StepStats
	var sumN int
	for rs.Steps < c.MaxSteps && !rs.Stable {
		batches := 0
		for b, err := range src(int(t.Epoch)) {
			if err != nil {
				return rs, fmt.Errorf("gan data: %w", err)
			}
			batches++
			st, err := t.Step(b)
			if err != nil {
				return rs, err
			}
			rs.Steps++
			sum = addStats(sum, st)
			sumN++
			checked, stable := stab.Add(st)
			if checked {
				rs.Reason = stab.Reason()
			}
			if rs.Steps%5 == 0 || checked {
				m := scaleStats(sum, sumN)
				bar.Describe(fmt.Sprintf("%s D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", o.Desc, m.LossD, m.LossG, m.DReal, m.DFake))
				sum, sumN = StepStats{}, 0
			}
			_ = bar.Add(1)
			if checked && stable {
				rs.Stable, rs.StableAt = true, rs.Steps
				break
			}
			if rs.Steps >= c.MaxSteps {
				break
			}
		}
		t.Epoch++
		if batches == 0 {
			return rs, fmt.Errorf("gan data: an epoch yielded no batch (fewer real images than gan.batch_size?)")
		}
	}
	_ = bar.Finish()
	if err := t.Recalibrate(16); err != nil {
		return rs, err
	}
	rs.Last = stab.Last()
	rs.Seconds = time.Since(start).Seconds()
	return rs, nil
}

func addStats(a, b StepStats) StepStats {
	return StepStats{LossD: a.LossD + b.LossD, LossG: a.LossG + b.LossG, DReal: a.DReal + b.DReal, DFake: a.DFake + b.DFake}
}

func scaleStats(a StepStats, n int) StepStats {
	f := 1 / float64(max(n, 1))
	return StepStats{LossD: a.LossD * f, LossG: a.LossG * f, DReal: a.DReal * f, DFake: a.DFake * f}
}

// Sample generates one image per class id with G and D in evaluation
// mode and returns the images (CHW float32 in [-1, 1], one after another)
// and the discriminator's D(x) for each. The noise depends only on
// (trainer seed, seed), so the same call gives the same images, and an
// image does not depend on the other requests. Do not call it inside
// tensor.NoGrad.
func (t *Trainer) Sample(classes []int64, sampleSeed uint64) ([]float32, []float64, error) {
	s := int(t.Model.ImageSize)
	per := 3 * s * s
	images := make([]float32, len(classes)*per)
	real := make([]float64, len(classes))
	bs := max(t.Cfg.BatchSize, 1)
	err := tensor.NoGrad(func() error {
		for start := 0; start < len(classes); start += bs {
			end := min(start+bs, len(classes))
			if err := t.sampleBatch(classes[start:end], seed.Mix(sampleSeed, uint64(start)), images[start*per:end*per], real[start:end]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("gan sample: %w", err)
	}
	return images, real, nil
}

// Recalibrate re-estimates the generator's batch-norm running statistics
// for its current weights ("precise BN"): it resets them and averages the
// batch statistics of batches forward passes of mixed-class noise (momentum
// 1/k at the k-th batch, a plain mean). The exponential running averages
// kept during training lag behind weights that change every step, and a
// DCGAN generator evaluated with them tends to saturate into one image per
// class. Train calls it at the end of every round. Do not call it inside
// tensor.NoGrad.
func (t *Trainer) Recalibrate(batches int) error {
	bns := t.G.norms()
	saved := make([]float64, len(bns))
	for i, bn := range bns {
		saved[i] = bn.Momentum
	}
	defer func() {
		for i, bn := range bns {
			bn.Momentum = saved[i]
		}
	}()
	bs := max(t.Cfg.BatchSize, 2)
	err := tensor.NoGrad(func() error {
		for k := 0; k < batches; k++ {
			for _, bn := range bns {
				bn.Momentum = 1 / float64(k+1)
			}
			classes := make([]int64, bs)
			for i := range classes {
				classes[i] = int64((k*bs + i) % int(t.Model.Classes))
			}
			if err := t.forwardNoise(classes, seed.Mix(t.seed, 0x7265636c, uint64(k))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gan recalibrate: %w", err)
	}
	return nil
}

// generate runs G in mode on the noise of stream for classes; s owns the
// images.
func (t *Trainer) generate(s *layers.Scope, classes []int64, stream uint64, mode Mode) *ts.Tensor {
	n := int64(len(classes))
	z := s.Own(tensor.FromSlice(t.noise(stream, len(classes)), []int64{n, t.Model.NoiseDim}, t.dev))
	labels := s.Own(tensor.FromSlice(classes, []int64{n}, t.dev))
	return s.Do(func() (*ts.Tensor, error) { return t.G.Forward(z, labels, mode) })
}

// forwardNoise runs G in training mode (updating its batch-norm
// statistics) on the noise of stream.
func (t *Trainer) forwardNoise(classes []int64, stream uint64) error {
	s := layers.NewScope("")
	t.generate(s, classes, stream, Train)
	return s.Close()
}

// sampleBatch generates images for classes into dst and D(x) into real.
func (t *Trainer) sampleBatch(classes []int64, stream uint64, dst []float32, real []float64) error {
	s := layers.NewScope("")
	defer s.Close()
	x := t.generate(s, classes, stream, Eval)
	d := s.Do(func() (*ts.Tensor, error) {
		out, err := t.D.Forward(x, Eval)
		if err != nil {
			return nil, err
		}
		tensor.Drop(out.ClassLogits, out.AttrLogits)
		return out.Logit, nil
	})
	if s.Failed() {
		return s.Err()
	}
	logits, err := tensor.Float64s(d)
	if err != nil {
		return err
	}
	for i, l := range logits {
		real[i] = 1 / (1 + math.Exp(-l))
	}
	pixels, err := tensor.Values[float32](x)
	if err != nil {
		return err
	}
	copy(dst, pixels)
	return nil
}

// State returns the trainer's tensors for a checkpoint: the variables of
// G and D (weights and batch-norm buffers) as "gan.<var>", the Adam
// moments as "gan.adam.g.*" / "gan.adam.d.*" and "gan.meta" (steps and
// epochs). They stay owned by the trainer.
func (t *Trainer) State() map[string]*ts.Tensor {
	out := map[string]*ts.Tensor{}
	for name, v := range t.VS.Variables() {
		v := v
		out["gan."+name] = &v
	}
	for k, v := range t.optG.State("gan.adam.g.") {
		out[k] = v
	}
	for k, v := range t.optD.State("gan.adam.d.") {
		out[k] = v
	}
	tensor.Drop(t.meta)
	t.meta, _ = tensor.FromSlice([]int64{t.Steps, t.Epoch, t.optG.Step, t.optD.Step}, []int64{4}, gotch.CPU)
	if t.meta != nil {
		out["gan.meta"] = t.meta
	}
	return out
}

// Restore copies a State read back from a checkpoint into the trainer.
// Every tensor must be present with its shape.
func (t *Trainer) Restore(saved map[string]*ts.Tensor) error {
	names := make([]string, 0)
	vars := t.VS.Variables()
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := vars[name]
		src, ok := saved["gan."+name]
		if !ok {
			return fmt.Errorf("gan state: gan.%s missing (was the checkpoint written with another gan: section?)", name)
		}
		if err := tensor.CopyInto(&v, src); err != nil {
			return fmt.Errorf("gan state: gan.%s: %w", name, err)
		}
	}
	meta, ok := saved["gan.meta"]
	if !ok {
		return fmt.Errorf("gan state: gan.meta missing")
	}
	m, err := tensor.Int64s(meta)
	if err != nil {
		return fmt.Errorf("gan state: gan.meta: %w", err)
	}
	if len(m) != 4 {
		return fmt.Errorf("gan state: gan.meta has %d values, want 4", len(m))
	}
	if err := t.optG.LoadState("gan.adam.g.", saved, m[2]); err != nil {
		return fmt.Errorf("gan state: %w", err)
	}
	if err := t.optD.LoadState("gan.adam.d.", saved, m[3]); err != nil {
		return fmt.Errorf("gan state: %w", err)
	}
	t.Steps, t.Epoch = m[0], m[1]
	return nil
}
