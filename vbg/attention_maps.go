package vbg

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
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
		if vals[i], err = tensor.Float64s(m); err != nil {
			return nil, fmt.Errorf("attention rollout: %w", err)
		}
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

// Explain runs the model once in eval mode without gradients, with a
// trace, on one batch, and returns its probabilities, attention maps and
// features (see Explanation), all read from that one forward. The caller
// runs it on the model's device thread.
func (m *Model) Explain(in Inputs) (*Explanation, error) {
	var ex *Explanation
	err := tensor.NoGrad(func() (err error) {
		ex, err = m.explain(in)
		return err
	})
	return ex, err
}

func (m *Model) explain(in Inputs) (*Explanation, error) {
	trace := layers.NewTrace()
	defer trace.Drop()
	out, err := m.ForwardPass(in, layers.Pass{Trace: trace})
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer out.Drop()
	ex := &Explanation{}
	if ex.Probs, err = Probabilities(out.Logits); err != nil {
		return nil, err
	}
	if ex.Fused, err = rows(out.Fused); err != nil {
		return nil, err
	}
	if m.Image != nil {
		if err := ex.rollout(m.Image, in.Pixels, trace); err != nil {
			return nil, err
		}
	}
	switch f := m.Fusion.(type) {
	case *BidirectionalFusion:
		err = ex.fusion(f, in.AttentionMask, trace)
	case *singleFusion:
		err = ex.single(f, trace)
	}
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return ex, nil
}

// rollout sets the patch grid and the ViT attention rollout from the traced
// probabilities of every ViT layer, averaged over heads.
func (ex *Explanation) rollout(vit *ViTModel, pixels *ts.Tensor, trace *layers.Trace) error {
	size, err := pixels.Size()
	if err != nil || len(size) != 4 {
		return fmt.Errorf("explain: want pixels [B, C, H, W], got %v (%v)", size, err)
	}
	p := vit.Config.PatchSize
	ex.GridH, ex.GridW = int(size[2]/p), int(size[3]/p)
	s := layers.NewScope("explain: vit attention")
	defer s.Close()
	var maps []*ts.Tensor
	for _, probs := range trace.Under(vit.Encoder.Name + ".") {
		maps = append(maps, s.Mean(probs, 1)) // [B, L, L]
	}
	if err := s.Err(); err != nil {
		return err
	}
	ex.Rollout, err = AttentionRollout(maps)
	return err
}

// fusion sets the fusion layer's maps and the pooled features from the
// traced projections and cross-attention probabilities.
func (ex *Explanation) fusion(f *BidirectionalFusion, mask *ts.Tensor, trace *layers.Trace) error {
	s := layers.NewScope(f.Name)
	defer s.Close()
	// The mean-pooled projections I' and T', before cross-attention.
	vi := meanPool(s, trace.Get(f.ProjImage.Name), nil)
	vt := meanPool(s, trace.Get(f.ProjText.Name), mask)
	t2i := s.Mean(trace.Get(f.TextToImage.Name), 1) // text queries over image tokens: [B, Nt, Ni]
	i2t := s.Mean(trace.Get(f.ImageToText.Name), 1) // image queries over text tokens: [B, Ni, Nt]
	if err := s.Err(); err != nil {
		return err
	}
	var t2iRows, i2tRows, maskRows [][]float64
	for _, r := range []struct {
		dst *[][]float64
		src *ts.Tensor
	}{{&ex.ImageFeat, vi}, {&ex.TextFeat, vt}, {&t2iRows, t2i}, {&i2tRows, i2t}, {&maskRows, mask}} {
		var err error
		if *r.dst, err = rows(r.src); err != nil {
			return err
		}
	}
	for b := range t2iRows {
		nt := len(maskRows[b])
		if nt == 0 {
			return fmt.Errorf("explain: example %d has no text positions", b)
		}
		ni := len(t2iRows[b]) / nt
		ex.TextToImage = append(ex.TextToImage, textToImage(t2iRows[b], maskRows[b], ni))
		ex.TokenWeights = append(ex.TokenWeights, tokenWeights(i2tRows[b], ni, nt))
	}
	return nil
}

// textToImage is one example's text-to-image attention [Nt][Ni] summed
// over the real text tokens, for the patches (the [CLS] token left out),
// scaled to [0, 1].
func textToImage(t2i, mask []float64, ni int) []float64 {
	heat := make([]float64, ni-1)
	for q, m := range mask {
		if m == 0 {
			continue
		}
		for j := 1; j < ni; j++ {
			heat[j-1] += t2i[q*ni+j]
		}
	}
	return normalise(heat)
}

// tokenWeights is one example's image-to-text attention [Ni][Nt] averaged
// over the image tokens: a distribution over the text positions.
func tokenWeights(i2t []float64, ni, nt int) []float64 {
	tok := make([]float64, nt)
	for q := 0; q < ni; q++ {
		for j := 0; j < nt; j++ {
			tok[j] += i2t[q*nt+j] / float64(ni)
		}
	}
	return tok
}

// single sets the one feature of an image-only or text-only model: the
// pooled encoder tokens its fusion recorded.
func (ex *Explanation) single(f *singleFusion, trace *layers.Trace) error {
	v, err := rows(trace.Get(f.name + pooledKey))
	if f.text {
		ex.TextFeat = v
	} else {
		ex.ImageFeat = v
	}
	return err
}
