// Package vbg is the VBG model: a ViT image encoder and a BERT text encoder,
// a bidirectional cross-attention fusion layer, and a classifier head
// (paper, Methodology). Every module is built at an nn.Path whose key is its
// checkpoint name: "vit.*" and "bert.*" are the Hugging Face names of the two
// encoders, "fusion.*" and "classifier.*" are VBG's own.
package vbg

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
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
func (o *Output) Drop() {
	for _, t := range []*ts.Tensor{o.Logits, o.Fused} {
		if t != nil {
			t.Drop()
		}
	}
}

// Loss implements Network: the classifier's cross-entropy plus its L2 term.
func (m *Model) Loss(logits, labels, classWeights *ts.Tensor) (*ts.Tensor, error) {
	return m.Classifier.Loss(logits, labels, classWeights)
}

// Uses implements Network.
func (m *Model) Uses() (image, text bool) { return m.Image != nil, m.Text != nil }

// ViTFromConfig resolves an experiment's image section into a ViT config.
func ViTFromConfig(c config.ImageEncoder, imageSize int) (ViTConfig, error) {
	var v ViTConfig
	switch c.Preset {
	case "vit-b16":
		v = ViTBase16()
	case "vit-tiny", "custom":
		v = ViTBase16()
		v.HiddenSize, v.NumHiddenLayers, v.NumAttentionHeads, v.IntermediateSize, v.PatchSize = 128, 4, 4, 256, 8
	default:
		return v, fmt.Errorf("model.image.preset: unknown %q", c.Preset)
	}
	setIf(&v.HiddenSize, c.Hidden)
	setIf(&v.NumHiddenLayers, c.Layers)
	setIf(&v.NumAttentionHeads, c.Heads)
	setIf(&v.IntermediateSize, c.MLP)
	setIf(&v.PatchSize, c.Patch)
	v.HiddenDropoutProb, v.AttentionProbsDropoutProb = c.Dropout, c.Dropout
	v.ImageSize = int64(imageSize)
	v.AddPoolingLayer = false
	return v, v.Validate()
}

// BertFromConfig resolves an experiment's text section into a BERT config.
// vocab is the tokenizer's vocabulary size and maxLen the longest input.
func BertFromConfig(c config.TextEncoder, vocab, maxLen int) (BertConfig, error) {
	var b BertConfig
	switch c.Preset {
	case "bert-base":
		b = BertBase()
	case "minilm-l6":
		b = MiniLML6()
	case "bert-tiny", "custom":
		b = BertBase()
		b.HiddenSize, b.NumHiddenLayers, b.NumAttentionHeads, b.IntermediateSize = 128, 2, 2, 512
	default:
		return b, fmt.Errorf("model.text.preset: unknown %q", c.Preset)
	}
	setIf(&b.HiddenSize, c.Hidden)
	setIf(&b.NumHiddenLayers, c.Layers)
	setIf(&b.NumAttentionHeads, c.Heads)
	setIf(&b.IntermediateSize, c.MLP)
	b.HiddenDropoutProb, b.AttentionProbsDropoutProb = c.Dropout, c.Dropout
	if c.Pretrained == "" {
		b.VocabSize = int64(vocab)
		if int64(maxLen) > b.MaxPositionEmbeddings || c.Preset == "bert-tiny" || c.Preset == "custom" {
			b.MaxPositionEmbeddings = int64(maxLen)
		}
	}
	b.AddPoolingLayer = false
	return b, b.Validate()
}

func setIf(dst *int64, v int) {
	if v > 0 {
		*dst = int64(v)
	}
}

// New builds a model at root p for classes classes from the experiment's
// model section. vocab and maxLen size the text encoder's embeddings when
// it is not pretrained.
func New(p *nn.Path, cfg config.Model, imageSize, vocab, maxLen, classes int) (*Model, error) {
	var enc Encoders
	kind := FusionKind(cfg.Fusion.Type)
	if kind != TextOnly {
		vc, err := ViTFromConfig(cfg.Image, imageSize)
		if err != nil {
			return nil, err
		}
		enc.ViT = &vc
	}
	if kind != ImageOnly {
		bc, err := BertFromConfig(cfg.Text, vocab, maxLen)
		if err != nil {
			return nil, err
		}
		enc.Bert = &bc
	}
	return Build(p, cfg, enc, classes)
}

