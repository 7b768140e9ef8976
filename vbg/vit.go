package vbg

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// ViTConfig mirrors Hugging Face's ViTConfig (config.json names in the json
// tags; snake_case of the same names in the yaml tags).
type ViTConfig struct {
	HiddenSize                int64   `json:"hidden_size" yaml:"hidden_size"`
	NumHiddenLayers           int64   `json:"num_hidden_layers" yaml:"num_hidden_layers"`
	NumAttentionHeads         int64   `json:"num_attention_heads" yaml:"num_attention_heads"`
	IntermediateSize          int64   `json:"intermediate_size" yaml:"intermediate_size"`
	HiddenAct                 string  `json:"hidden_act" yaml:"hidden_act"`
	LayerNormEps              float64 `json:"layer_norm_eps" yaml:"layer_norm_eps"`
	ImageSize                 int64   `json:"image_size" yaml:"image_size"`
	PatchSize                 int64   `json:"patch_size" yaml:"patch_size"`
	NumChannels               int64   `json:"num_channels" yaml:"num_channels"`
	QKVBias                   bool    `json:"qkv_bias" yaml:"qkv_bias"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob" yaml:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob" yaml:"attention_probs_dropout_prob"`
	// AddPoolingLayer adds the pooler ("pooler.dense"); Hugging Face passes it
	// to ViTModel's constructor rather than storing it in config.json.
	AddPoolingLayer bool `json:"add_pooling_layer" yaml:"add_pooling_layer"`
}

// ViTBase16 returns the configuration of google/vit-base-patch16-224 (ViT-B/16
// at 224×224), with the pooler.
func ViTBase16() ViTConfig {
	return ViTConfig{
		HiddenSize:        768,
		NumHiddenLayers:   12,
		NumAttentionHeads: 12,
		IntermediateSize:  3072,
		HiddenAct:         "gelu",
		LayerNormEps:      1e-12,
		ImageSize:         224,
		PatchSize:         16,
		NumChannels:       3,
		QKVBias:           true,
		AddPoolingLayer:   true,
	}
}

// block is the encoder block configuration of c.
func (c ViTConfig) block() layers.BlockConfig {
	return layers.BlockConfig{
		Hidden:           c.HiddenSize,
		Heads:            c.NumAttentionHeads,
		Intermediate:     c.IntermediateSize,
		Act:              c.HiddenAct,
		Eps:              c.LayerNormEps,
		QKVBias:          c.QKVBias,
		HiddenDropout:    c.HiddenDropoutProb,
		AttentionDropout: c.AttentionProbsDropoutProb,
	}
}

// Validate returns every problem in c at once, or nil.
func (c ViTConfig) Validate() error {
	var errs []error
	if err := c.block().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.NumHiddenLayers < 0 {
		errs = append(errs, fmt.Errorf("num_hidden_layers %d is negative", c.NumHiddenLayers))
	}
	if c.PatchSize <= 0 || c.ImageSize < c.PatchSize || c.ImageSize%c.PatchSize != 0 {
		errs = append(errs, fmt.Errorf("image_size %d is not a positive multiple of patch_size %d", c.ImageSize, c.PatchSize))
	}
	if c.NumChannels <= 0 {
		errs = append(errs, fmt.Errorf("num_channels %d must be positive", c.NumChannels))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vit config: %w", err)
	}
	return nil
}

// ViTModel mirrors Hugging Face's ViTModel (transformers 4.41):
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
// Built at the model root, its keys are "embeddings.cls_token",
// "encoder.layer.0.attention.attention.query.weight", "layernorm.weight",
// "pooler.dense.weight", ...
type ViTModel struct {
	Config     ViTConfig
	Embeddings *layers.ViTEmbeddings // "embeddings"
	Encoder    *layers.Encoder       // "encoder": PreNormBlocks
	LayerNorm  *layers.LayerNorm     // "layernorm"
	Pooler     *layers.Pooler        // "pooler"; nil without AddPoolingLayer
	Name       string                // checkpoint path of the model ("vit"; "vit" too at the root)
	device     gotch.Device
}

