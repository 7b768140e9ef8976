package experiment

import (
	"fmt"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/vbg"
)

// VBGConfig resolves an experiment's model section into the VBG model's
// config: each encoder from its preset with the YAML's explicit sizes over
// it, or from the pretrained folder's config.json when one is named (the
// YAML's sizes must then be left out); vocab and the longest text size a
// text encoder that is not pretrained.
func VBGConfig(cfg *config.Config, vocab, classes int) (vbg.Config, error) {
	m := cfg.Model
	kind := vbg.FusionKind(m.Fusion.Type)
	c := vbg.Config{
		Fusion:      vbg.FusionConfig{Kind: kind, Dim: int64(m.Fusion.Dim), Heads: int64(m.Fusion.Heads)},
		Head:        vbg.HeadConfig{Dropout: m.Head.Dropout, L2: m.Head.L2},
		Classes:     classes,
		FreezeImage: cfg.Train.FreezeEncoders || m.Image.Freeze,
		FreezeText:  cfg.Train.FreezeEncoders || m.Text.Freeze,
	}
	if kind != vbg.TextOnly {
		v, err := vitConfig(cfg)
		if err != nil {
			return c, err
		}
		c.ViT = &v
	}
	if kind != vbg.ImageOnly {
		b, err := bertConfig(cfg, vocab)
		if err != nil {
			return c, err
		}
		c.Bert = &b
	}
	return c, nil
}

// vitConfig is the image encoder of an experiment.
func vitConfig(cfg *config.Config) (vbg.ViTConfig, error) {
	c := cfg.Model.Image
	v, err := vbg.ViTPreset(c.Preset)
	if err != nil {
		return v, fmt.Errorf("model.image.preset: %w", err)
	}
	setIf(&v.HiddenSize, c.Hidden)
	setIf(&v.NumHiddenLayers, c.Layers)
	setIf(&v.NumAttentionHeads, c.Heads)
	setIf(&v.IntermediateSize, c.MLP)
	setIf(&v.PatchSize, c.Patch)
	v.HiddenDropoutProb, v.AttentionProbsDropoutProb = c.Dropout, c.Dropout
	if c.Pretrained != "" {
		if err := fromFolderConfig("model.image.pretrained", c.Pretrained, &v); err != nil {
			return v, err
		}
		if d := c.Dropout; d > 0 {
			v.HiddenDropoutProb, v.AttentionProbsDropoutProb = d, d
		}
	}
	v.ImageSize = int64(cfg.Data.ImageSize)
	v.AddPoolingLayer = false
	if err := v.Validate(); err != nil {
		return v, fmt.Errorf("%s: %w", imageKey(c), err)
	}
	return v, nil
}

// bertConfig is the text encoder of an experiment.
func bertConfig(cfg *config.Config, vocab int) (vbg.BertConfig, error) {
	c := cfg.Model.Text
	b, err := vbg.BertPreset(c.Preset)
	if err != nil {
		return b, fmt.Errorf("model.text.preset: %w", err)
	}
	setIf(&b.HiddenSize, c.Hidden)
	setIf(&b.NumHiddenLayers, c.Layers)
	setIf(&b.NumAttentionHeads, c.Heads)
	setIf(&b.IntermediateSize, c.MLP)
	b.HiddenDropoutProb, b.AttentionProbsDropoutProb = c.Dropout, c.Dropout
	if c.Pretrained == "" {
		b.VocabSize = int64(vocab)
		maxLen := int64(cfg.Data.MaxTextLen)
		if maxLen > b.MaxPositionEmbeddings || c.Preset == "bert-tiny" || c.Preset == "custom" {
			b.MaxPositionEmbeddings = maxLen
		}
	} else {
		if err := fromFolderConfig("model.text.pretrained", c.Pretrained, &b); err != nil {
			return b, err
		}
		if d := c.Dropout; d > 0 {
			b.HiddenDropoutProb, b.AttentionProbsDropoutProb = d, d
		}
	}
	b.AddPoolingLayer = false
	if err := b.Validate(); err != nil {
		return b, fmt.Errorf("%s: %w", textKey(c), err)
	}
	return b, nil
}

// imageKey and textKey name the key an encoder's sizes came from.
func imageKey(c config.ImageEncoder) string {
	if c.Pretrained != "" {
		return "model.image.pretrained"
	}
	return "model.image"
}

func textKey(c config.TextEncoder) string {
	if c.Pretrained != "" {
		return "model.text.pretrained"
	}
	return "model.text"
}

func setIf(dst *int64, v int) {
	if v > 0 {
		*dst = int64(v)
	}
}
