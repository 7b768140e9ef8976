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
	optG, optD *adam
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
	gp, dp := map[string]*ts.Tensor{}, map[string]*ts.Tensor{}
	for name, v := range t.VS.Variables() {
		v := v
		if !v.MustRequiresGrad() {
			continue
		}
		switch {
		case strings.HasPrefix(name, "g."):
			gp[name] = &v
		case strings.HasPrefix(name, "d."):
			dp[name] = &v
		}
	}
	if t.optG, err = newAdam(gp, c.Beta1, c.Beta2); err != nil {
		return nil, err
	}
	if t.optD, err = newAdam(dp, c.Beta1, c.Beta2); err != nil {
		return nil, err
	}
	if attrs > 0 {
		pr := make([]float32, 0, o.Classes*attrs)
		for k := 0; k < o.Classes; k++ {
			pr = append(pr, o.Table.Prior(k)...)
		}
		if t.priors, err = toDevice(pr, []int64{int64(o.Classes), int64(attrs)}, o.Device); err != nil {
			return nil, fmt.Errorf("gan priors: %w", err)
		}
	}
	return t, nil
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
	drop(t.targets...)
	drop(t.hasTex)
	t.targets, t.hasTex = nil, nil
	perLayer := make([][]*ts.Tensor, t.Style.Layers()) // [layer][class] -> [C, C]
	defer func() {
		for _, l := range perLayer {
			drop(l...)
		}
	}()
	has := make([]float32, k)
	var err error
	ts.NoGrad(func() {
		for c := 0; c < k && err == nil; c++ {
			err = t.classTargets(lib, c, perLayer, has)
		}
	})
	if err != nil {
		return fmt.Errorf("gan textures: %w", err)
	}
	for _, l := range perLayer {
		s, err := ts.Stack(l, 0)
		if err != nil {
			return fmt.Errorf("gan textures: %w", err)
		}
		t.targets = append(t.targets, s)
	}
	if t.hasTex, err = toDevice(has, []int64{int64(k)}, t.dev); err != nil {
		return fmt.Errorf("gan textures: %w", err)
	}
	return nil
}

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
	x, err := toDevice(flat, []int64{int64(n), 3, int64(p), int64(p)}, t.dev)
	if err != nil {
		return err
	}
	defer drop(x)
	grams, err := t.Style.Grams(x)
	if err != nil {
		return err
	}
	defer drop(grams...)
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
	n := len(b.Labels)
	s, a := int(t.Model.ImageSize), int(t.Model.Attributes)
	switch {
	case n < 2:
		return st, fmt.Errorf("gan step: batch of %d; batch norm needs at least 2", n)
	case len(b.Images) != n*3*s*s:
		return st, fmt.Errorf("gan step: %d image values for %d images of %d×%d", len(b.Images), n, s, s)
	case a > 0 && len(b.Attrs) != n*a:
		return st, fmt.Errorf("gan step: %d attribute values for %d images of %d attributes", len(b.Attrs), n, a)
	}
	var bin []*ts.Tensor
	defer func() { drop(bin...) }()
	var firstErr error
	keep := func(x *ts.Tensor, err error) *ts.Tensor {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if x != nil {
			bin = append(bin, x)
		}
		return x
	}
	lc := t.Cfg.Loss
	real := keep(toDevice(b.Images, []int64{int64(n), 3, int64(s), int64(s)}, t.dev))
	labels := keep(toDevice(b.Labels, []int64{int64(n)}, t.dev))
	var attrs *ts.Tensor
	if a > 0 {
		attrs = keep(toDevice(b.Attrs, []int64{int64(n), int64(a)}, t.dev))
	}
	z := keep(toDevice(t.noise(uint64(t.Steps), n), []int64{int64(n), t.Model.NoiseDim}, t.dev))
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	fake := keep(t.G.Forward(z, labels, Train))
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	fakeDet := keep(fake.Detach(false))
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}

	// Discriminator.
	dReal, err := t.D.Forward(real, Train)
	if err != nil {
		return st, fmt.Errorf("gan step: %w", err)
	}
	defer dReal.Drop()
	dFake, err := t.D.Forward(fakeDet, Train)
	if err != nil {
		return st, fmt.Errorf("gan step: %w", err)
	}
	defer dFake.Drop()
	advD := keep(DiscriminatorLoss(dReal.Logit, dFake.Logit))
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	lossD := keep(advD.MulScalar(ts.FloatScalar(lc.AdversarialW), false))
	st.AdvD = scalar(advD)
	if lc.AttributeW > 0 {
		attrD := keep(AttributeLoss(dReal.ClassLogits, dReal.AttrLogits, labels, attrs, lc.AttributeClassW))
		if firstErr != nil {
			return st, fmt.Errorf("gan step: %w", firstErr)
		}
		st.AttrD = scalar(attrD)
		w := keep(attrD.MulScalar(ts.FloatScalar(lc.AttributeW), false))
		lossD = keep(lossD.Add(w, false))
	}
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	st.LossD = scalar(lossD)
	st.DReal, st.DFake = meanSigmoid(dReal.Logit), meanSigmoid(dFake.Logit)
	if err := t.optD.zeroGrad(); err != nil {
		return st, err
	}
	if err := lossD.Backward(); err != nil {
		return st, fmt.Errorf("gan step: D backward: %w", err)
	}
	if err := t.optD.update(t.Cfg.LRD); err != nil {
		return st, err
	}

	// Generator, against the updated discriminator.
	dGen, err := t.D.Forward(fake, Train)
	if err != nil {
		return st, fmt.Errorf("gan step: %w", err)
	}
	defer dGen.Drop()
	advG := keep(GeneratorLoss(dGen.Logit, lc.Adversarial == "non_saturating"))
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	st.AdvG = scalar(advG)
	lossG := keep(advG.MulScalar(ts.FloatScalar(lc.AdversarialW), false))
	if lc.AttributeW > 0 {
		var prior *ts.Tensor
		if t.priors != nil {
			prior = keep(t.priors.IndexSelect(0, labels, false))
		}
		attrG := keep(AttributeLoss(dGen.ClassLogits, dGen.AttrLogits, labels, prior, lc.AttributeClassW))
		if firstErr != nil {
			return st, fmt.Errorf("gan step: %w", firstErr)
		}
		st.AttrG = scalar(attrG)
		w := keep(attrG.MulScalar(ts.FloatScalar(lc.AttributeW), false))
		lossG = keep(lossG.Add(w, false))
	}
	if lc.StyleW > 0 && t.targets != nil {
		grams, err := t.Style.Grams(fake)
		if err != nil {
			return st, fmt.Errorf("gan step: %w", err)
		}
		bin = append(bin, grams...)
		tg := make([]*ts.Tensor, len(t.targets))
		for l, all := range t.targets {
			tg[l] = keep(all.IndexSelect(0, labels, false))
		}
		w := keep(t.hasTex.IndexSelect(0, labels, false))
		if firstErr != nil {
			return st, fmt.Errorf("gan step: %w", firstErr)
		}
		style := keep(StyleLoss(grams, tg, w))
		if firstErr != nil {
			return st, fmt.Errorf("gan step: %w", firstErr)
		}
		st.Style = scalar(style)
		sw := keep(style.MulScalar(ts.FloatScalar(lc.StyleW), false))
		lossG = keep(lossG.Add(sw, false))
	}
	if firstErr != nil {
		return st, fmt.Errorf("gan step: %w", firstErr)
	}
	st.LossG = scalar(lossG)
	if err := t.optG.zeroGrad(); err != nil {
		return st, err
	}
	if err := lossG.Backward(); err != nil {
		return st, fmt.Errorf("gan step: G backward: %w", err)
	}
	if err := t.optG.update(t.Cfg.LRG); err != nil {
		return st, err
	}
	t.Steps++
	return st, nil
}

