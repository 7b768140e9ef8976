package experiment

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/vbg"
)

// Load reads an experiment file like config.Load and also applies Check,
// so that an unknown architecture or preset and a model whose shapes do
// not fit are reported with file, line and key before anything is written.
func Load(path string, overrides []string) (*config.Config, error) {
	return config.Load(path, overrides, Check)
}

// Check returns the problems of cfg's model that only the model packages
// can see: model.arch and the presets must exist, and the encoders'
// and the fusion's sizes must fit together. An encoder with pretrained
// weights takes its sizes from the weights' folder, which Preflight and
// Build check; here only its preset is.
func Check(cfg *config.Config) []config.Problem {
	var ps []config.Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, config.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	ps = append(ps, checkGAN(cfg)...)
	a, ok := Lookup(cfg.Model.Arch)
	if !ok {
		bad("model.arch", "unknown architecture %q (want one of %s)", cfg.Model.Arch, strings.Join(Names(), ", "))
		return ps
	}
	m := cfg.Model
	if _, err := vbg.ViTPreset(m.Image.Preset); err != nil {
		bad("model.image.preset", "%v", err)
	}
	if _, err := vbg.BertPreset(m.Text.Preset); err != nil {
		bad("model.text.preset", "%v", err)
	}
	if a.Name != "vbg" {
		return ps
	}
	for _, p := range ps {
		if strings.HasPrefix(p.Key, "model.") {
			return ps
		}
	}
	kind := vbg.FusionKind(m.Fusion.Type)
	dims := []int64{}
	if kind != vbg.TextOnly && m.Image.Pretrained == "" {
		v, err := vitConfig(cfg)
		if err != nil {
			bad(sizeKey("model.image", m.Image.Heads, m.Image.Hidden), "%s", oneLine(err))
		}
		dims = append(dims, v.HiddenSize)
	}
	if kind != vbg.ImageOnly && m.Text.Pretrained == "" {
		b, err := bertConfig(cfg, 2)
		if err != nil {
			bad(sizeKey("model.text", m.Text.Heads, m.Text.Hidden), "%s", oneLine(err))
		}
		dims = append(dims, b.HiddenSize)
	}
	dim := int64(m.Fusion.Dim)
	if dim == 0 && len(dims) == 2 {
		dim = max(dims[0], dims[1])
	}
	if kind == vbg.Bidirectional && dim > 0 && m.Fusion.Heads > 0 && dim%int64(m.Fusion.Heads) != 0 {
		bad("model.fusion.heads", "the fused size %d is not a multiple of %d heads", dim, m.Fusion.Heads)
	}
	return ps
}

// sizeKey names the key most likely at fault for an encoder's shape: the
// heads or the hidden size where the file sets them, else the preset.
func sizeKey(section string, heads, hidden int) string {
	switch {
	case heads > 0:
		return section + ".heads"
	case hidden > 0:
		return section + ".hidden"
	}
	return section + ".preset"
}

// oneLine is the innermost message of an encoder error (without the key
// the Problem names anyway) on one line.
func oneLine(err error) string {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
