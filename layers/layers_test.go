package layers

import (
	"math"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

func tinyBlock() BlockConfig {
	return BlockConfig{Hidden: 8, Heads: 2, Intermediate: 16, Act: "gelu", Eps: 1e-12, QKVBias: true}
}

func keys(vs *nn.VarStore) []string {
	var out []string
	for k := range vs.Variables() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestBlockKeys(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tests := []struct {
		name  string
		build func(p *nn.Path) error
		want  []string
	}{
		{"vit layer", func(p *nn.Path) error {
			_, err := NewPreNormBlock(p.Sub("encoder").Sub("layer").Sub("3"), tinyBlock())
			return err
		}, []string{
			"encoder.layer.3.attention.attention.key.bias", "encoder.layer.3.attention.attention.key.weight",
			"encoder.layer.3.attention.attention.query.bias", "encoder.layer.3.attention.attention.query.weight",
			"encoder.layer.3.attention.attention.value.bias", "encoder.layer.3.attention.attention.value.weight",
			"encoder.layer.3.attention.output.dense.bias", "encoder.layer.3.attention.output.dense.weight",
			"encoder.layer.3.intermediate.dense.bias", "encoder.layer.3.intermediate.dense.weight",
			"encoder.layer.3.layernorm_after.bias", "encoder.layer.3.layernorm_after.weight",
			"encoder.layer.3.layernorm_before.bias", "encoder.layer.3.layernorm_before.weight",
			"encoder.layer.3.output.dense.bias", "encoder.layer.3.output.dense.weight",
		}},
		{"bert layer", func(p *nn.Path) error {
			_, err := NewPostNormBlock(p.Sub("layer").Sub("0"), tinyBlock())
			return err
		}, []string{
			"layer.0.attention.output.LayerNorm.bias", "layer.0.attention.output.LayerNorm.weight",
			"layer.0.attention.output.dense.bias", "layer.0.attention.output.dense.weight",
			"layer.0.attention.self.key.bias", "layer.0.attention.self.key.weight",
			"layer.0.attention.self.query.bias", "layer.0.attention.self.query.weight",
			"layer.0.attention.self.value.bias", "layer.0.attention.self.value.weight",
			"layer.0.intermediate.dense.bias", "layer.0.intermediate.dense.weight",
			"layer.0.output.LayerNorm.bias", "layer.0.output.LayerNorm.weight",
			"layer.0.output.dense.bias", "layer.0.output.dense.weight",
		}},
		{"vit embeddings", func(p *nn.Path) error {
			_, err := NewViTEmbeddings(p.Sub("embeddings"), 3, 16, 8, 8, 0)
			return err
		}, []string{
			"embeddings.cls_token", "embeddings.patch_embeddings.projection.bias",
			"embeddings.patch_embeddings.projection.weight", "embeddings.position_embeddings",
		}},
		{"bert embeddings", func(p *nn.Path) error {
			_, err := NewBertEmbeddings(p.Sub("embeddings"), BertEmbeddingsConfig{VocabSize: 10, Hidden: 8, MaxPositions: 6, TypeVocabSize: 2, Eps: 1e-12})
			return err
		}, []string{
			"embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight", "embeddings.position_embeddings.weight",
			"embeddings.token_type_embeddings.weight", "embeddings.word_embeddings.weight",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := nn.NewVarStore(gotch.CPU)
			if err := tc.build(vs.Root()); err != nil {
				t.Fatal(err)
			}
			if got := keys(vs); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("keys:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestInitStatistics(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	l, err := NewLinear(vs.Root().Sub("dense"), 256, 512, true)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEmbedding(vs.Root().Sub("word_embeddings"), 100, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := NewLayerNorm(vs.Root().Sub("LayerNorm"), 16, 1e-12)
	if err != nil {
		t.Fatal(err)
	}
	w := l.Weight.Float64Values()
	var sum, sq, maxAbs float64
	for _, v := range w {
		sum += v
		sq += v * v
		maxAbs = math.Max(maxAbs, math.Abs(v))
	}
	mean := sum / float64(len(w))
	std := math.Sqrt(sq/float64(len(w)) - mean*mean)
	// A normal truncated at ±2σ has std 0.8796σ.
	if math.Abs(mean) > 1e-3 || math.Abs(std-0.8796*InitStd) > 1e-3 || maxAbs > 2*InitStd+1e-7 {
		t.Errorf("linear weight: mean %g std %g max |w| %g; want 0, %g, <= %g", mean, std, maxAbs, 0.8796*InitStd, 2*InitStd)
	}
	for i, v := range l.Bias.Float64Values() {
		if v != 0 {
			t.Fatalf("bias[%d] = %g, want 0", i, v)
		}
	}
	for i, v := range e.Weight.Float64Values()[:16] {
		if v != 0 {
			t.Fatalf("pad row [%d] = %g, want 0", i, v)
		}
	}
	for i, v := range ln.Weight.Float64Values() {
		if v != 1 {
			t.Fatalf("layernorm weight[%d] = %g, want 1", i, v)
		}
	}
}

func TestAdditiveMask(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := ts.MustOfSlice([]int64{1, 1, 0, 1, 0, 0}).MustView([]int64{2, 3}, true)
	defer m.MustDrop()
	a, err := AdditiveMask(m, gotch.Float)
	if err != nil {
		t.Fatal(err)
	}
	defer a.MustDrop()
	if s := a.MustSize(); len(s) != 4 || s[0] != 2 || s[3] != 3 {
		t.Fatalf("size %v, want [2 1 1 3]", s)
	}
	low := -float64(math.MaxFloat32)
	want := []float64{0, 0, low, 0, low, low}
	for i, v := range a.Float64Values() {
		if v != want[i] {
			t.Errorf("mask[%d] = %g, want %g", i, v, want[i])
		}
	}
}

// TestBackwardAndDropout checks that gradients reach every parameter through
// the in-place residual additions, and that dropout only acts in training.
func TestBackwardAndDropout(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, post := range []bool{false, true} {
		vs := nn.NewVarStore(gotch.CPU)
		c := tinyBlock()
		c.HiddenDropout, c.AttentionDropout = 0.5, 0.5
		var (
			enc *Encoder
			err error
		)
		if post {
			enc, err = NewPostNormEncoder(vs.Root(), 2, c)
		} else {
			enc, err = NewPreNormEncoder(vs.Root(), 2, c)
		}
		if err != nil {
			t.Fatal(err)
		}
		x := ts.MustRandn([]int64{2, 5, 8}, gotch.Float, gotch.CPU)
		mask := ts.MustOfSlice([]int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}).MustView([]int64{2, 5}, true)
		add, err := AdditiveMask(mask, gotch.Float)
		if err != nil {
			t.Fatal(err)
		}
		eval1, err := enc.Forward(x, add, Pass{})
		if err != nil {
			t.Fatal(err)
		}
		eval2, _ := enc.Forward(x, add, Pass{})
		train, _ := enc.Forward(x, add, Pass{Train: true})
		if d := eval1.MustSub(eval2, false).MustAbs(true).MustMax(true).Float64Values()[0]; d != 0 {
			t.Errorf("post=%v: eval forward not deterministic (diff %g)", post, d)
		}
		if d := eval1.MustSub(train, false).MustAbs(true).MustMax(true).Float64Values()[0]; d == 0 {
			t.Errorf("post=%v: train forward equals eval forward: dropout inactive", post)
		}
		loss := train.MustSum(gotch.Float, false)
		loss.MustBackward()
		for name, v := range vs.Variables() {
			g := v.MustGrad(false)
			if !g.MustDefined() {
				t.Errorf("post=%v: %s has no gradient", post, name)
			}
			g.MustDrop()
		}
		for _, x := range []*ts.Tensor{x, mask, add, eval1, eval2, train, loss} {
			x.MustDrop()
		}
		// Variables() returns copies: without this the store (and with it the
		// parameters, via finalizers) may be collected while they are read.
		runtime.KeepAlive(vs)
	}
}

func TestInterpolatePositionsIdentity(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pos := ts.MustRandn([]int64{1, 17, 4}, gotch.Float, gotch.CPU)
	defer pos.MustDrop()
	same, err := InterpolatePositions(pos, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer same.MustDrop()
	if d := pos.MustSub(same, false).MustAbs(true).MustMax(true).Float64Values()[0]; d != 0 {
		t.Errorf("same grid changed positions by %g", d)
	}
	big, err := InterpolatePositions(pos, 6, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer big.MustDrop()
	if s := big.MustSize(); s[1] != 31 || s[2] != 4 {
		t.Errorf("size %v, want [1 31 4]", s)
	}
	if _, err := InterpolatePositions(ts.MustZeros([]int64{1, 16, 4}, gotch.Float, gotch.CPU), 5, 5); err == nil {
		t.Error("non-square grid accepted")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*BlockConfig)
		ok     bool
	}{
		{"ok", func(*BlockConfig) {}, true},
		{"heads", func(c *BlockConfig) { c.Heads = 3 }, false},
		{"act", func(c *BlockConfig) { c.Act = "gelu_fast" }, false},
		{"eps", func(c *BlockConfig) { c.Eps = 0 }, false},
		{"dropout", func(c *BlockConfig) { c.HiddenDropout = 1 }, false},
	}
	for _, tc := range tests {
		c := tinyBlock()
		tc.mutate(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
