package vbg

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// BertConfig mirrors Hugging Face's BertConfig (config.json names in the json
// tags; snake_case of the same names in the yaml tags).
type BertConfig struct {
	VocabSize                 int64   `json:"vocab_size" yaml:"vocab_size"`
	HiddenSize                int64   `json:"hidden_size" yaml:"hidden_size"`
	NumHiddenLayers           int64   `json:"num_hidden_layers" yaml:"num_hidden_layers"`
	NumAttentionHeads         int64   `json:"num_attention_heads" yaml:"num_attention_heads"`
	IntermediateSize          int64   `json:"intermediate_size" yaml:"intermediate_size"`
	MaxPositionEmbeddings     int64   `json:"max_position_embeddings" yaml:"max_position_embeddings"`
	TypeVocabSize             int64   `json:"type_vocab_size" yaml:"type_vocab_size"`
	PadTokenID                int64   `json:"pad_token_id" yaml:"pad_token_id"`
	HiddenAct                 string  `json:"hidden_act" yaml:"hidden_act"`
	LayerNormEps              float64 `json:"layer_norm_eps" yaml:"layer_norm_eps"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob" yaml:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob" yaml:"attention_probs_dropout_prob"`
	// AddPoolingLayer adds the pooler ("pooler.dense"); Hugging Face passes it
	// to BertModel's constructor rather than storing it in config.json.
	AddPoolingLayer bool `json:"add_pooling_layer" yaml:"add_pooling_layer"`
}

// BertBase returns the configuration of bert-base-uncased, with the pooler.
func BertBase() BertConfig {
	return BertConfig{
		VocabSize:                 30522,
		HiddenSize:                768,
		NumHiddenLayers:           12,
		NumAttentionHeads:         12,
		IntermediateSize:          3072,
		MaxPositionEmbeddings:     512,
		TypeVocabSize:             2,
		PadTokenID:                0,
		HiddenAct:                 "gelu",
		LayerNormEps:              1e-12,
		HiddenDropoutProb:         0.1,
		AttentionProbsDropoutProb: 0.1,
		AddPoolingLayer:           true,
	}
}

// MiniLML6 returns the configuration of sentence-transformers/all-MiniLM-L6-v2
// (a 6-layer BERT, hidden 384, 12 heads, intermediate 1536, the uncased
// bert-base vocabulary), with the pooler.
func MiniLML6() BertConfig {
	c := BertBase()
	c.HiddenSize = 384
	c.NumHiddenLayers = 6
	c.IntermediateSize = 1536
	return c
}

// block is the encoder block configuration of c.
func (c BertConfig) block() layers.BlockConfig {
	return layers.BlockConfig{
		Hidden:           c.HiddenSize,
		Heads:            c.NumAttentionHeads,
		Intermediate:     c.IntermediateSize,
		Act:              c.HiddenAct,
		Eps:              c.LayerNormEps,
		QKVBias:          true,
		HiddenDropout:    c.HiddenDropoutProb,
		AttentionDropout: c.AttentionProbsDropoutProb,
	}
}

