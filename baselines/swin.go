package baselines

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
)

// Swin Transformer V1 (Liu et al., 2021), the paper's "SWIM-ViT": patch
// embedding, four stages of windowed self-attention blocks whose windows
// shift by half a window every other block, patch merging between stages,
// layer norm, average pooling and a linear head. Names follow torchvision's
// swin_t ("features.0.0", "features.1.0.attn.qkv", "features.2.reduction",
// "norm", "head"). As in torchvision, a feature map is zero-padded to a
// multiple of the window, and a map no larger than the window is not shifted.

type swinBlock struct {
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
			m.merges[s] = &patchMerging{norm: r.layerNorm(mp.Sub("norm"), 4*dim), reduction: lin(mp.Sub("reduction"), 4*dim, 2*dim, false)}
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
	t, err := ts.NewTensorFromData(idx, []int64{n * n})
	if err != nil {
		return nil, err
	}
	if dev == gotch.CPU {
		return t, nil
	}
	defer drop(t)
	return t.To(dev, false)
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
	t, err := ts.NewTensorFromData(vals, []int64{1, nW, 1, N, N})
	if err != nil {
		return nil, err
	}
	if dev != gotch.CPU {
		d, err := t.To(dev, true)
		if err != nil {
			return nil, err
		}
		t = d
	}
	b.masks[[2]int64{H, W}] = t
	return t, nil
}

// attention is shifted-window multi-head self-attention on x [B, H, W, C].
func (b *swinBlock) attention(x *ts.Tensor) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	B, H, W, C := size[0], size[1], size[2], size[3]
	M := b.window
	padB, padR := (M-H%M)%M, (M-W%M)%M
	t := &tape{}
	h := x
	if padB > 0 || padR > 0 {
		h = t.on(func() (*ts.Tensor, error) { return x.ConstantPadNd([]int64{0, 0, 0, padR, 0, padB}, false) })
	}
	PH, PW := H+padB, W+padR
	shift := b.shift
	if M >= PH || M >= PW {
		shift = 0
	}
	if shift > 0 {
		in := h
		h = t.on(func() (*ts.Tensor, error) { return in.Roll([]int64{-shift, -shift}, []int64{1, 2}, false) })
	}
	nW := (PH / M) * (PW / M)
	N := M * M
	// Partition: [B, PH/M, M, PW/M, M, C] -> [B·nW, M², C].
	h = t.on(func() (*ts.Tensor, error) { return h.View([]int64{B, PH / M, M, PW / M, M, C}, false) })
	h = t.on(func() (*ts.Tensor, error) { return h.Permute([]int64{0, 1, 3, 2, 4, 5}, false) })
	h = t.on(func() (*ts.Tensor, error) { return h.Reshape([]int64{B * nW, N, C}, false) })
	hd := C / b.heads
	qkv := t.linear(b.qkv, h)
	qkv = t.on(func() (*ts.Tensor, error) { return qkv.Reshape([]int64{B * nW, N, 3, b.heads, hd}, false) })
	qkv = t.on(func() (*ts.Tensor, error) { return qkv.Permute([]int64{2, 0, 3, 1, 4}, false) })
	q := t.on(func() (*ts.Tensor, error) { return qkv.Select(0, 0, false) })
	k := t.on(func() (*ts.Tensor, error) { return qkv.Select(0, 1, false) })
	v := t.on(func() (*ts.Tensor, error) { return qkv.Select(0, 2, false) })
	q = t.on(func() (*ts.Tensor, error) { return q.MulScalar(ts.FloatScalar(1/math.Sqrt(float64(hd))), false) })
	kt := t.on(func() (*ts.Tensor, error) { return k.Transpose(-2, -1, false) })
	attn := t.on(func() (*ts.Tensor, error) { return q.Matmul(kt, false) })
	// Relative position bias [1, heads, N, N].
	bias := t.on(func() (*ts.Tensor, error) { return b.table.IndexSelect(0, b.index, false) })
	bias = t.on(func() (*ts.Tensor, error) { return bias.View([]int64{N, N, b.heads}, false) })
	bias = t.on(func() (*ts.Tensor, error) { return bias.Permute([]int64{2, 0, 1}, false) })
	attn = t.addT(attn, bias)
	if shift > 0 && t.err == nil {
		dev, err := x.Device()
		if err != nil {
			t.release()
			return nil, err
		}
		mask, err := b.shiftMask(PH, PW, dev)
		if err != nil {
			t.release()
			return nil, err
		}
		attn = t.on(func() (*ts.Tensor, error) { return attn.View([]int64{B, nW, b.heads, N, N}, false) })
		attn = t.addT(attn, mask)
		attn = t.on(func() (*ts.Tensor, error) { return attn.View([]int64{B * nW, b.heads, N, N}, false) })
	}
	attn = t.on(func() (*ts.Tensor, error) { return attn.Softmax(-1, attn.DType(), false) })
	o := t.on(func() (*ts.Tensor, error) { return attn.Matmul(v, false) })
	o = t.on(func() (*ts.Tensor, error) { return o.Transpose(1, 2, false) })
	o = t.on(func() (*ts.Tensor, error) { return o.Reshape([]int64{B * nW, N, C}, false) })
	o = t.linear(b.proj, o)
	// Reverse: [B, PH/M, PW/M, M, M, C] -> [B, PH, PW, C].
	o = t.on(func() (*ts.Tensor, error) { return o.View([]int64{B, PH / M, PW / M, M, M, C}, false) })
	o = t.on(func() (*ts.Tensor, error) { return o.Permute([]int64{0, 1, 3, 2, 4, 5}, false) })
	o = t.on(func() (*ts.Tensor, error) { return o.Reshape([]int64{B, PH, PW, C}, false) })
	if shift > 0 {
		in := o
		o = t.on(func() (*ts.Tensor, error) { return in.Roll([]int64{shift, shift}, []int64{1, 2}, false) })
	}
	if padB > 0 || padR > 0 {
		in := o
		o = t.on(func() (*ts.Tensor, error) { return in.Narrow(1, 0, H, false) })
		o = t.on(func() (*ts.Tensor, error) { return o.Narrow(2, 0, W, false) })
		o = t.on(func() (*ts.Tensor, error) { return o.Contiguous(false) })
	}
	return t.keep(o)
}