func scalar(x *ts.Tensor) float64 { return x.Float64Values()[0] }

func meanSigmoid(logits *ts.Tensor) float64 {
	v := logits.Float64Values()
	var s float64
	for _, l := range v {
		s += 1 / (1 + math.Exp(-l))
	}
	return s / float64(len(v))
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
// ts.NoGrad.
func (t *Trainer) Sample(classes []int64, seed uint64) ([]float32, []float64, error) {
	s := int(t.Model.ImageSize)
	per := 3 * s * s
	images := make([]float32, len(classes)*per)
	real := make([]float64, len(classes))
	bs := max(t.Cfg.BatchSize, 1)
	var err error
	ts.NoGrad(func() {
		for start := 0; start < len(classes) && err == nil; start += bs {
			end := min(start+bs, len(classes))
			err = t.sampleBatch(classes[start:end], mixSeed(seed, uint64(start)), images[start*per:end*per], real[start:end])
		}
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
// ts.NoGrad.
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
	var err error
	ts.NoGrad(func() {
		for k := 0; k < batches && err == nil; k++ {
			for _, bn := range bns {
				bn.Momentum = 1 / float64(k+1)
			}
			classes := make([]int64, bs)
			for i := range classes {
				classes[i] = int64((k*bs + i) % int(t.Model.Classes))
			}
			err = t.forwardNoise(classes, mixSeed(t.seed, 0x7265636c, uint64(k)))
		}
	})
	if err != nil {
		return fmt.Errorf("gan recalibrate: %w", err)
	}
	return nil
}

func (t *Trainer) forwardNoise(classes []int64, stream uint64) error {
	n := len(classes)
	z, err := toDevice(t.noise(stream, n), []int64{int64(n), t.Model.NoiseDim}, t.dev)
	if err != nil {
		return err
	}
	defer drop(z)
	lab, err := toDevice(classes, []int64{int64(n)}, t.dev)
	if err != nil {
		return err
	}
	defer drop(lab)
	x, err := t.G.Forward(z, lab, Train)
	drop(x)
	return err
}

func (t *Trainer) sampleBatch(classes []int64, stream uint64, dst []float32, real []float64) error {
	n := len(classes)
	z, err := toDevice(t.noise(stream, n), []int64{int64(n), t.Model.NoiseDim}, t.dev)
	if err != nil {
		return err
	}
	defer drop(z)
	lab, err := toDevice(classes, []int64{int64(n)}, t.dev)
	if err != nil {
		return err
	}
	defer drop(lab)
	x, err := t.G.Forward(z, lab, Eval)
	if err != nil {
		return err
	}
	defer drop(x)
	d, err := t.D.Forward(x, Eval)
	if err != nil {
		return err
	}
	defer d.Drop()
	for i, l := range d.Logit.Float64Values() {
		real[i] = 1 / (1 + math.Exp(-l))
	}
	cpu := x
	if t.dev != gotch.CPU {
		if cpu, err = x.To(gotch.CPU, false); err != nil {
			return err
		}
		defer drop(cpu)
	}
	return cpu.CopyData(dst, uint(len(dst)))
}

// mixSeed derives a stream number from a seed and counters (splitmix64).
func mixSeed(seed uint64, vals ...uint64) uint64 {
	h := seed
	for _, v := range vals {
		h += 0x9e3779b97f4a7c15 + v
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
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
	for k, v := range t.optG.state("gan.adam.g.") {
		out[k] = v
	}
	for k, v := range t.optD.state("gan.adam.d.") {
		out[k] = v
	}
	drop(t.meta)
	t.meta, _ = ts.NewTensorFromData([]int64{t.Steps, t.Epoch, t.optG.step, t.optD.step}, []int64{4})
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
		if err := copyInto(&v, src); err != nil {
			return fmt.Errorf("gan state: gan.%s: %w", name, err)
		}
	}
	meta, ok := saved["gan.meta"]
	if !ok {
		return fmt.Errorf("gan state: gan.meta missing")
	}
	m := meta.Int64Values()
	if len(m) != 4 {
		return fmt.Errorf("gan state: gan.meta has %d values, want 4", len(m))
	}
	if err := t.optG.load("gan.adam.g.", saved, m[2]); err != nil {
		return fmt.Errorf("gan state: %w", err)
	}
	if err := t.optD.load("gan.adam.d.", saved, m[3]); err != nil {
		return fmt.Errorf("gan state: %w", err)
	}
	t.Steps, t.Epoch = m[0], m[1]
	return nil
}
