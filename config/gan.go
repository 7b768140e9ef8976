package config

import (
	"strings"
)

// GAN is the gan: section: the generation-feedback-optimization loop of
// the paper's GAN module. Off by default; with Enabled false nothing of it
// runs (the ablation "without GAN").
//
// A round runs at the start of classifier epochs StartEpoch,
// StartEpoch+Every, ... (Rounds of them): it trains the conditional DCGAN
// until it is stable (see Stability) or MaxSteps, generates Generate.Count
// image-text pairs weighted toward scarce classes, filters them with the
// current classifier and the discriminator, and trains the classifier on
// real plus generated data (Mix) from that epoch on.
type GAN struct {
	Enabled    bool `yaml:"enabled"`
	Rounds     int  `yaml:"rounds"`      // generation rounds in a run
	StartEpoch int  `yaml:"start_epoch"` // classifier epoch (1-based) at whose start the first round runs
	Every      int  `yaml:"every"`       // epochs between rounds

	// ImageSize is the generated side: 32, 64 or 128. Generated images are
	// resized to data.image_size when fed to the classifier.
	ImageSize    int `yaml:"image_size"`
	NoiseDim     int `yaml:"noise_dim"`  // z
	EmbedDim     int `yaml:"embed_dim"`  // class embedding concatenated to z
	GenChannels  int `yaml:"g_channels"` // generator width: 8·g, 4·g, 2·g, g channels
	DiscChannels int `yaml:"d_channels"` // discriminator width: d, 2·d, 4·d, 8·d channels

	BatchSize int     `yaml:"batch_size"`
	LRG       float64 `yaml:"lr_g"`
	LRD       float64 `yaml:"lr_d"`
	Beta1     float64 `yaml:"beta1"` // Adam; DCGAN uses 0.5
	Beta2     float64 `yaml:"beta2"`
	MinSteps  int     `yaml:"min_steps"` // GAN steps per round before stability is checked
	MaxSteps  int     `yaml:"max_steps"` // GAN steps per round at most

	Loss      GANLoss      `yaml:"loss"`
	Stability GANStability `yaml:"stability"`
	Texture   GANTexture   `yaml:"texture"`
	Text      GANText      `yaml:"text"`
	Generate  GANGenerate  `yaml:"generate"`
	Filter    GANFilter    `yaml:"filter"`
	Mix       GANMix       `yaml:"mix"`
}

// GANLoss weighs the loss terms.
type GANLoss struct {
	// Adversarial is "minimax" (paper eq. 19: G minimises log(1 − D(G(z))))
	// or "non_saturating" (G minimises −log D(G(z))). D's loss is eq. 19
	// either way.
	Adversarial     string  `yaml:"adversarial"`
	AdversarialW    float64 `yaml:"adversarial_weight"`
	StyleW          float64 `yaml:"style_weight"`     // Gram-matrix distance to the class's texture library; 0 = off
	AttributeW      float64 `yaml:"attribute_weight"` // attribute consistency (class + attributes), in D and G; 0 = off
	StyleChannels   int     `yaml:"style_channels"`   // width of the fixed random feature network the Gram matrices are taken on
	AttributeClassW float64 `yaml:"attribute_class_weight"`
}

// GANStability is the criterion that ends a round's GAN training early.
// Every Window steps the mean D loss, mean G loss, mean D(x) on real and
// mean D(G(z)) of the last window are compared with the window before:
// the GAN is stable when (after min_steps) both mean losses changed by at
// most Tolerance (relative), nothing is NaN or infinite, and
// D(x) − D(G(z)) <= MaxGap (the discriminator has not won, which would
// starve G of gradient). A round that never becomes stable stops at
// max_steps; with RequireStable its images are then not used.
type GANStability struct {
	Window        int     `yaml:"window"`
	Tolerance     float64 `yaml:"tolerance"`
	MaxGap        float64 `yaml:"max_gap"`
	RequireStable bool    `yaml:"require_stable"`
}