// Validate returns every problem in c at once, or nil.
func (c BertConfig) Validate() error {
	var errs []error
	if err := c.block().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.NumHiddenLayers < 0 {
		errs = append(errs, fmt.Errorf("num_hidden_layers %d is negative", c.NumHiddenLayers))
	}
	if c.VocabSize <= 0 || c.MaxPositionEmbeddings <= 0 || c.TypeVocabSize <= 0 {
		errs = append(errs, fmt.Errorf("vocab_size %d, max_position_embeddings %d and type_vocab_size %d must be positive",
			c.VocabSize, c.MaxPositionEmbeddings, c.TypeVocabSize))
	}
	if c.PadTokenID < -1 || c.PadTokenID >= c.VocabSize {
		errs = append(errs, fmt.Errorf("pad_token_id %d is outside the vocabulary [0, %d) (use -1 for none)", c.PadTokenID, c.VocabSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bert config: %w", err)
	}
	return nil
}

// BertModel mirrors Hugging Face's BertModel (transformers 4.41, absolute
// position embeddings, encoder only):
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
// Built at the model root, its keys are "embeddings.word_embeddings.weight",
// "encoder.layer.0.attention.self.query.weight", "pooler.dense.weight", ...
type BertModel struct {
	Config     BertConfig
	Embeddings *layers.BertEmbeddings // "embeddings"
	Encoder    *layers.Encoder        // "encoder": PostNormBlocks
	Pooler     *layers.Pooler         // "pooler"; nil without AddPoolingLayer
	Name       string                 // checkpoint path of the model ("bert"; "bert" too at the root)
	device     gotch.Device
}

// NewBertModel validates cfg and creates the model's parameters under p with
// Hugging Face's initialisation (the pad token's embedding row is zero).
func NewBertModel(p *nn.Path, cfg BertConfig) (*BertModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &BertModel{Config: cfg, Name: pathOr(p, "bert"), device: p.Device()}
	var err error
	m.Embeddings, err = layers.NewBertEmbeddings(p.Sub("embeddings"), layers.BertEmbeddingsConfig{
		VocabSize:     cfg.VocabSize,
		Hidden:        cfg.HiddenSize,
		MaxPositions:  cfg.MaxPositionEmbeddings,
		TypeVocabSize: cfg.TypeVocabSize,
		PadTokenID:    cfg.PadTokenID,
		Eps:           cfg.LayerNormEps,
		Dropout:       cfg.HiddenDropoutProb,
	})
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if m.Encoder, err = layers.NewPostNormEncoder(p.Sub("encoder"), cfg.NumHiddenLayers, cfg.block()); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if cfg.AddPoolingLayer {
		if m.Pooler, err = layers.NewPooler(p.Sub("pooler"), cfg.HiddenSize); err != nil {
			return nil, fmt.Errorf("bert: %w", err)
		}
	}
	return m, nil
}

// Forward encodes token ids [B, L] (int64) with optional segment ids
// tokenTypeIDs [B, L] (nil: all 0) and padding mask attentionMask [B, L]
// (1 = token, 0 = padding; nil: no padding) into LastHiddenState [B, L, D],
// PoolerOutput [B, D] (with a pooler) and Mask (the padding mask on the
// model's device; all ones when attentionMask is nil). Inputs on another
// device are copied. Dropout is active only when train is true.
func (m *BertModel) Forward(inputIDs, tokenTypeIDs, attentionMask *ts.Tensor, train bool) (*EncoderOutput, error) {
	return m.ForwardPass(inputIDs, tokenTypeIDs, attentionMask, layers.Pass{Train: train})
}

// ForwardPass is Forward with a layers.Pass: with a trace, every layer's
// attention probabilities are recorded under its path
// ("bert.encoder.layer.0.attention.self").
func (m *BertModel) ForwardPass(inputIDs, tokenTypeIDs, attentionMask *ts.Tensor, pass layers.Pass) (*EncoderOutput, error) {
	s := layers.NewScope(m.Name)
	if inputIDs == nil {
		s.Failf("input ids are nil")
	}
	ids := onDevice(s, inputIDs, m.device, gotch.Invalid)
	types := onDevice(s, tokenTypeIDs, m.device, gotch.Invalid)
	mask := onDevice(s, attentionMask, m.device, gotch.Invalid)
	// Eq. (8): X = E_token + E_segment + E_pos, then LayerNorm and dropout.
	x := s.Do(func() (*ts.Tensor, error) { return m.Embeddings.Forward(ids, types, pass.Train) })
	var additive *ts.Tensor
	if mask != nil {
		additive = s.Do(func() (*ts.Tensor, error) { return layers.AdditiveMask(mask, x.DType()) })
	}
	// Eq. (9)–(13), L times: X ← LN(X' + FFN(X')), X' = LN(X + MHA(X)).
	out := &EncoderOutput{LastHiddenState: s.Do(func() (*ts.Tensor, error) { return m.Encoder.Forward(x, additive, pass) })}
	s.Free(x)
	if m.Pooler != nil {
		out.PoolerOutput = s.Apply(m.Pooler, out.LastHiddenState)
	}
	out.Mask = m.outputMask(s, ids, mask)
	if err := s.Results(out.LastHiddenState, out.PoolerOutput, out.Mask); err != nil {
		return nil, err
	}
	return out, nil
}

// outputMask is the padding mask Forward returns: a new handle of mask, or
// all ones shaped like ids when there is none.
func (m *BertModel) outputMask(s *layers.Scope, ids, mask *ts.Tensor) *ts.Tensor {
	if mask != nil {
		return s.Do(mask.ShallowClone)
	}
	size := s.Size(ids)
	if size == nil {
		return nil
	}
	return s.Do(func() (*ts.Tensor, error) { return ts.Ones(size, gotch.Int64, m.device) })
}
