package vbg

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Fusion turns the two encoders' token sequences into one feature vector
// per example. Either input may be nil when the model has no such encoder.
type Fusion interface {
	// Forward returns [B, Dim()]. img is [B, Ni, Di]; txt is [B, Nt, Dt]
	// with txtMask [B, Nt] (1 = token, 0 = padding).
	Forward(img, txt, txtMask *ts.Tensor, pass layers.Pass) (*ts.Tensor, error)
	Dim() int64
}

// FusionKind names the fusion variants selectable in an experiment.
type FusionKind string

// The fusion variants: the paper's bidirectional cross-attention, and the
// ablations (concatenation of pooled features, one modality alone).
const (
	Bidirectional FusionKind = "bidirectional"
	Concat        FusionKind = "concat"
	ImageOnly     FusionKind = "image"
	TextOnly      FusionKind = "text"
)

// FusionConfig sizes a fusion layer.
type FusionConfig struct {
	Kind      FusionKind
	ImageDim  int64 // hidden size of the image encoder (0 if none)
	TextDim   int64 // hidden size of the text encoder (0 if none)
	Dim       int64 // fused size
	Heads     int64 // cross-attention heads
	LayerNorm float64
}

// NewFusion builds the fusion layer named by cfg.Kind at p.
func NewFusion(p *nn.Path, cfg FusionConfig) (Fusion, error) {
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("fusion: dim must be positive, got %d", cfg.Dim)
	}
	if cfg.LayerNorm == 0 {
		cfg.LayerNorm = 1e-12
	}
	switch cfg.Kind {
	case Bidirectional:
		return newBidirectional(p, cfg)
	case Concat:
		proj, err := layers.NewLinear(p.Sub("proj"), cfg.ImageDim+cfg.TextDim, cfg.Dim, true)
		if err != nil {
			return nil, err
		}
		return &concatFusion{proj: proj, dim: cfg.Dim, name: pathOr(p, "fusion")}, nil
	case ImageOnly, TextOnly:
		in := cfg.ImageDim
		if cfg.Kind == TextOnly {
			in = cfg.TextDim
		}
		proj, err := layers.NewLinear(p.Sub("proj"), in, cfg.Dim, true)
		if err != nil {
			return nil, err
		}
		return &singleFusion{proj: proj, dim: cfg.Dim, text: cfg.Kind == TextOnly, name: pathOr(p, "fusion")}, nil
	}
	return nil, fmt.Errorf("fusion: unknown kind %q", cfg.Kind)
}

// BidirectionalFusion is the paper's fusion layer: image tokens attend to
// text tokens, text tokens attend to image patches, each result is pooled,
// and a learned weight mixes the two.
//
//	Î = LN(I' + Attn(I', T', T'))        image attends to text
//	T̂ = LN(T' + Attn(T', I', I'))        text attends to image
//	f = α·pool(Î) + (1-α)·pool(T̂),  α = σ(g)
//
// where I' and T' are the encoders' tokens projected to the fused size.
// With a trace, Forward records I' and T' under the projections' paths
// ("fusion.proj_image", "fusion.proj_text") and the cross-attention
// probabilities under "fusion.image_to_text" and "fusion.text_to_image".
type BidirectionalFusion struct {
	ProjImage, ProjText *layers.Linear
	ImageToText         *layers.CrossAttention // queries: image tokens
	TextToImage         *layers.CrossAttention // queries: text tokens
	NormImage, NormText *layers.LayerNorm
	Gate                *ts.Tensor // scalar g; α = sigmoid(g), starts at 0.5
	Name                string     // checkpoint path ("fusion")
	dim                 int64
}

func newBidirectional(p *nn.Path, cfg FusionConfig) (*BidirectionalFusion, error) {
	if cfg.ImageDim <= 0 || cfg.TextDim <= 0 {
		return nil, fmt.Errorf("bidirectional fusion needs both encoders (image %d, text %d)", cfg.ImageDim, cfg.TextDim)
	}
	f := &BidirectionalFusion{dim: cfg.Dim, Name: pathOr(p, "fusion")}
	var err error
	if f.ProjImage, err = layers.NewLinear(p.Sub("proj_image"), cfg.ImageDim, cfg.Dim, true); err != nil {
		return nil, err
	}
	if f.ProjText, err = layers.NewLinear(p.Sub("proj_text"), cfg.TextDim, cfg.Dim, true); err != nil {
		return nil, err
	}
	if f.ImageToText, err = layers.NewCrossAttention(p.Sub("image_to_text"), cfg.Dim, cfg.Heads); err != nil {
		return nil, err
	}
	if f.TextToImage, err = layers.NewCrossAttention(p.Sub("text_to_image"), cfg.Dim, cfg.Heads); err != nil {
		return nil, err
	}
	if f.NormImage, err = layers.NewLayerNorm(p.Sub("norm_image"), cfg.Dim, cfg.LayerNorm); err != nil {
		return nil, err
	}
	if f.NormText, err = layers.NewLayerNorm(p.Sub("norm_text"), cfg.Dim, cfg.LayerNorm); err != nil {
		return nil, err
	}
	if f.Gate, err = p.Zeros("gate", []int64{1}); err != nil {
		return nil, fmt.Errorf("fusion gate: %w", err)
	}
	return f, nil
}

