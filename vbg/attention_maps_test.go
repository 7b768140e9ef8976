package vbg

import (
	"math"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// TestAttentionRolloutKnown: with uniform attention in every layer the
// rollout from [CLS] is the same for every patch (a constant map scales to
// 0); when the first layer sends [CLS] only to the second patch, that patch
// gets the maximum and the others the minimum.
func TestAttentionRolloutKnown(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const L = 4 // [CLS] + 3 patches
	uniform := make([]float32, L*L)
	for i := range uniform {
		uniform[i] = 1.0 / L
	}
	focused := make([]float32, L*L)
	for i := 0; i < L; i++ {
		focused[i*L+i] = 1
	}
	focused[0], focused[2] = 0, 1 // [CLS] attends to patch 2 (token 2)
	mk := func(v []float32) *ts.Tensor { return ts.MustOfSlice(v).MustView([]int64{1, L, L}, true) }
	got, err := AttentionRollout([]*ts.Tensor{mk(uniform), mk(uniform)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got[0] {
		if v != 0 {
			t.Errorf("uniform rollout %v: want a constant map (scaled to 0)", got[0])
			break
		}
	}
	got, err = AttentionRollout([]*ts.Tensor{mk(focused), mk(uniform)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0][1] != 1 || got[0][0] != 0 || got[0][2] != 0 {
		t.Errorf("focused rollout %v: want patch 2 (index 1) at 1, the others 0", got[0])
	}
}

// TestExplainShapes builds a tiny VBG model and checks the explanation's
// shapes and the invariants of its maps, and that ViTAttention's hidden
// state equals Forward's.
func TestExplainShapes(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.ManualSeed(3)
	vit, _ := ViTPreset("vit-tiny")
	vit.HiddenSize, vit.NumHiddenLayers, vit.NumAttentionHeads, vit.IntermediateSize, vit.PatchSize, vit.ImageSize = 32, 2, 2, 64, 8, 16
	vit.AddPoolingLayer = false
	bert, _ := BertPreset("bert-tiny")
	bert.HiddenSize, bert.NumHiddenLayers, bert.NumAttentionHeads, bert.IntermediateSize = 32, 1, 2, 64
	bert.VocabSize, bert.MaxPositionEmbeddings, bert.AddPoolingLayer = 20, 8, false
	vs := nn.NewVarStore(gotch.CPU)
	m, err := Build(vs.Root(), Config{ViT: &vit, Bert: &bert, Fusion: FusionConfig{Kind: Bidirectional, Dim: 32, Heads: 2},
		Head: HeadConfig{Dropout: 0.5, L2: 0.001}, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	const B = 2
	pix := ts.MustRandn([]int64{B, 3, 16, 16}, gotch.Float, gotch.CPU)
	ids := ts.MustOfSlice([]int64{2, 5, 6, 3, 2, 7, 3, 0}).MustView([]int64{B, 4}, true)
	mask := ts.MustOfSlice([]int64{1, 1, 1, 1, 1, 1, 1, 0}).MustView([]int64{B, 4}, true)
	ex, err := m.Explain(Inputs{Pixels: pix, InputIDs: ids, AttentionMask: mask})
	if err != nil {
		t.Fatal(err)
	}
	if ex.GridH != 2 || ex.GridW != 2 || len(ex.Rollout) != B || len(ex.Rollout[0]) != 4 || len(ex.TextToImage[1]) != 4 {
		t.Fatalf("grid %d×%d, rollout %d×%d", ex.GridH, ex.GridW, len(ex.Rollout), len(ex.Rollout[0]))
	}
	for b := 0; b < B; b++ {
		var sum float64
		for _, p := range ex.Probs[b] {
			sum += p
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("probabilities of %d sum to %g", b, sum)
		}
		sum = 0
		for _, w := range ex.TokenWeights[b] {
			sum += w
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("token weights of %d sum to %g", b, sum)
		}
		for _, f := range [][]float64{ex.ImageFeat[b], ex.TextFeat[b], ex.Fused[b]} {
			if len(f) != 32 {
				t.Errorf("feature length %d, want 32", len(f))
			}
		}
	}
	if ex.TokenWeights[1][3] != 0 {
		t.Errorf("padding token got weight %g", ex.TokenWeights[1][3])
	}
	// A traced ViT pass gives Forward's hidden state and one map per layer.
	var o1, o2 *EncoderOutput
	trace := layers.NewTrace()
	defer trace.Drop()
	ts.NoGrad(func() {
		o1, err = m.Image.Forward(pix, false)
		if err == nil {
			o2, err = m.Image.ForwardPass(pix, layers.Pass{Trace: trace})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	maps := trace.Under("vit.encoder.")
	if len(maps) != 2 || !o1.LastHiddenState.MustAllclose(o2.LastHiddenState, 1e-5, 1e-6, false, false) {
		t.Errorf("%d maps; hidden states equal: %v", len(maps), o1.LastHiddenState.MustAllclose(o2.LastHiddenState, 1e-5, 1e-6, false, false))
	}
	// Fused matches Forward's.
	var out *Output
	ts.NoGrad(func() { out, err = m.Forward(Inputs{Pixels: pix, InputIDs: ids, AttentionMask: mask}, false) })
	if err != nil {
		t.Fatal(err)
	}
	fused, _ := rows(out.Fused)
	if math.Abs(fused[0][0]-ex.Fused[0][0]) > 1e-5 {
		t.Errorf("fused %g vs Explain's %g", fused[0][0], ex.Fused[0][0])
	}
}