// NewViTModel validates cfg and creates the model's parameters under p with
// Hugging Face's initialisation.
func NewViTModel(p *nn.Path, cfg ViTConfig) (*ViTModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &ViTModel{Config: cfg, Name: pathOr(p, "vit"), device: p.Device()}
	var err error
	if m.Embeddings, err = layers.NewViTEmbeddings(p.Sub("embeddings"), cfg.NumChannels, cfg.ImageSize, cfg.PatchSize, cfg.HiddenSize, cfg.HiddenDropoutProb); err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	if m.Encoder, err = layers.NewPreNormEncoder(p.Sub("encoder"), cfg.NumHiddenLayers, cfg.block()); err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	if m.LayerNorm, err = layers.NewLayerNorm(p.Sub("layernorm"), cfg.HiddenSize, cfg.LayerNormEps); err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	if cfg.AddPoolingLayer {
		if m.Pooler, err = layers.NewPooler(p.Sub("pooler"), cfg.HiddenSize); err != nil {
			return nil, fmt.Errorf("vit: %w", err)
		}
	}
	return m, nil
}

// Forward encodes pixels [B, C, H, W] (float; H and W multiples of the patch
// size, the position embeddings are interpolated when they differ from
// ImageSize) into LastHiddenState [B, 1+HW/P², D] and, with a pooler,
// PoolerOutput [B, D]. Pixels on another device or of another float dtype
// are converted. Dropout is active only when train is true.
func (m *ViTModel) Forward(pixels *ts.Tensor, train bool) (*EncoderOutput, error) {
	return m.ForwardPass(pixels, layers.Pass{Train: train})
}

// ForwardPass is Forward with a layers.Pass: with a trace, every layer's
// attention probabilities are recorded under its path
// ("vit.encoder.layer.3.attention.attention").
func (m *ViTModel) ForwardPass(pixels *ts.Tensor, pass layers.Pass) (*EncoderOutput, error) {
	s := layers.NewScope(m.Name)
	x := onDevice(s, pixels, m.device, m.LayerNorm.Weight.DType())
	// Eq. (1)–(2): z_0 = [x_class; E_patch(x_p^i)] + E_pos.
	z := s.Do(func() (*ts.Tensor, error) { return m.Embeddings.Forward(x, pass.Train) })
	s.Free(x)
	// Eq. (3)–(7), L times: z_l = Block(z_{l-1}).
	h := s.Do(func() (*ts.Tensor, error) { return m.Encoder.Forward(z, nil, pass) })
	s.Free(z)
	out := &EncoderOutput{LastHiddenState: s.Apply(m.LayerNorm, h)}
	s.Free(h)
	if m.Pooler != nil {
		out.PoolerOutput = s.Apply(m.Pooler, out.LastHiddenState)
	}
	if err := s.Results(out.LastHiddenState, out.PoolerOutput); err != nil {
		return nil, err
	}
	return out, nil
}

// onDevice is x on device with dtype (gotch.Invalid: x's own), converted
// in s only when it is not already; nil stays nil.
func onDevice(s *layers.Scope, x *ts.Tensor, device gotch.Device, dtype gotch.DType) *ts.Tensor {
	if x == nil || s.Failed() {
		return nil
	}
	dev, err := x.Device()
	if err != nil {
		s.Fail(err)
		return nil
	}
	if dtype == gotch.Invalid {
		dtype = x.DType()
	}
	if dev == device && x.DType() == dtype {
		return x
	}
	return s.Do(func() (*ts.Tensor, error) { return x.ToDevice(device, dtype, false, false, false) })
}

// pathOr is p's checkpoint path, or name for a model built at the root.
func pathOr(p *nn.Path, name string) string {
	if k := layers.PathName(p); k != "" {
		return k
	}
	return name
}