// GANTexture is the texture library of the style constraint loss.
type GANTexture struct {
	// Source is "train" (patches sampled from real training images of the
	// same class) or "folder" (images under Dir: a sub-folder named like a
	// class serves that class, images directly in Dir serve every class).
	Source          string `yaml:"source"`
	Dir             string `yaml:"dir"`
	PatchSize       int    `yaml:"patch_size"`        // pixels at gan.image_size scale; 0 = image_size/2
	PatchesPerClass int    `yaml:"patches_per_class"` // patches drawn per class
}

// GANText is how generated images get their texts.
type GANText struct {
	// Mode is "template" (sentences from Templates filled with the class's
	// attribute phrases) or "gru" (a class-conditioned GRU language model
	// trained on the training texts, eqs. 16-17; samples that mention
	// another class's attributes are rejected and fall back to a template).
	Mode string `yaml:"mode"`
	// Templates hold placeholders {1}, {2}, {3} for distinct attribute
	// phrases of the class. Their own words are never used as attributes.
	Templates []string `yaml:"templates"`
	// Attributes gives the category-attribute table by hand (class name ->
	// phrases); classes not listed get mined attributes.
	Attributes map[string][]string `yaml:"attributes"`
	// Mining the table from the training texts: per class, the phrases of
	// up to MaxWords words found in at least MinCount of its texts and in
	// at least MinShare of them, with at least MinSpecificity of all texts
	// containing the phrase in that class; at most MaxPerClass, best first.
	MaxPerClass    int     `yaml:"max_per_class"`
	MaxWords       int     `yaml:"max_words"`
	MinCount       int     `yaml:"min_count"`
	MinShare       float64 `yaml:"min_share"`
	MinSpecificity float64 `yaml:"min_specificity"`
	// GRU mode.
	GRUHidden int     `yaml:"gru_hidden"`
	GRUSteps  int     `yaml:"gru_steps"`
	GRULR     float64 `yaml:"gru_lr"`
}

// GANGenerate is what a round generates.
type GANGenerate struct {
	Count int `yaml:"count"` // image-text pairs kept per round (paper: 2,000+)
	// Oversample: Count·Oversample candidates are generated and the best
	// that pass the filter are kept.
	Oversample float64 `yaml:"oversample"`
	// ClassPower weighs classes by (1/n_c)^ClassPower, n_c its real training
	// count: 1 = inverse frequency, 0 = uniform.
	ClassPower float64 `yaml:"class_power"`
}

// GANFilter drops generated pairs that the current classifier or the
// discriminator does not believe. Of the pairs that pass, each class keeps
// its quota of those with the highest confidence × realness.
type GANFilter struct {
	// MinConfidence: the classifier's probability of the intended class
	// must be at least this. 0 = off.
	MinConfidence float64 `yaml:"min_confidence"`
	// TopK: the intended class must be among the classifier's TopK most
	// probable classes. 0 = off. Neither classifier test is applied before
	// the classifier has trained one epoch.
	TopK int `yaml:"top_k"`
	// MinRealness: the discriminator's D(x) must be at least this. 0 = off.
	MinRealness float64 `yaml:"min_realness"`
}

// GANMix is how generated pairs join the real training set.
type GANMix struct {
	// Ratio caps the generated pairs at Ratio × the real training set.
	Ratio float64 `yaml:"ratio"`
	// Keep is "latest" (only the last round's pairs) or "all" (every
	// round's; the newest first when the cap applies).
	Keep string `yaml:"keep"`
}

