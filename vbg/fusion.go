package vbg

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// Fusion turns the two encoders' token sequences into one feature vector
// per example. Either input may be nil when the model has no such encoder.
type Fusion interface {
	// Forward returns [B, Dim()]. img is [B, Ni, Di]; txt is [B, Nt, Dt]
	// with txtMask [B, Nt] (1 = token, 0 = padding).
	Forward(img, txt, txtMask *ts.Tensor, train bool) (*ts.Tensor, error)
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
		return &concatFusion{proj: proj, dim: cfg.Dim}, nil
	case ImageOnly, TextOnly:
		in := cfg.ImageDim
		if cfg.Kind == TextOnly {
			in = cfg.TextDim
		}
		proj, err := layers.NewLinear(p.Sub("proj"), in, cfg.Dim, true)
		if err != nil {
			return nil, err
		}
		return &singleFusion{proj: proj, dim: cfg.Dim, text: cfg.Kind == TextOnly}, nil
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
type BidirectionalFusion struct {
	ProjImage, ProjText *layers.Linear
	ImageToText         *layers.CrossAttention // queries: image tokens
	TextToImage         *layers.CrossAttention // queries: text tokens
	NormImage, NormText *layers.LayerNorm
	Gate                *ts.Tensor // scalar g; α = sigmoid(g), starts at 0.5
	dim                 int64
}

func newBidirectional(p *nn.Path, cfg FusionConfig) (*BidirectionalFusion, error) {
	if cfg.ImageDim <= 0 || cfg.TextDim <= 0 {
		return nil, fmt.Errorf("bidirectional fusion needs both encoders (image %d, text %d)", cfg.ImageDim, cfg.TextDim)
	}
	f := &BidirectionalFusion{dim: cfg.Dim}
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

// Alpha is the current image weight σ(g) of the weighted sum.
func (f *BidirectionalFusion) Alpha() float64 {
	var a float64
	ts.NoGrad(func() {
		if s, err := f.Gate.Sigmoid(false); err == nil {
			a = s.Float64Values()[0]
			s.Drop()
		}
	})
	return a
}

// attend computes LN(x + Attn(x, ctx, ctxMask)).
func attend(attn *layers.CrossAttention, norm *layers.LayerNorm, x, ctx, ctxMask *ts.Tensor) (*ts.Tensor, error) {
	a, err := attn.Forward(x, ctx, ctxMask)
	if err != nil {
		return nil, err
	}
	defer a.Drop()
	s, err := x.Add(a, false)
	if err != nil {
		return nil, err
	}
	defer s.Drop()
	return norm.Forward(s)
}

// Forward implements Fusion.
func (f *BidirectionalFusion) Forward(img, txt, txtMask *ts.Tensor, train bool) (*ts.Tensor, error) {
	if img == nil || txt == nil {
		return nil, fmt.Errorf("bidirectional fusion needs image and text tokens")
	}
	ip, err := f.ProjImage.Forward(img)
	if err != nil {
		return nil, fmt.Errorf("fusion: %w", err)
	}
	defer ip.Drop()
	tp, err := f.ProjText.Forward(txt)
	if err != nil {
		return nil, fmt.Errorf("fusion: %w", err)
	}
	defer tp.Drop()
	ia, err := attend(f.ImageToText, f.NormImage, ip, tp, txtMask) // image attends to text
	if err != nil {
		return nil, fmt.Errorf("fusion image->text: %w", err)
	}
	defer ia.Drop()
	ta, err := attend(f.TextToImage, f.NormText, tp, ip, nil) // text attends to image
	if err != nil {
		return nil, fmt.Errorf("fusion text->image: %w", err)
	}
	defer ta.Drop()
	vi, err := MeanPool(ia, nil)
	if err != nil {
		return nil, err
	}
	defer vi.Drop()
	vt, err := MeanPool(ta, txtMask)
	if err != nil {
		return nil, err
	}
	defer vt.Drop()
	alpha, err := f.Gate.Sigmoid(false)
	if err != nil {
		return nil, err
	}
	defer alpha.Drop()
	// f = α·v_i + (1-α)·v_t = v_t + α·(v_i - v_t)
	diff, err := vi.Sub(vt, false)
	if err != nil {
		return nil, err
	}
	defer diff.Drop()
	scaled, err := diff.Mul(alpha, false)
	if err != nil {
		return nil, err
	}
	defer scaled.Drop()
	return vt.Add(scaled, false)
}

// MeanPool averages tokens [B, N, D] over N, counting only positions where
// mask [B, N] is non-zero (all positions when mask is nil). Returns [B, D].
func MeanPool(x, mask *ts.Tensor) (*ts.Tensor, error) {
	if mask == nil {
		return x.MeanDim([]int64{1}, false, x.DType(), false)
	}
	m, err := mask.Unsqueeze(-1, false)
	if err != nil {
		return nil, err
	}
	defer m.Drop()
	mf, err := m.Totype(x.DType(), false)
	if err != nil {
		return nil, err
	}
	defer mf.Drop()
	xm, err := x.Mul(mf, false)
	if err != nil {
		return nil, err
	}
	defer xm.Drop()
	sum, err := xm.SumDimIntlist([]int64{1}, false, x.DType(), false)
	if err != nil {
		return nil, err
	}
	defer sum.Drop()
	count, err := mf.SumDimIntlist([]int64{1}, false, x.DType(), false)
	if err != nil {
		return nil, err
	}
	defer count.Drop()
	if err := count.ClampMin_(ts.FloatScalar(1)); err != nil {
		return nil, err
	}
	return sum.Div(count, false)
}

// concatFusion projects the concatenated pooled features.
type concatFusion struct {
	proj *layers.Linear
	dim  int64
}

func (f *concatFusion) Dim() int64 { return f.dim }

func (f *concatFusion) Forward(img, txt, txtMask *ts.Tensor, train bool) (*ts.Tensor, error) {
	if img == nil || txt == nil {
		return nil, fmt.Errorf("concat fusion needs image and text tokens")
	}
	vi, err := MeanPool(img, nil)
	if err != nil {
		return nil, err
	}
	defer vi.Drop()
	vt, err := MeanPool(txt, txtMask)
	if err != nil {
		return nil, err
	}
	defer vt.Drop()
	cat, err := ts.Cat([]*ts.Tensor{vi, vt}, 1)
	if err != nil {
		return nil, err
	}
	defer cat.Drop()
	return f.proj.Forward(cat)
}

// singleFusion uses one modality: the ablations "image only" and "text only".
type singleFusion struct {
	proj *layers.Linear
	dim  int64
	text bool
}

func (f *singleFusion) Dim() int64 { return f.dim }

func (f *singleFusion) Forward(img, txt, txtMask *ts.Tensor, train bool) (*ts.Tensor, error) {
	x, mask := img, (*ts.Tensor)(nil)
	if f.text {
		x, mask = txt, txtMask
	}
	if x == nil {
		return nil, fmt.Errorf("fusion: missing %s tokens", map[bool]string{true: "text", false: "image"}[f.text])
	}
	v, err := MeanPool(x, mask)
	if err != nil {
		return nil, err
	}
	defer v.Drop()
	return f.proj.Forward(v)
}
