package vbg

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// Explanation is what Model.Explain returns for a batch: the class
// probabilities, the attention maps of the paper's Fig. 7 and the feature
// vectors of Fig. 8, all as Go values.
type Explanation struct {
	Probs [][]float64 // [B][K]
	// GridH × GridW is the ViT's patch grid; the maps below are row-major
	// over it (nil without an image encoder).
	GridH, GridW int
	// Rollout is the ViT attention rollout (Abnar & Zuidema, 2020) from the
	// [CLS] token to each patch, scaled to [0, 1] per example.
	Rollout [][]float64
	// TextToImage is the fusion layer's text-to-image attention to each
	// patch, averaged over heads and the real text tokens, scaled to [0, 1]
	// (nil without bidirectional fusion).
	TextToImage [][]float64
	// TokenWeights is the fusion layer's image-to-text attention to each
	// text position, averaged over heads and image tokens (0 at padding);
	// rows sum to 1 (nil without bidirectional fusion).
	TokenWeights [][]float64
	// ImageFeat, TextFeat and Fused are the per-example feature vectors in
	// the fused space: the mean-pooled projections of the image and text
	// tokens before cross-attention, and the fused vector the head reads
	// (ImageFeat / TextFeat nil when the model lacks that encoder).
	ImageFeat, TextFeat, Fused [][]float64
}

// ViTAttention runs the ViT like Forward (eval mode, call under no-grad) and
// also returns each layer's attention probabilities averaged over heads,
// [B, L, L] with L = 1 + patches, owned by the caller.
func (m *ViTModel) ViTAttention(pixels *ts.Tensor) (*EncoderOutput, []*ts.Tensor, error) {
	x, owned, err := encOnDevice(pixels, m.device, m.LayerNorm.Weight.DType())
	if err != nil {
		return nil, nil, fmt.Errorf("vit: pixels: %w", err)
	}
	h, err := m.Embeddings.Forward(x, false)
	if owned {
		encDrop(x)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("vit: %w", err)
	}
	var maps []*ts.Tensor
	fail := func(err error) (*EncoderOutput, []*ts.Tensor, error) {
		encDrop(h)
		encDrop(maps...)
		return nil, nil, err
	}
	for i, l := range m.Encoder.Layers {
		blk, ok := l.(*layers.PreNormBlock)
		if !ok {
			return fail(fmt.Errorf("vit: layer %d is %T, not a pre-norm block", i, l))
		}
		n, err := blk.LayerNormBefore.Forward(h)
		if err != nil {
			return fail(err)
		}
		a, err := selfAttentionProbs(blk.Attention.Self, n)
		encDrop(n)
		if err != nil {
			return fail(fmt.Errorf("vit layer %d attention: %w", i, err))
		}
		maps = append(maps, a)
		next, err := blk.Forward(h, nil, false)
		if err != nil {
			return fail(fmt.Errorf("vit layer %d: %w", i, err))
		}
		encDrop(h)
		h = next
	}
	out := &EncoderOutput{}
	out.LastHiddenState, err = m.LayerNorm.Forward(h)
	encDrop(h)
	if err != nil {
		encDrop(maps...)
		return nil, nil, fmt.Errorf("vit: final layernorm: %w", err)
	}
	return out, maps, nil
}

// selfAttentionProbs is softmax(QKᵀ/√d) of a self-attention layer on x
// [B, L, D], averaged over heads: [B, L, L].
func selfAttentionProbs(a *layers.SelfAttention, x *ts.Tensor) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	b, l := size[0], size[1]
	heads := func(lin *layers.Linear) (*ts.Tensor, error) {
		y, err := lin.Forward(x)
		if err != nil {
			return nil, err
		}
		v, err := y.View([]int64{b, l, a.NumHeads, a.HeadDim}, true)
		if err != nil {
			return nil, err
		}
		return v.Transpose(1, 2, true)
	}
	q, err := heads(a.Query)
	if err != nil {
		return nil, err
	}
	defer encDrop(q)
	k, err := heads(a.Key)
	if err != nil {
		return nil, err
	}
	defer encDrop(k)
	kt, err := k.Transpose(-2, -1, false)
	if err != nil {
		return nil, err
	}
	defer encDrop(kt)
	s, err := q.Matmul(kt, false)
	if err != nil {
		return nil, err
	}
	if err := s.MulScalar_(ts.FloatScalar(1 / math.Sqrt(float64(a.HeadDim)))); err != nil {
		encDrop(s)
		return nil, err
	}
	p, err := s.Softmax(-1, s.DType(), true)
	if err != nil {
		return nil, err
	}
	return p.MeanDim([]int64{1}, false, p.DType(), true)
}