// Encoders are resolved encoder configs; nil leaves that encoder out.
type Encoders struct {
	ViT  *ViTConfig
	Bert *BertConfig
}

// Build builds a model at root p with the given encoders (for example ones
// read from a pretrained model's config.json) and the fusion and head of
// the experiment's model section.
func Build(p *nn.Path, cfg config.Model, enc Encoders, classes int) (*Model, error) {
	m := &Model{Classes: classes}
	kind := FusionKind(cfg.Fusion.Type)
	fc := FusionConfig{Kind: kind, Heads: int64(cfg.Fusion.Heads)}
	if kind != TextOnly {
		if enc.ViT == nil {
			return nil, fmt.Errorf("model: fusion %q needs an image encoder", kind)
		}
		var err error
		if m.Image, err = NewViTModel(p.Sub("vit"), *enc.ViT); err != nil {
			return nil, fmt.Errorf("image encoder: %w", err)
		}
		fc.ImageDim = enc.ViT.HiddenSize
	}
	if kind != ImageOnly {
		if enc.Bert == nil {
			return nil, fmt.Errorf("model: fusion %q needs a text encoder", kind)
		}
		var err error
		if m.Text, err = NewBertModel(p.Sub("bert"), *enc.Bert); err != nil {
			return nil, fmt.Errorf("text encoder: %w", err)
		}
		fc.TextDim = enc.Bert.HiddenSize
	}
	fc.Dim = int64(cfg.Fusion.Dim)
	if fc.Dim == 0 {
		fc.Dim = max(fc.ImageDim, fc.TextDim)
	}
	var err error
	if m.Fusion, err = NewFusion(p.Sub("fusion"), fc); err != nil {
		return nil, err
	}
	if m.Classifier, err = NewClassifier(p.Sub("classifier"), fc.Dim, int64(classes), cfg.Head.Dropout, cfg.Head.L2); err != nil {
		return nil, err
	}
	return m, nil
}

// Forward runs the encoders that the model has, fuses, and classifies.
// Frozen encoders run in eval mode without gradients.
func (m *Model) Forward(in Inputs, train bool) (*Output, error) {
	img, txt, err := m.encode(in, train)
	if err != nil {
		return nil, err
	}
	for _, t := range []*ts.Tensor{img, txt} {
		if t != nil {
			defer t.Drop()
		}
	}
	fused, err := m.Fusion.Forward(img, txt, in.AttentionMask, train)
	if err != nil {
		return nil, err
	}
	logits, err := m.Classifier.Forward(fused, train)
	if err != nil {
		fused.Drop()
		return nil, err
	}
	return &Output{Logits: logits, Fused: fused}, nil
}

// encode runs the encoders the model has and returns their last hidden
// states (nil for a missing encoder), owned by the caller.
func (m *Model) encode(in Inputs, train bool) (img, txt *ts.Tensor, err error) {
	if m.Image != nil {
		if in.Pixels == nil {
			return nil, nil, fmt.Errorf("model: the image encoder needs pixels")
		}
		var o *EncoderOutput
		var err error
		if m.FreezeImage {
			ts.NoGrad(func() { o, err = m.Image.Forward(in.Pixels, false) })
		} else {
			o, err = m.Image.Forward(in.Pixels, train)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("image encoder: %w", err)
		}
		img = o.LastHiddenState
		o.LastHiddenState = nil
		o.Drop()
	}
	if m.Text != nil {
		if in.InputIDs == nil || in.AttentionMask == nil {
			if img != nil {
				img.Drop()
			}
			return nil, nil, fmt.Errorf("model: the text encoder needs input ids and an attention mask")
		}
		var o *EncoderOutput
		var err error
		if m.FreezeText {
			ts.NoGrad(func() { o, err = m.Text.Forward(in.InputIDs, nil, in.AttentionMask, false) })
		} else {
			o, err = m.Text.Forward(in.InputIDs, nil, in.AttentionMask, train)
		}
		if err != nil {
			if img != nil {
				img.Drop()
			}
			return nil, nil, fmt.Errorf("text encoder: %w", err)
		}
		txt = o.LastHiddenState
		o.LastHiddenState = nil
		o.Drop()
	}
	return img, txt, nil
}
