package baselines

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Swin Transformer V1 (Liu et al., 2021), the paper's "SWIM-ViT": patch
// embedding, four stages of windowed self-attention blocks whose windows
// shift by half a window every other block, patch merging between stages,
// layer norm, average pooling and a linear head. Names follow torchvision's
// swin_t ("features.0.0", "features.1.0.attn.qkv", "features.2.reduction",
// "norm", "head"). As in torchvision, a feature map is zero-padded to a
// multiple of the window, and a map no larger than the window is not shifted.

type swinBlock struct {
	name         string // "features.1.0"
	norm1, norm2 *layerNorm
	qkv, proj    *linear
	mlp0, mlp3   *linear
	table        *ts.Tensor // relative_position_bias_table [(2M-1)², heads]
	index        *ts.Tensor // [M²·M²] int64 (not a parameter)
	heads, dim   int64
	window       int64
	shift        int64
	dropPath     float64
	masks        map[[2]int64]*ts.Tensor // shifted-window masks by padded (H, W)
}

type patchMerging struct {
	name      string // "features.2"
	norm      *layerNorm
	reduction *linear
}

type swinT struct {
	patchConv *conv
	patchNorm *layerNorm
	stages    [4][]*swinBlock
	merges    [3]*patchMerging
	norm      *layerNorm
	head      *linear
	dim       int64
}

func buildSwin(r *registry, p *nn.Path, cfg *config.Config, _, classes int) (any, error) {
	c := cfg.Model.Baseline.Swin
	if err := validSwin(c, cfg.Data.ImageSize); err != nil {
		return nil, err
	}
	m := &swinT{}
	fp := p.Sub("features")
	dim := int64(c.Dim)
	m.patchConv = r.conv(fp.Sub("0").Sub("0"), 3, dim, sq(int64(c.Patch)), sq(int64(c.Patch)), sq(0), true, nil)
	m.patchNorm = r.layerNorm(fp.Sub("0").Sub("2"), dim)
	total := 0
	for _, d := range c.Depths {
		total += d
	}
	lin := func(p *nn.Path, in, out int64, bias bool) *linear {
		return r.linear(p, in, out, bias, truncNormalInit(0.02), constInit(0))
	}
	M := int64(c.Window)
	index, err := relativeIndex(M, p.Device())
	if err != nil {
		return nil, err
	}
	blockID := 0
	for s := 0; s < 4; s++ {
		sp := fp.Sub(strconv.Itoa(1 + 2*s))
		heads := int64(c.Heads[s])
		for i := 0; i < c.Depths[s]; i++ {
			bp := sp.Sub(strconv.Itoa(i))
			hidden := int64(math.Round(float64(dim) * c.MLPRatio))
			b := &swinBlock{
				name:  r.path(bp),
				norm1: r.layerNorm(bp.Sub("norm1"), dim),
				qkv:   lin(bp.Sub("attn").Sub("qkv"), dim, 3*dim, true),
				proj:  lin(bp.Sub("attn").Sub("proj"), dim, dim, true),
				table: r.param(bp.Sub("attn"), "relative_position_bias_table", []int64{(2*M - 1) * (2*M - 1), heads}, truncNormalInit(0.02), true),
				norm2: r.layerNorm(bp.Sub("norm2"), dim),
				mlp0:  lin(bp.Sub("mlp").Sub("0"), dim, hidden, true),
				mlp3:  lin(bp.Sub("mlp").Sub("3"), hidden, dim, true),
				index: index, heads: heads, dim: dim, window: M,
				masks: map[[2]int64]*ts.Tensor{},
			}
			if i%2 == 1 {
				b.shift = M / 2
			}
			if total > 1 {
				b.dropPath = c.DropPath * float64(blockID) / float64(total-1)
			}
			blockID++
			m.stages[s] = append(m.stages[s], b)
		}
		if s < 3 {
			mp := fp.Sub(strconv.Itoa(2 + 2*s))
			m.merges[s] = &patchMerging{name: r.path(mp), norm: r.layerNorm(mp.Sub("norm"), 4*dim), reduction: lin(mp.Sub("reduction"), 4*dim, 2*dim, false)}
			dim *= 2
		}
	}
	m.norm = r.layerNorm(p.Sub("norm"), dim)
	m.head = lin(p.Sub("head"), dim, int64(classes), true)
	m.dim = dim
	r.head = []string{"head"}
	return m, nil
}