// AttentionRollout multiplies the layers' head-averaged attention maps,
// each mixed with the identity for the residual path (0.5·A + 0.5·I, rows
// renormalised), and returns the [CLS] row over the patches (the first
// token excluded), scaled to [0, 1] per example. maps are [B, L, L].
func AttentionRollout(maps []*ts.Tensor) ([][]float64, error) {
	if len(maps) == 0 {
		return nil, fmt.Errorf("attention rollout: no layers")
	}
	size, err := maps[0].Size()
	if err != nil {
		return nil, err
	}
	B, L := int(size[0]), int(size[1])
	vals := make([][]float64, len(maps))
	for i, m := range maps {
		d, err := m.Totype(gotch.Double, false)
		if err != nil {
			return nil, err
		}
		vals[i] = d.Float64Values()
		encDrop(d)
	}
	out := make([][]float64, B)
	for b := 0; b < B; b++ {
		r := identity(L)
		for _, v := range vals {
			a := v[b*L*L : (b+1)*L*L]
			mixed := make([]float64, L*L)
			for i := 0; i < L; i++ {
				var sum float64
				for j := 0; j < L; j++ {
					x := 0.5 * a[i*L+j]
					if i == j {
						x += 0.5
					}
					mixed[i*L+j] = x
					sum += x
				}
				for j := 0; j < L; j++ {
					mixed[i*L+j] /= sum
				}
			}
			r = matmul(mixed, r, L)
		}
		out[b] = normalise(append([]float64(nil), r[1:L]...))
	}
	return out, nil
}

func identity(n int) []float64 {
	m := make([]float64, n*n)
	for i := 0; i < n; i++ {
		m[i*n+i] = 1
	}
	return m
}

func matmul(a, b []float64, n int) []float64 {
	c := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for k := 0; k < n; k++ {
			x := a[i*n+k]
			if x == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				c[i*n+j] += x * b[k*n+j]
			}
		}
	}
	return c
}

// normalise scales v to [0, 1] (all zeros when v is constant).
func normalise(v []float64) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	for i := range v {
		if hi > lo {
			v[i] = (v[i] - lo) / (hi - lo)
		} else {
			v[i] = 0
		}
	}
	return v
}

// rows turns a [B, ...] tensor into Go rows of its trailing elements.
func rows(t *ts.Tensor) ([][]float64, error) {
	d, err := t.Totype(gotch.Double, false)
	if err != nil {
		return nil, err
	}
	defer encDrop(d)
	size, err := d.Size()
	if err != nil {
		return nil, err
	}
	flat := d.Float64Values()
	n := 1
	for _, s := range size[1:] {
		n *= int(s)
	}
	out := make([][]float64, size[0])
	for i := range out {
		out[i] = flat[i*n : (i+1)*n]
	}
	return out, nil
}

// Explain runs the model in eval mode without gradients on one batch and
// returns its probabilities, attention maps and features (see Explanation).
// The caller runs it on the model's device thread.
func (m *Model) Explain(in Inputs) (*Explanation, error) {
	var ex *Explanation
	var err error
	ts.NoGrad(func() { ex, err = m.explain(in) })
	return ex, err
}