// Dim is the fused feature size.
func (f *BidirectionalFusion) Dim() int64 { return f.dim }

// Alpha is the current image weight σ(g) of the weighted sum (0 if
// libtorch fails to compute it).
func (f *BidirectionalFusion) Alpha() float64 {
	var a float64
	_ = tensor.NoGrad(func() error {
		s := layers.NewScope(f.Name)
		a = s.Float(s.Sigmoid(f.Gate))
		return s.Close()
	})
	return a
}

// Forward implements Fusion.
func (f *BidirectionalFusion) Forward(img, txt, txtMask *ts.Tensor, pass layers.Pass) (*ts.Tensor, error) {
	s := layers.NewScope(f.Name)
	if img == nil || txt == nil {
		s.Failf("bidirectional fusion needs image and text tokens")
	}
	ip, tp := s.Apply(f.ProjImage, img), s.Apply(f.ProjText, txt) // I', T'
	pass.Trace.Record(s, f.ProjImage.Name, ip)
	pass.Trace.Record(s, f.ProjText.Name, tp)
	// Î = LN(I' + Attn(I', T', T')): image attends to text.
	ia := s.Apply(f.NormImage, s.Add(ip, s.Do(func() (*ts.Tensor, error) { return f.ImageToText.Forward(ip, tp, txtMask, pass) })))
	// T̂ = LN(T' + Attn(T', I', I')): text attends to image.
	ta := s.Apply(f.NormText, s.Add(tp, s.Do(func() (*ts.Tensor, error) { return f.TextToImage.Forward(tp, ip, nil, pass) })))
	// f = α·pool(Î) + (1-α)·pool(T̂) = v_t + α·(v_i - v_t), α = σ(g).
	vi, vt := meanPool(s, ia, nil), meanPool(s, ta, txtMask)
	return s.Result(s.Add(vt, s.Mul(s.Sub(vi, vt), s.Sigmoid(f.Gate))))
}

// MeanPool averages tokens [B, N, D] over N, counting only positions where
// mask [B, N] is non-zero (all positions when mask is nil). Returns [B, D],
// owned by the caller.
func MeanPool(x, mask *ts.Tensor) (*ts.Tensor, error) {
	s := layers.NewScope("mean pool")
	return s.Keep(meanPool(s, x, mask))
}

// meanPool is MeanPool in s.
func meanPool(s *layers.Scope, x, mask *ts.Tensor) *ts.Tensor {
	if mask == nil || x == nil || s.Failed() {
		return s.Mean(x, 1)
	}
	m := s.Totype(s.Unsqueeze(mask, -1), x.DType())
	sum := s.Sum(s.Mul(x, m), 1)
	count := s.Sum(m, 1)
	count = s.Do(func() (*ts.Tensor, error) { return count.ClampMin(ts.FloatScalar(1), false) })
	return s.Div(sum, count)
}

// concatFusion projects the concatenated pooled features.
type concatFusion struct {
	proj *layers.Linear
	dim  int64
	name string
}

func (f *concatFusion) Dim() int64 { return f.dim }

func (f *concatFusion) Forward(img, txt, txtMask *ts.Tensor, pass layers.Pass) (*ts.Tensor, error) {
	s := layers.NewScope(f.name)
	if img == nil || txt == nil {
		s.Failf("concat fusion needs image and text tokens")
	}
	return s.Result(s.Apply(f.proj, s.Cat(1, meanPool(s, img, nil), meanPool(s, txt, txtMask))))
}

// pooledKey is the trace name (under the fusion's path) of a single
// fusion's pooled tokens, the feature it projects.
const pooledKey = ".pooled"

// singleFusion uses one modality: the ablations "image only" and "text only".
// With a trace it records the pooled tokens under name+pooledKey.
type singleFusion struct {
	proj *layers.Linear
	dim  int64
	text bool
	name string
}

func (f *singleFusion) Dim() int64 { return f.dim }

func (f *singleFusion) Forward(img, txt, txtMask *ts.Tensor, pass layers.Pass) (*ts.Tensor, error) {
	s := layers.NewScope(f.name)
	x, mask, kind := img, (*ts.Tensor)(nil), "image"
	if f.text {
		x, mask, kind = txt, txtMask, "text"
	}
	if x == nil {
		s.Failf("missing %s tokens", kind)
	}
	v := meanPool(s, x, mask)
	pass.Trace.Record(s, f.name+pooledKey, v)
	return s.Result(s.Apply(f.proj, v))
}