// relativeIndex is the index into the bias table of every (query, key) pair
// of an M×M window: (Δh + M - 1)·(2M - 1) + (Δw + M - 1).
func relativeIndex(M int64, dev gotch.Device) (*ts.Tensor, error) {
	n := M * M
	idx := make([]int64, n*n)
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < n; j++ {
			dh := i/M - j/M + M - 1
			dw := i%M - j%M + M - 1
			idx[i*n+j] = dh*(2*M-1) + dw
		}
	}
	return tensor.FromSlice(idx, []int64{n * n}, dev)
}

// shiftMask is the additive mask [nW, N, N] that keeps tokens of different
// regions of a cyclically shifted window from attending to each other
// (-100 between regions, 0 within one).
func (b *swinBlock) shiftMask(H, W int64, dev gotch.Device) (*ts.Tensor, error) {
	if m, ok := b.masks[[2]int64{H, W}]; ok {
		return m, nil
	}
	M, s := b.window, b.shift
	region := func(i, size int64) int64 {
		switch {
		case i < size-M:
			return 0
		case i < size-s:
			return 1
		}
		return 2
	}
	nW := (H / M) * (W / M)
	N := M * M
	vals := make([]float32, nW*N*N)
	label := func(w, t int64) int64 {
		wh, ww := w/(W/M), w%(W/M)
		h, x := wh*M+t/M, ww*M+t%M
		return region(h, H)*3 + region(x, W)
	}
	for w := int64(0); w < nW; w++ {
		for i := int64(0); i < N; i++ {
			for j := int64(0); j < N; j++ {
				if label(w, i) != label(w, j) {
					vals[(w*N+i)*N+j] = -100
				}
			}
		}
	}
	t, err := tensor.FromSlice(vals, []int64{1, nW, 1, N, N}, dev)
	if err != nil {
		return nil, err
	}
	b.masks[[2]int64{H, W}] = t
	return t, nil
}

// attention is shifted-window multi-head self-attention on x [B, H, W, C].
func (b *swinBlock) attention(x *ts.Tensor) (*ts.Tensor, error) {
	s := newScope("attn")
	size := s.Shape(x, 4)
	if s.Failed() {
		return s.Keep(nil)
	}
	B, H, W, C := size[0], size[1], size[2], size[3]
	M := b.window
	padB, padR := (M-H%M)%M, (M-W%M)%M
	h := x
	if padB > 0 || padR > 0 {
		h = s.Do(func() (*ts.Tensor, error) { return x.ConstantPadNd([]int64{0, 0, 0, padR, 0, padB}, false) })
	}
	PH, PW := H+padB, W+padR
	shift := b.shift
	if M >= PH || M >= PW {
		shift = 0
	}
	if shift > 0 {
		h = roll(s, h, -shift)
	}
	nW := (PH / M) * (PW / M)
	N := M * M
	// Partition: [B, PH/M, M, PW/M, M, C] -> [B·nW, M², C].
	h = s.Reshape(s.Permute(s.View(h, B, PH/M, M, PW/M, M, C), 0, 1, 3, 2, 4, 5), B*nW, N, C)
	hd := C / b.heads
	// Heads per window: q, k, v [B, nW, heads, N, hd].
	qkv := s.Permute(s.Reshape(s.Apply(b.qkv, h), B, nW, N, 3, b.heads, hd), 3, 0, 1, 4, 2, 5)
	q, k, v := s.Select(qkv, 0, 0), s.Select(qkv, 0, 1), s.Select(qkv, 0, 2)
	// The additive mask: the relative position bias [heads, N, N] and, in a
	// shifted window, the shift mask [nW, 1, N, N] between its regions.
	bias := s.Do(func() (*ts.Tensor, error) { return b.table.IndexSelect(0, b.index, false) })
	mask := s.Permute(s.View(bias, N, N, b.heads), 2, 0, 1)
	if shift > 0 && !s.Failed() {
		regions, err := b.maskFor(x, PH, PW) // cached by the block, not owned by s
		s.Fail(err)
		mask = s.Add(s.View(regions, nW, 1, N, N), mask)
	}
	// softmax(q·kᵀ/√hd + mask)·v, the attention every VBG layer computes.
	o, _ := s.Attention(q, k, v, layers.MaskLike(s.Scope, mask, q), layers.AttentionOptions{})
	o = s.Apply(b.proj, s.Reshape(s.Transpose(o, 2, 3), B*nW, N, C))
	// Reverse: [B, PH/M, PW/M, M, M, C] -> [B, PH, PW, C].
	o = s.Reshape(s.Permute(s.View(o, B, PH/M, PW/M, M, M, C), 0, 1, 3, 2, 4, 5), B, PH, PW, C)
	if shift > 0 {
		o = roll(s, o, shift)
	}
	if padB > 0 || padR > 0 {
		o = s.Contiguous(s.Narrow(s.Narrow(o, 1, 0, H), 2, 0, W))
	}
	return s.Keep(o)
}

