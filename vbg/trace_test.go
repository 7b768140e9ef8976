package vbg

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// tinyModel is a two-encoder VBG model small enough for unit tests, with
// its batch: 2 images of 16×16 and 2 texts of 4 tokens, the second padded.
func tinyModel(t *testing.T, kind FusionKind) (*Model, Inputs, *nn.VarStore) {
	t.Helper()
	if err := ts.ManualSeed(5); err != nil {
		t.Fatal(err)
	}
	vit, bert := tinyViT(), tinyBert()
	vit.AddPoolingLayer, bert.AddPoolingLayer = false, false
	vs := nn.NewVarStore(gotch.CPU)
	m, err := Build(vs.Root(), Config{ViT: &vit, Bert: &bert, Fusion: FusionConfig{Kind: kind, Dim: 16, Heads: 2},
		Head: HeadConfig{Dropout: 0.5, L2: 0.001}, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	in := Inputs{
		Pixels:        ts.MustRandn([]int64{2, 3, 16, 16}, gotch.Float, gotch.CPU),
		InputIDs:      ts.MustOfSlice([]int64{2, 5, 6, 3, 2, 7, 3, 0}).MustView([]int64{2, 4}, true),
		AttentionMask: ts.MustOfSlice([]int64{1, 1, 1, 1, 1, 1, 1, 0}).MustView([]int64{2, 4}, true),
	}
	t.Cleanup(func() { tensor.Drop(in.Pixels, in.InputIDs, in.AttentionMask) })
	return m, in, vs
}

// maxDiff is max |a - b|.
func maxDiff(a, b *ts.Tensor) float64 {
	return a.MustSub(b, false).MustAbs(true).MustMax(true).Float64Values()[0]
}

// wantProbs recomputes softmax(Q·Kᵀ/√d + M) from the inputs of an
// attention layer: x [B, Lq, D] through query, y [B, Lk, D] through key,
// split into heads, and the additive mask add (nil for none).
func wantProbs(query, key *layers.Linear, x, y *ts.Tensor, heads int64, add *ts.Tensor) *ts.Tensor {
	split := func(lin *layers.Linear, z *ts.Tensor) *ts.Tensor {
		h, err := lin.Forward(z)
		if err != nil {
			panic(err)
		}
		s := h.MustSize()
		return h.MustView([]int64{s[0], s[1], heads, s[2] / heads}, true).MustTranspose(1, 2, true)
	}
	q, k := split(query, x), split(key, y)
	d := q.MustSize()[3]
	scores := q.MustMatmul(k.MustTranspose(-2, -1, true), true).MustDivScalar(ts.FloatScalar(math.Sqrt(float64(d))), true)
	if add != nil {
		scores = scores.MustAdd(add, true)
	}
	return scores.MustSoftmax(-1, gotch.Float, true)
}

// TestTracedForward: a traced pass returns the logits of an untraced one,
// records every attention layer under its checkpoint path, and its
// probabilities are softmax(Q·Kᵀ/√d + mask) recomputed here from the
// layers' weights.
func TestTracedForward(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, in, vs := tinyModel(t, Bidirectional)
	trace := layers.NewTrace()
	defer trace.Drop()
	var plain, traced *Output
	err := tensor.NoGrad(func() (err error) {
		if plain, err = m.Forward(in, false); err != nil {
			return err
		}
		traced, err = m.ForwardPass(in, layers.Pass{Trace: trace})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Drop()
	defer traced.Drop()
	if d := maxDiff(plain.Logits, traced.Logits); d > 1e-5 {
		t.Errorf("traced logits differ from untraced ones by %g", d)
	}
	wantNames := []string{
		"vit.encoder.layer.0.attention.attention", "vit.encoder.layer.1.attention.attention",
		"bert.encoder.layer.0.attention.self", "bert.encoder.layer.1.attention.self",
		"fusion.proj_image", "fusion.proj_text", "fusion.image_to_text", "fusion.text_to_image",
	}
	if got := strings.Join(trace.Names(), " "); got != strings.Join(wantNames, " ") {
		t.Fatalf("trace names\n got %s\nwant %s", got, strings.Join(wantNames, " "))
	}
	fusion := m.Fusion.(*BidirectionalFusion)
	self := m.Text.Encoder.Layers[0].(*layers.PostNormBlock).Attention.Self
	emb, err := m.Text.Embeddings.Forward(in.InputIDs, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	textMask, err := layers.AdditiveMask(in.AttentionMask, gotch.Float)
	if err != nil {
		t.Fatal(err)
	}
	// The fusion's boolean mask, as an additive one: -inf at padding.
	padding := in.AttentionMask.MustEq(ts.IntScalar(0), false).MustView([]int64{2, 1, 1, 4}, true)
	fusionMask := ts.MustZeros([]int64{2, 1, 1, 4}, gotch.Float, gotch.CPU).MustMaskedFill(padding, ts.FloatScalar(math.Inf(-1)), true)
	ip, tp := trace.Get("fusion.proj_image"), trace.Get("fusion.proj_text")
	tests := []struct {
		name string
		want *ts.Tensor
	}{
		{"bert.encoder.layer.0.attention.self", wantProbs(self.Query, self.Key, emb, emb, self.NumHeads, textMask)},
		{"fusion.image_to_text", wantProbs(fusion.ImageToText.Query, fusion.ImageToText.Key, ip, tp, 2, fusionMask)},
		{"fusion.text_to_image", wantProbs(fusion.TextToImage.Query, fusion.TextToImage.Key, tp, ip, 2, nil)},
	}
	for _, tc := range tests {
		got := trace.Get(tc.name)
		if gs, ws := got.MustSize(), tc.want.MustSize(); len(gs) != 4 || fmt.Sprint(gs) != fmt.Sprint(ws) {
			t.Errorf("%s: probabilities of shape %v, want %v", tc.name, gs, ws)
			continue
		}
		if d := maxDiff(got, tc.want); d > 1e-6 {
			t.Errorf("%s: traced probabilities differ from softmax(QKᵀ/√d + M) by %g", tc.name, d)
		}
	}
	runtime.KeepAlive(vs)
}

// TestFusionFailureNamesModule makes a libtorch op fail inside the fusion
// and the model (tokens of the wrong width, a mask that does not fit the
// text, pixels with the wrong channels, a token id outside the vocabulary):
// the error names the innermost failing module's checkpoint path, nothing
// panics, and no tensor is left behind (a trace's included).
func TestFusionFailureNamesModule(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, in, vs := tinyModel(t, Bidirectional)
	defer tensor.Settle()()
	img := ts.MustRandn([]int64{2, 5, 16}, gotch.Float, gotch.CPU)
	wide := ts.MustRandn([]int64{2, 5, 24}, gotch.Float, gotch.CPU) // ImageDim is 16
	txt := ts.MustRandn([]int64{2, 4, 16}, gotch.Float, gotch.CPU)
	long := ts.MustOnes([]int64{2, 6}, gotch.Int64, gotch.CPU) // 6 mask positions for 4 tokens
	gray := ts.MustRandn([]int64{2, 1, 16, 16}, gotch.Float, gotch.CPU)
	badIDs := ts.MustFull([]int64{2, 4}, ts.IntScalar(1000), gotch.Int64, gotch.CPU)
	defer tensor.Drop(img, wide, txt, long, gray, badIDs)
	fuse := func(img, txt, mask *ts.Tensor) func(layers.Pass) (*ts.Tensor, error) {
		return func(p layers.Pass) (*ts.Tensor, error) { return m.Fusion.Forward(img, txt, mask, p) }
	}
	model := func(in Inputs) func(layers.Pass) (*ts.Tensor, error) {
		return func(p layers.Pass) (*ts.Tensor, error) {
			o, err := m.ForwardPass(in, p)
			if err != nil {
				return nil, err
			}
			tensor.Drop(o.Fused)
			return o.Logits, nil
		}
	}
	tests := []struct {
		name string
		fwd  func(layers.Pass) (*ts.Tensor, error)
		want string // the error's prefix: the failing module
	}{
		{"image tokens of the wrong width", fuse(wide, txt, in.AttentionMask), "fusion.proj_image: "},
		{"mask longer than the text", fuse(img, txt, long), "fusion.image_to_text: "},
		{"missing text", fuse(img, nil, in.AttentionMask), "fusion: "},
		{"model: gray pixels", model(Inputs{Pixels: gray, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask}), "vit.embeddings: "},
		{"model: token ids outside the vocabulary", model(Inputs{Pixels: in.Pixels, InputIDs: badIDs, AttentionMask: in.AttentionMask}), "bert.embeddings.word_embeddings: "},
		{"model: mask longer than the text", model(Inputs{Pixels: in.Pixels, InputIDs: in.InputIDs, AttentionMask: long}), "bert.encoder.layer.0.attention.self: "},
	}
	for _, tc := range tests {
		for _, traced := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/traced=%v", tc.name, traced), func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				before := tensor.Live()
				pass := layers.Pass{Train: !traced}
				if traced {
					pass.Trace = layers.NewTrace()
				}
				out, err := tc.fwd(pass)
				pass.Trace.Drop()
				var me *layers.ModuleError
				switch {
				case err == nil || out != nil:
					t.Fatalf("got %v, %v; want an error", out, err)
				case !strings.HasPrefix(err.Error(), tc.want) || !errors.As(err, &me):
					t.Errorf("error %q, want a module error starting with %q", err, tc.want)
				}
				if n := tensor.Live() - before; n != 0 {
					t.Errorf("%d tensors leaked", n)
				}
			})
		}
	}
	runtime.KeepAlive(vs)
}
