// Package vbg is the VBG model: a ViT image encoder and a BERT text encoder,
// a bidirectional cross-attention fusion layer, and a classifier head
// (paper, Methodology). Every module is built at an nn.Path whose key is its
// checkpoint name: "vit.*" and "bert.*" are the Hugging Face names of the two
// encoders, "fusion.*" and "classifier.*" are VBG's own.
package vbg

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Network is what the training loop trains and evaluates: the VBG model or
// a baseline (package baselines). Forward returns logits (and, where the
// network has one, the feature vector the head classifies).
type Network interface {
	Forward(in Inputs, train bool) (*Output, error)
	// Loss is the training objective on logits [B, K] and labels [B];
	// classWeights [K] may be nil.
	Loss(logits, labels, classWeights *ts.Tensor) (*ts.Tensor, error)
	// Uses says which inputs Forward reads.
	Uses() (image, text bool)
}

// Model is the whole VBG network. Image or Text is nil in the image-only and
// text-only ablations.
type Model struct {
	Image      *ViTModel
	Text       *BertModel
	Fusion     Fusion
	Classifier *Classifier
	Classes    int
	// FreezeImage and FreezeText run that encoder in eval mode without
	// gradients: it does not train, and its activations are not kept.
	FreezeImage, FreezeText bool
}

// Inputs is one batch on the model's device. Pixels is [B, C, H, W]
// float; InputIDs and AttentionMask are [B, L] int64. Inputs the model
// does not use may be nil.
type Inputs struct {
	Pixels, InputIDs, AttentionMask *ts.Tensor
}

// Output is what Forward returns; the caller frees it with Drop.
type Output struct {
	Logits *ts.Tensor // [B, K]
	Fused  *ts.Tensor // [B, D], the fused feature vector
}

// Drop frees the output tensors.
func (o *Output) Drop() { tensor.Drop(o.Logits, o.Fused) }

// Loss implements Network: the classifier's cross-entropy plus its L2 term.
func (m *Model) Loss(logits, labels, classWeights *ts.Tensor) (*ts.Tensor, error) {
	return m.Classifier.Loss(logits, labels, classWeights)
}

// Uses implements Network.
func (m *Model) Uses() (image, text bool) { return m.Image != nil, m.Text != nil }

// Config is everything Build needs: the encoders (nil leaves one out, as
// the image-only and text-only ablations do), the fusion, the head and the
// class count. Package experiment fills it from an experiment file.
type Config struct {
	ViT    *ViTConfig
	Bert   *BertConfig
	Fusion FusionConfig // Kind, Dim (0 = the larger encoder's hidden size) and Heads; the sizes of the inputs are set by Build
	Head   HeadConfig
	// Classes is the number of output classes.
	Classes int
	// FreezeImage and FreezeText run that encoder in eval mode without
	// gradients.
	FreezeImage, FreezeText bool
}

// HeadConfig is the classifier on the fused vector.
type HeadConfig struct {
	Dropout float64 // paper: 0.5
	L2      float64 // paper: 0.001, on the head's weights
}

// ViTPreset returns the named image-encoder preset: "vit-b16" (ViT-B/16)
// or "vit-tiny" (4 layers of 128, patch 8, for small images and tests;
// "custom" is the same starting point for files that set every size).
// The presets are listed once, here; ViTPresets names them.
func ViTPreset(name string) (ViTConfig, error) {
	v := ViTBase16()
	switch name {
	case "vit-b16":
	case "vit-tiny", "custom":
		v.HiddenSize, v.NumHiddenLayers, v.NumAttentionHeads, v.IntermediateSize, v.PatchSize = 128, 4, 4, 256, 8
	default:
		return v, fmt.Errorf("unknown image preset %q (want %s)", name, strings.Join(ViTPresets(), ", "))
	}
	return v, nil
}

// ViTPresets names the image-encoder presets.
func ViTPresets() []string { return []string{"vit-b16", "vit-tiny", "custom"} }

// BertPreset returns the named text-encoder preset: "bert-base"
// (BERT-Base), "minilm-l6" (all-MiniLM-L6-v2's 6 layers of 384) or
// "bert-tiny" (2 layers of 128, for small data and tests; "custom" is the
// same starting point for files that set every size).
func BertPreset(name string) (BertConfig, error) {
	switch name {
	case "bert-base":
		return BertBase(), nil
	case "minilm-l6":
		return MiniLML6(), nil
	case "bert-tiny", "custom":
		b := BertBase()
		b.HiddenSize, b.NumHiddenLayers, b.NumAttentionHeads, b.IntermediateSize = 128, 2, 2, 512
		return b, nil
	}
	return BertBase(), fmt.Errorf("unknown text preset %q (want %s)", name, strings.Join(BertPresets(), ", "))
}

// BertPresets names the text-encoder presets.
func BertPresets() []string { return []string{"bert-base", "minilm-l6", "bert-tiny", "custom"} }