// maskFor is shiftMask for a padded H×W map on x's device.
func (b *swinBlock) maskFor(x *ts.Tensor, H, W int64) (*ts.Tensor, error) {
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	return b.shiftMask(H, W, dev)
}

// roll shifts x [B, H, W, C] cyclically by (by, by) over H and W.
func roll(s scope, x *ts.Tensor, by int64) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.Roll([]int64{by, by}, []int64{1, 2}, false) })
}

// dropPath zeroes whole samples of x with probability p in training and
// rescales the rest by 1/(1-p) (stochastic depth, "row" mode).
func dropPath(s scope, x *ts.Tensor, p float64, train bool) *ts.Tensor {
	if !train || p == 0 || s.Failed() {
		return x
	}
	size := s.Size(x)
	dev, err := x.Device()
	if err != nil {
		s.Fail(err)
		return nil
	}
	shape := make([]int64, len(size))
	shape[0] = size[0]
	for i := 1; i < len(shape); i++ {
		shape[i] = 1
	}
	r := s.Do(func() (*ts.Tensor, error) { return ts.Rand(shape, x.DType(), dev) })
	keep := s.Totype(s.Do(func() (*ts.Tensor, error) { return r.Ge(ts.FloatScalar(p), false) }), x.DType())
	keep = s.Do(func() (*ts.Tensor, error) { return keep.DivScalar(ts.FloatScalar(1-p), false) })
	return s.Mul(x, keep)
}

// forward is a Swin block: x + DropPath(W-MSA(LN(x))), then the same with
// the MLP.
func (b *swinBlock) forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := newScope(b.name)
	n := s.Apply(b.norm1, x)
	a := s.Do(func() (*ts.Tensor, error) { return b.attention(n) })
	h := s.Add(x, dropPath(s, a, b.dropPath, train))
	m := s.Apply(b.mlp3, s.gelu(s.Apply(b.mlp0, s.Apply(b.norm2, h))))
	return s.Keep(s.Add(h, dropPath(s, m, b.dropPath, train)))
}

// forward of patch merging: [B, H, W, C] -> [B, ⌈H/2⌉, ⌈W/2⌉, 2C].
func (pm *patchMerging) forward(x *ts.Tensor) (*ts.Tensor, error) {
	s := newScope(pm.name)
	size := s.Shape(x, 4)
	if s.Failed() {
		return s.Keep(nil)
	}
	B, H, W, C := size[0], size[1], size[2], size[3]
	h := x
	if H%2 == 1 || W%2 == 1 {
		h = s.Do(func() (*ts.Tensor, error) { return x.ConstantPadNd([]int64{0, 0, 0, W % 2, 0, H % 2}, false) })
		H, W = H+H%2, W+W%2
	}
	// torchvision concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
	// x[1::2, 1::2]: with [B, H/2, 2(h), W/2, 2(w), C] that is the order
	// (w, h) after a permute.
	h = s.Reshape(s.Permute(s.View(h, B, H/2, 2, W/2, 2, C), 0, 1, 3, 4, 2, 5), B, H/2, W/2, 4*C)
	return s.Keep(s.Apply(pm.reduction, s.Apply(pm.norm, h)))
}

func (m *swinT) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := s.Apply(m.patchNorm, s.Permute(s.Apply(m.patchConv, x), 0, 2, 3, 1))
	for st := 0; st < 4; st++ {
		for _, b := range m.stages[st] {
			h = s.Do(func() (*ts.Tensor, error) { return b.forward(h, train) })
		}
		if st < 3 {
			h = s.Do(func() (*ts.Tensor, error) { return m.merges[st].forward(h) })
		}
	}
	h = s.Apply(m.norm, h)
	feats := s.Mean(h, 1, 2)
	return s.Apply(m.head, feats), feats
}

// validSwin reports a Swin configuration that cannot run at imageSize.
func validSwin(c config.Swin, imageSize int) error {
	if imageSize < c.Patch {
		return fmt.Errorf("swin: image_size %d is smaller than the patch size %d", imageSize, c.Patch)
	}
	return nil
}
