package config

// GAN is the gan: section: the generation-feedback-optimization loop
// (paper, GAN module). Off by default.
type GAN struct {
	Enabled bool `yaml:"enabled"`
}

func defaultGAN() GAN { return GAN{} }

// problems validates the gan: section; keys start with "gan.".
func (g GAN) problems() []Problem { return nil }
