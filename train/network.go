package train

import (
	"fmt"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/vbg"
)

// Builder makes a network that the training loop can train, at root p, for
// an experiment, a tokenizer vocabulary size and a number of classes.
type Builder func(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error)

// architectures maps model.arch to its builder. Baselines register
// themselves here (see package baselines' Register).
var architectures = map[string]Builder{
	"vbg": func(p *nn.Path, c *config.Config, vocab, classes int) (vbg.Network, error) {
		enc, err := encoderConfigs(c, vocab)
		if err != nil {
			return nil, err
		}
		m, err := vbg.Build(p, c.Model, enc, classes)
		if err != nil {
			return nil, err
		}
		m.FreezeImage = c.Train.FreezeEncoders || c.Model.Image.Freeze
		m.FreezeText = c.Train.FreezeEncoders || c.Model.Text.Freeze
		return m, nil
	},
}

// RegisterArch adds a model.arch name. It panics on a duplicate name, which
// is a programming error.
func RegisterArch(name string, b Builder) {
	if _, dup := architectures[name]; dup {
		panic("train: architecture registered twice: " + name)
	}
	architectures[name] = b
}

// NewNetwork builds the network named by cfg.Model.Arch.
func NewNetwork(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error) {
	b, ok := architectures[cfg.Model.Arch]
	if !ok {
		return nil, fmt.Errorf("model.arch: unknown %q", cfg.Model.Arch)
	}
	return b(p, cfg, vocab, classes)
}