func (m *Model) explain(in Inputs) (*Explanation, error) {
	ex := &Explanation{}
	var keep []*ts.Tensor
	defer func() { encDrop(keep...) }()
	var img, txt *ts.Tensor
	if m.Image != nil {
		if in.Pixels == nil {
			return nil, fmt.Errorf("explain: the image encoder needs pixels")
		}
		o, maps, err := m.Image.ViTAttention(in.Pixels)
		if err != nil {
			return nil, err
		}
		img = o.LastHiddenState
		keep = append(keep, img)
		keep = append(keep, maps...)
		if ex.Rollout, err = AttentionRollout(maps); err != nil {
			return nil, err
		}
		size, _ := in.Pixels.Size()
		p := m.Image.Config.PatchSize
		ex.GridH, ex.GridW = int(size[2]/p), int(size[3]/p)
	}
	if m.Text != nil {
		if in.InputIDs == nil || in.AttentionMask == nil {
			return nil, fmt.Errorf("explain: the text encoder needs input ids and an attention mask")
		}
		o, err := m.Text.Forward(in.InputIDs, nil, in.AttentionMask, false)
		if err != nil {
			return nil, err
		}
		txt = o.LastHiddenState
		o.LastHiddenState = nil
		o.Drop()
		keep = append(keep, txt)
	}
	fused, err := m.Fusion.Forward(img, txt, in.AttentionMask, false)
	if err != nil {
		return nil, err
	}
	keep = append(keep, fused)
	logits, err := m.Classifier.Forward(fused, false)
	if err != nil {
		return nil, err
	}
	keep = append(keep, logits)
	if ex.Probs, err = Probabilities(logits); err != nil {
		return nil, err
	}
	if ex.Fused, err = rows(fused); err != nil {
		return nil, err
	}
	switch f := m.Fusion.(type) {
	case *BidirectionalFusion:
		ip, err := f.ProjImage.Forward(img)
		if err != nil {
			return nil, err
		}
		keep = append(keep, ip)
		tp, err := f.ProjText.Forward(txt)
		if err != nil {
			return nil, err
		}
		keep = append(keep, tp)
		if err := ex.pooled(ip, tp, in.AttentionMask, &keep); err != nil {
			return nil, err
		}
		// Text queries over image tokens: [B, Nt, Ni].
		t2i, err := f.TextToImage.Weights(tp, ip, nil)
		if err != nil {
			return nil, err
		}
		keep = append(keep, t2i)
		// Image queries over text tokens: [B, Ni, Nt].
		i2t, err := f.ImageToText.Weights(ip, tp, in.AttentionMask)
		if err != nil {
			return nil, err
		}
		keep = append(keep, i2t)
		mask, err := rows(in.AttentionMask)
		if err != nil {
			return nil, err
		}
		t2iRows, err := rows(t2i)
		if err != nil {
			return nil, err
		}
		i2tRows, err := rows(i2t)
		if err != nil {
			return nil, err
		}
		ni := ex.GridH*ex.GridW + 1
		for b := range t2iRows {
			nt := len(mask[b])
			heat := make([]float64, ni-1)
			var real float64
			for q := 0; q < nt; q++ {
				if mask[b][q] == 0 {
					continue
				}
				real++
				for j := 1; j < ni; j++ {
					heat[j-1] += t2iRows[b][q*ni+j]
				}
			}
			ex.TextToImage = append(ex.TextToImage, normalise(heat))
			tok := make([]float64, nt)
			for q := 0; q < ni; q++ {
				for j := 0; j < nt; j++ {
					tok[j] += i2tRows[b][q*nt+j] / float64(ni)
				}
			}
			ex.TokenWeights = append(ex.TokenWeights, tok)
		}
	case *singleFusion:
		// Image-only or text-only: the pooled encoder tokens are the feature.
		if f.text {
			v, err := MeanPool(txt, in.AttentionMask)
			if err != nil {
				return nil, err
			}
			keep = append(keep, v)
			if ex.TextFeat, err = rows(v); err != nil {
				return nil, err
			}
		} else {
			v, err := MeanPool(img, nil)
			if err != nil {
				return nil, err
			}
			keep = append(keep, v)
			if ex.ImageFeat, err = rows(v); err != nil {
				return nil, err
			}
		}
	}
	return ex, nil
}

// pooled fills ImageFeat and TextFeat from the projected token sequences.
func (ex *Explanation) pooled(ip, tp, mask *ts.Tensor, keep *[]*ts.Tensor) error {
	vi, err := MeanPool(ip, nil)
	if err != nil {
		return err
	}
	*keep = append(*keep, vi)
	vt, err := MeanPool(tp, mask)
	if err != nil {
		return err
	}
	*keep = append(*keep, vt)
	if ex.ImageFeat, err = rows(vi); err != nil {
		return err
	}
	ex.TextFeat, err = rows(vt)
	return err
}