func defaultGAN() GAN {
	return GAN{
		Enabled: false, Rounds: 3, StartEpoch: 2, Every: 3,
		ImageSize: 64, NoiseDim: 100, EmbedDim: 32, GenChannels: 64, DiscChannels: 64,
		BatchSize: 64, LRG: 2e-4, LRD: 2e-4, Beta1: 0.5, Beta2: 0.999, MinSteps: 300, MaxSteps: 2000,
		Loss: GANLoss{Adversarial: "minimax", AdversarialW: 1, StyleW: 10, AttributeW: 1,
			StyleChannels: 32, AttributeClassW: 1},
		Stability: GANStability{Window: 100, Tolerance: 0.15, MaxGap: 0.8},
		Texture:   GANTexture{Source: "train", PatchesPerClass: 64},
		Text: GANText{Mode: "template",
			Templates:   []string{"{1}", "{1} {2}", "{1}. {2}", "{2} {1}", "{1} with {2}", "{1}, {2} and {3}"},
			MaxPerClass: 12, MaxWords: 2, MinCount: 2, MinShare: 0.02, MinSpecificity: 0.7,
			GRUHidden: 128, GRUSteps: 600, GRULR: 3e-3},
		Generate: GANGenerate{Count: 2000, Oversample: 1.5, ClassPower: 1},
		Filter:   GANFilter{MinConfidence: 0, TopK: 3, MinRealness: 0.05},
		Mix:      GANMix{Ratio: 1, Keep: "latest"},
	}
}

// problems validates the gan: section; keys start with "gan.". Values are
// checked even when the section is disabled, so a typo is caught before
// the ablation is switched on. Every size, step count and count has an
// upper bound.
func (g GAN) problems() []Problem {
	ck := &checker{prefix: "gan."}
	g.checkCore(ck)
	g.checkLoss(ck)
	g.checkText(ck)
	g.checkOutput(ck)
	return ck.ps
}

// checkCore validates the schedule, the network sizes and the optimiser.
func (g GAN) checkCore(ck *checker) {
	ck.intIn("rounds", g.Rounds, 1, 1000)
	ck.intIn("start_epoch", g.StartEpoch, 1, 1_000_000)
	ck.intIn("every", g.Every, 1, 1_000_000)
	if g.ImageSize != 32 && g.ImageSize != 64 && g.ImageSize != 128 {
		ck.bad("image_size", "must be 32, 64 or 128, got %d", g.ImageSize)
	}
	ck.intIn("noise_dim", g.NoiseDim, 1, MaxChannels)
	ck.intIn("embed_dim", g.EmbedDim, 1, MaxChannels)
	ck.intIn("g_channels", g.GenChannels, 1, MaxChannels/8)
	ck.intIn("d_channels", g.DiscChannels, 1, MaxChannels/8)
	ck.intIn("batch_size", g.BatchSize, 2, MaxBatchSize)
	ck.floatIn("lr_g", g.LRG, 1e-7, 1)
	ck.floatIn("lr_d", g.LRD, 1e-7, 1)
	if !(g.Beta1 >= 0 && g.Beta1 < 1) {
		ck.bad("beta1", "must be in [0, 1), got %g", g.Beta1)
	}
	if !(g.Beta2 >= 0 && g.Beta2 < 1) {
		ck.bad("beta2", "must be in [0, 1), got %g", g.Beta2)
	}
	ck.intIn("min_steps", g.MinSteps, 0, MaxSteps)
	ck.intIn("max_steps", g.MaxSteps, 1, MaxSteps)
	if g.MinSteps > g.MaxSteps {
		ck.bad("min_steps", "must not exceed max_steps (%d), got %d", g.MaxSteps, g.MinSteps)
	}
}