// Build builds a model at root p: "vit.*", "bert.*", "fusion.*" and
// "classifier.*".
func Build(p *nn.Path, cfg Config) (*Model, error) {
	m := &Model{Classes: cfg.Classes, FreezeImage: cfg.FreezeImage, FreezeText: cfg.FreezeText}
	fc := cfg.Fusion
	fc.ImageDim, fc.TextDim = 0, 0
	if fc.Kind != TextOnly {
		if cfg.ViT == nil {
			return nil, fmt.Errorf("model: fusion %q needs an image encoder", fc.Kind)
		}
		var err error
		if m.Image, err = NewViTModel(p.Sub("vit"), *cfg.ViT); err != nil {
			return nil, fmt.Errorf("image encoder: %w", err)
		}
		fc.ImageDim = cfg.ViT.HiddenSize
	}
	if fc.Kind != ImageOnly {
		if cfg.Bert == nil {
			return nil, fmt.Errorf("model: fusion %q needs a text encoder", fc.Kind)
		}
		var err error
		if m.Text, err = NewBertModel(p.Sub("bert"), *cfg.Bert); err != nil {
			return nil, fmt.Errorf("text encoder: %w", err)
		}
		fc.TextDim = cfg.Bert.HiddenSize
	}
	if fc.Dim == 0 {
		fc.Dim = max(fc.ImageDim, fc.TextDim)
	}
	var err error
	if m.Fusion, err = NewFusion(p.Sub("fusion"), fc); err != nil {
		return nil, err
	}
	if m.Classifier, err = NewClassifier(p.Sub("classifier"), fc.Dim, int64(cfg.Classes), cfg.Head.Dropout, cfg.Head.L2); err != nil {
		return nil, err
	}
	return m, nil
}

// Forward runs the encoders that the model has, fuses, and classifies.
// Frozen encoders run in eval mode without gradients.
func (m *Model) Forward(in Inputs, train bool) (*Output, error) {
	return m.ForwardPass(in, layers.Pass{Train: train})
}

// ForwardPass is Forward with a layers.Pass. With a trace (Explain uses
// one) it records every attention layer's probabilities under its path,
// and the fusion's inputs (see BidirectionalFusion).
func (m *Model) ForwardPass(in Inputs, pass layers.Pass) (*Output, error) {
	s := layers.NewScope("model")
	var img, txt *ts.Tensor
	if m.Image != nil {
		img = s.Do(func() (*ts.Tensor, error) { return m.encodeImage(in, pass) })
	}
	if m.Text != nil {
		txt = s.Do(func() (*ts.Tensor, error) { return m.encodeText(in, pass) })
	}
	fused := s.Do(func() (*ts.Tensor, error) { return m.Fusion.Forward(img, txt, in.AttentionMask, pass) })
	logits := s.Do(func() (*ts.Tensor, error) { return m.Classifier.Forward(fused, pass.Train) })
	if err := s.Results(logits, fused); err != nil {
		return nil, err
	}
	return &Output{Logits: logits, Fused: fused}, nil
}

// encodeImage runs the image encoder and returns its last hidden state.
func (m *Model) encodeImage(in Inputs, pass layers.Pass) (*ts.Tensor, error) {
	if in.Pixels == nil {
		return nil, errors.New("the image encoder needs pixels")
	}
	return lastHidden(m.FreezeImage, pass, func(p layers.Pass) (*EncoderOutput, error) {
		return m.Image.ForwardPass(in.Pixels, p)
	})
}

// encodeText runs the text encoder and returns its last hidden state.
func (m *Model) encodeText(in Inputs, pass layers.Pass) (*ts.Tensor, error) {
	if in.InputIDs == nil || in.AttentionMask == nil {
		return nil, errors.New("the text encoder needs input ids and an attention mask")
	}
	return lastHidden(m.FreezeText, pass, func(p layers.Pass) (*EncoderOutput, error) {
		return m.Text.ForwardPass(in.InputIDs, nil, in.AttentionMask, p)
	})
}

// lastHidden runs an encoder and keeps only its last hidden state. A
// frozen encoder runs in eval mode without gradients (a trace still
// records it).
func lastHidden(frozen bool, pass layers.Pass, encode func(layers.Pass) (*EncoderOutput, error)) (*ts.Tensor, error) {
	run := func() (*ts.Tensor, error) {
		o, err := encode(pass)
		if err != nil {
			return nil, err
		}
		h := o.LastHiddenState
		o.LastHiddenState = nil
		o.Drop()
		return h, nil
	}
	if !frozen {
		return run()
	}
	pass.Train = false
	var h *ts.Tensor
	err := tensor.NoGrad(func() (err error) {
		h, err = run()
		return err
	})
	if err != nil {
		tensor.Drop(h)
		return nil, err
	}
	return h, nil
}