// dropPath zeroes whole samples of x with probability p in training and
// rescales the rest by 1/(1-p) (stochastic depth, "row" mode).
func dropPath(t *tape, x *ts.Tensor, p float64, train bool) *ts.Tensor {
	if !train || p == 0 || t.err != nil {
		return x
	}
	size, err := x.Size()
	if err != nil {
		t.err = err
		return nil
	}
	dev, err := x.Device()
	if err != nil {
		t.err = err
		return nil
	}
	shape := make([]int64, len(size))
	shape[0] = size[0]
	for i := 1; i < len(shape); i++ {
		shape[i] = 1
	}
	r := t.on(func() (*ts.Tensor, error) { return ts.Rand(shape, x.DType(), dev) })
	keep := t.on(func() (*ts.Tensor, error) { return r.Ge(ts.FloatScalar(p), false) })
	keep = t.on(func() (*ts.Tensor, error) { return keep.Totype(x.DType(), false) })
	keep = t.on(func() (*ts.Tensor, error) { return keep.DivScalar(ts.FloatScalar(1-p), false) })
	return t.on(func() (*ts.Tensor, error) { return x.Mul(keep, false) })
}

func (b *swinBlock) forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	t := &tape{}
	n := t.ln(b.norm1, x)
	a := t.on(func() (*ts.Tensor, error) { return b.attention(n) })
	h := t.addT(x, dropPath(t, a, b.dropPath, train))
	m := t.linear(b.mlp3, t.gelu(t.linear(b.mlp0, t.ln(b.norm2, h))))
	return t.keep(t.addT(h, dropPath(t, m, b.dropPath, train)))
}

// forward of patch merging: [B, H, W, C] -> [B, ⌈H/2⌉, ⌈W/2⌉, 2C].
func (pm *patchMerging) forward(x *ts.Tensor) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	B, H, W, C := size[0], size[1], size[2], size[3]
	t := &tape{}
	h := x
	if H%2 == 1 || W%2 == 1 {
		h = t.on(func() (*ts.Tensor, error) { return x.ConstantPadNd([]int64{0, 0, 0, W % 2, 0, H % 2}, false) })
		H, W = H+H%2, W+W%2
	}
	// torchvision concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
	// x[1::2, 1::2]: with [B, H/2, 2(h), W/2, 2(w), C] that is the order
	// (w, h) after a permute.
	h = t.on(func() (*ts.Tensor, error) { return h.View([]int64{B, H / 2, 2, W / 2, 2, C}, false) })
	h = t.on(func() (*ts.Tensor, error) { return h.Permute([]int64{0, 1, 3, 4, 2, 5}, false) })
	h = t.on(func() (*ts.Tensor, error) { return h.Reshape([]int64{B, H / 2, W / 2, 4 * C}, false) })
	return t.keep(t.linear(pm.reduction, t.ln(pm.norm, h)))
}

func (m *swinT) forward(t *tape, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := t.conv(m.patchConv, x)
	h = t.on(func() (*ts.Tensor, error) { return h.Permute([]int64{0, 2, 3, 1}, false) })
	h = t.ln(m.patchNorm, h)
	for s := 0; s < 4; s++ {
		for _, b := range m.stages[s] {
			in := h
			h = t.on(func() (*ts.Tensor, error) { return b.forward(in, train) })
		}
		if s < 3 {
			in := h
			pm := m.merges[s]
			h = t.on(func() (*ts.Tensor, error) { return pm.forward(in) })
		}
	}
	h = t.ln(m.norm, h)
	feats := t.on(func() (*ts.Tensor, error) { return h.MeanDim([]int64{1, 2}, false, h.DType(), false) })
	return t.linear(m.head, feats), feats
}

// validSwin reports a Swin configuration that cannot run at imageSize.
func validSwin(c config.Swin, imageSize int) error {
	if imageSize < c.Patch {
		return fmt.Errorf("swin: image_size %d is smaller than the patch size %d", imageSize, c.Patch)
	}
	return nil
}
