package experiment

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/baselines"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/vbg"
)

// Arch is one model.arch value: VBG or a baseline.
type Arch struct {
	Name  string // model.arch
	Title string // its name in tables, e.g. "ResNet-18"
	// Image and Text say which inputs it reads.
	Image, Text bool
	// Fitted architectures are fitted on fixed features (train.Run fits
	// them); the others are networks trained by the training loop.
	Fitted bool
	// MinSize is the smallest image side a network accepts without
	// upsampling (0 where it does not matter).
	MinSize int
	build   func(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error)
}

// archs is the registry: VBG first, then the baselines in the order of the
// paper's Table 3.
var archs = func() []Arch {
	out := []Arch{{Name: "vbg", Title: "VBG", Image: true, Text: true, build: buildVBG}}
	for _, b := range baselines.Archs() {
		a := Arch{Name: b.Name, Title: b.Title, Image: b.Image, Text: b.Text, Fitted: b.Fitted, MinSize: b.MinSize}
		if !b.Fitted {
			a.build = func(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error) {
				return baselines.NewNetwork(p, cfg, vocab, classes)
			}
		}
		out = append(out, a)
	}
	return out
}()

// Archs returns every architecture, VBG first.
func Archs() []Arch { return slices.Clone(archs) }

// Lookup returns the architecture named by model.arch.
func Lookup(name string) (Arch, bool) {
	for _, a := range archs {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// Title names an architecture in tables (the name itself when unknown).
func Title(name string) string {
	if a, ok := Lookup(name); ok {
		return a.Title
	}
	return name
}

// Names lists every model.arch value.
func Names() []string {
	out := make([]string, len(archs))
	for i, a := range archs {
		out[i] = a.Name
	}
	return out
}

// Uses says which inputs the experiment's network reads (VBG's ablations
// drop one).
func Uses(cfg *config.Config) (image, text bool) {
	a, ok := Lookup(cfg.Model.Arch)
	if !ok {
		return false, false
	}
	if a.Name == "vbg" {
		kind := vbg.FusionKind(cfg.Model.Fusion.Type)
		return kind != vbg.TextOnly, kind != vbg.ImageOnly
	}
	return a.Image, a.Text
}

// Build builds the network named by cfg.Model.Arch at root p for classes
// classes; vocab is the tokenizer's vocabulary size (0 without text).
// Pretrained weights are not loaded here (see LoadPretrained): a run being
// resumed or opened for inference restores its own checkpoint instead.
func Build(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error) {
	a, ok := Lookup(cfg.Model.Arch)
	if !ok {
		return nil, fmt.Errorf("model.arch: unknown %q (want one of %s)", cfg.Model.Arch, strings.Join(Names(), ", "))
	}
	if a.Fitted {
		return nil, fmt.Errorf("model.arch %s is fitted on fixed features, not built as a network", a.Name)
	}
	return a.build(p, cfg, vocab, classes)
}

func buildVBG(p *nn.Path, cfg *config.Config, vocab, classes int) (vbg.Network, error) {
	c, err := VBGConfig(cfg, vocab, classes)
	if err != nil {
		return nil, err
	}
	return vbg.Build(p, c)
}