// checkLoss validates the loss weights, the stability criterion and the
// texture library.
func (g GAN) checkLoss(ck *checker) {
	l := g.Loss
	ck.oneOf("loss.adversarial", l.Adversarial, "minimax", "non_saturating")
	ck.floatIn("loss.adversarial_weight", l.AdversarialW, 0, 1e6)
	ck.floatIn("loss.style_weight", l.StyleW, 0, 1e6)
	ck.floatIn("loss.attribute_weight", l.AttributeW, 0, 1e6)
	ck.floatIn("loss.attribute_class_weight", l.AttributeClassW, 0, 1e6)
	ck.intIn("loss.style_channels", l.StyleChannels, 1, MaxChannels)

	s := g.Stability
	ck.intIn("stability.window", s.Window, 1, MaxSteps)
	ck.floatIn("stability.tolerance", s.Tolerance, 0, 10)
	ck.floatIn("stability.max_gap", s.MaxGap, 0, 1)

	tx := g.Texture
	ck.oneOf("texture.source", tx.Source, "train", "folder")
	if tx.Source == "folder" && tx.Dir == "" {
		ck.bad("texture.dir", "is required when texture.source is folder")
	}
	if tx.PatchSize < 0 || tx.PatchSize > g.ImageSize {
		ck.bad("texture.patch_size", "must be in [0, image_size %d] (0 = image_size/2), got %d", g.ImageSize, tx.PatchSize)
	} else if tx.PatchSize > 0 && tx.PatchSize < 8 {
		ck.bad("texture.patch_size", "must be at least 8 pixels, got %d", tx.PatchSize)
	}
	ck.intIn("texture.patches_per_class", tx.PatchesPerClass, 1, 100_000)
}

// checkText validates how generated images get their texts.
func (g GAN) checkText(ck *checker) {
	t := g.Text
	ck.oneOf("text.mode", t.Mode, "template", "gru")
	if len(t.Templates) == 0 || len(t.Templates) > 10_000 {
		ck.bad("text.templates", "needs between 1 and 10000 templates, got %d", len(t.Templates))
	}
	for class, phrases := range t.Attributes {
		if len(phrases) == 0 {
			ck.bad("text.attributes."+class, "needs at least one phrase")
		}
		for _, p := range phrases {
			if strings.TrimSpace(p) == "" {
				ck.bad("text.attributes."+class, "has an empty phrase")
			}
		}
	}
	ck.intIn("text.max_per_class", t.MaxPerClass, 1, 10_000)
	ck.intIn("text.max_words", t.MaxWords, 1, 16)
	ck.intIn("text.min_count", t.MinCount, 1, MaxCount)
	ck.floatIn("text.min_share", t.MinShare, 0, 1)
	if !(t.MinSpecificity > 0.5 && t.MinSpecificity <= 1) {
		ck.bad("text.min_specificity", "must be in (0.5, 1] so that a phrase belongs to one class, got %g", t.MinSpecificity)
	}
	ck.intIn("text.gru_hidden", t.GRUHidden, 1, MaxHidden)
	ck.intIn("text.gru_steps", t.GRUSteps, 1, MaxSteps)
	ck.floatIn("text.gru_lr", t.GRULR, 1e-7, 1)
}

// checkOutput validates what a round generates, filters and mixes in.
func (g GAN) checkOutput(ck *checker) {
	ge := g.Generate
	ck.intIn("generate.count", ge.Count, 1, MaxCount)
	ck.floatIn("generate.oversample", ge.Oversample, 1, 100)
	ck.floatIn("generate.class_power", ge.ClassPower, 0, 10)
	if n := float64(ge.Count) * ge.Oversample * float64(g.ImageSize*g.ImageSize*3*4); ge.Count <= MaxCount && n > MaxBatchBytes {
		ck.bad("generate.count", "%d pairs oversampled %g times at %d pixels take %.0f GiB of images, more than the %d GiB allowed",
			ge.Count, ge.Oversample, g.ImageSize, n/(1<<30), int64(MaxBatchBytes)>>30)
	}
	ck.floatIn("filter.min_confidence", g.Filter.MinConfidence, 0, 1)
	ck.intIn("filter.top_k", g.Filter.TopK, 0, 100_000, "0 = off")
	ck.floatIn("filter.min_realness", g.Filter.MinRealness, 0, 1)
	ck.floatIn("mix.ratio", g.Mix.Ratio, 0, 1000)
	ck.oneOf("mix.keep", g.Mix.Keep, "latest", "all")
}
