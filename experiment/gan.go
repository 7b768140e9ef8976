package experiment

import (
	"fmt"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/gan"
)

// GANConfig is the GAN of an experiment's gan: section.
func GANConfig(cfg *config.Config) gan.Config {
	g := cfg.GAN
	l, s := g.Loss, g.Stability
	return gan.Config{
		ImageSize: g.ImageSize, NoiseDim: g.NoiseDim, EmbedDim: g.EmbedDim, GenChannels: g.GenChannels, DiscChannels: g.DiscChannels,
		BatchSize: g.BatchSize, LRG: g.LRG, LRD: g.LRD, Beta1: g.Beta1, Beta2: g.Beta2, MinSteps: g.MinSteps, MaxSteps: g.MaxSteps,
		Loss: gan.LossWeights{Adversarial: l.Adversarial, AdversarialW: l.AdversarialW, StyleW: l.StyleW,
			AttributeW: l.AttributeW, StyleChannels: l.StyleChannels, AttributeClassW: l.AttributeClassW},
		Stability: gan.StabilityConfig{Window: s.Window, Tolerance: s.Tolerance, MaxGap: s.MaxGap},
	}
}

// MineOptions are the options with which the category-attribute table is
// mined from the training texts (gan.text).
func MineOptions(cfg *config.Config) gan.MineOptions {
	t := cfg.GAN.Text
	return gan.MineOptions{MaxPerClass: t.MaxPerClass, MaxWords: t.MaxWords, MinCount: t.MinCount,
		MinShare: t.MinShare, MinSpecificity: t.MinSpecificity, Given: t.Attributes, Reserved: gan.TemplateWords(t.Templates)}
}

// checkGAN reports bad text templates (gan.text.templates). Like the rest
// of the gan: section they are checked even when the GAN is off.
func checkGAN(cfg *config.Config) []config.Problem {
	var ps []config.Problem
	tpls := cfg.GAN.Text.Templates
	single := false
	for i, tpl := range tpls {
		n, err := gan.TemplateSlots(tpl)
		if err != nil {
			ps = append(ps, config.Problem{Key: fmt.Sprintf("gan.text.templates[%d]", i), Msg: err.Error()})
		}
		single = single || n == 1
	}
	if len(tpls) > 0 && !single {
		ps = append(ps, config.Problem{Key: "gan.text.templates", Msg: "needs one template with only {1} (used for classes with a single attribute)"})
	}
	return ps
}
