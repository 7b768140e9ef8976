package pretrained

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// shapeSource is a Source of names and shapes only (for plans).
type shapeSource map[string][]int64

func (s shapeSource) Names() []string                     { return sortedKeys(s) }
func (s shapeSource) Shape(n string) ([]int64, bool)      { v, ok := s[n]; return v, ok }
func (s shapeSource) Tensor(n string) (*ts.Tensor, error) { return nil, errors.New("shape only") }
func (s shapeSource) Close() error                        { return nil }

func zerosLike(t testing.TB, shapes map[string][]int64, dt gotch.DType) map[string]*ts.Tensor {
	t.Helper()
	out := map[string]*ts.Tensor{}
	for n, s := range shapes {
		x, err := ts.Zeros(s, dt, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = x
	}
	return out
}

// filled makes a tensor of the given shape whose values count up from start.
func filled(t testing.TB, start float64, shape ...int64) *ts.Tensor {
	t.Helper()
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	x, err := ts.Arange(ts.FloatScalar(float64(n)), gotch.Double, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	y, err := x.AddScalar(ts.FloatScalar(start), true)
	if err != nil {
		t.Fatal(err)
	}
	z, err := y.Reshape(shape, true)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestLoadIntoNameRules(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	type want struct {
		loaded, missing, unexpected []string
		mismatched                  []string
	}
	cases := []struct {
		name  string
		model map[string][]int64
		src   map[string][]int64
		opts  LoadOptions
		want  want
	}{
		{
			name:  "exact names",
			model: map[string][]int64{"embeddings.word_embeddings.weight": {4, 2}, "pooler.dense.bias": {2}},
			src:   map[string][]int64{"embeddings.word_embeddings.weight": {4, 2}, "pooler.dense.bias": {2}},
			want:  want{loaded: []string{"embeddings.word_embeddings.weight", "pooler.dense.bias"}},
		},
		{
			name:  "checkpoint with head, bare model",
			model: map[string][]int64{"encoder.layer.0.output.dense.weight": {2, 2}},
			src:   map[string][]int64{"bert.encoder.layer.0.output.dense.weight": {2, 2}, "cls.predictions.bias": {4}},
			want: want{loaded: []string{"encoder.layer.0.output.dense.weight"},
				unexpected: []string{"cls.predictions.bias"}},
		},
		{
			name:  "bare checkpoint, model with head",
			model: map[string][]int64{"bert.embeddings.LayerNorm.weight": {2}, "classifier.weight": {3, 2}},
			src:   map[string][]int64{"embeddings.LayerNorm.weight": {2}},
			want:  want{loaded: []string{"bert.embeddings.LayerNorm.weight"}, missing: []string{"classifier.weight"}},
		},
		{
			name:  "legacy gamma and beta",
			model: map[string][]int64{"embeddings.LayerNorm.weight": {2}, "embeddings.LayerNorm.bias": {2}},
			src:   map[string][]int64{"bert.embeddings.LayerNorm.gamma": {2}, "bert.embeddings.LayerNorm.beta": {2}},
			want:  want{loaded: []string{"embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight"}},
		},
		{
			name:  "a model parameter really called gamma",
			model: map[string][]int64{"scale.gamma": {2}},
			src:   map[string][]int64{"scale.gamma": {2}},
			want:  want{loaded: []string{"scale.gamma"}},
		},
		{
			name:  "shape mismatch and ignored position ids",
			model: map[string][]int64{"classifier.weight": {3, 2}, "classifier.bias": {3}},
			src:   map[string][]int64{"classifier.weight": {5, 2}, "classifier.bias": {3}, "embeddings.position_ids": {1, 512}},
			want:  want{loaded: []string{"classifier.bias"}, mismatched: []string{"classifier.weight"}},
		},
		{
			name:  "model prefix and rename",
			model: map[string][]int64{"text.embeddings.word_embeddings.weight": {4, 2}, "image.x": {1}},
			src:   map[string][]int64{"word_emb": {4, 2}},
			opts:  LoadOptions{ModelPrefix: "text.", Rename: map[string]string{"word_emb": "embeddings.word_embeddings.weight"}},
			want:  want{loaded: []string{"text.embeddings.word_embeddings.weight"}},
		},
		{
			name:  "ignore patterns",
			model: map[string][]int64{"a.weight": {1}, "head.weight": {1}},
			src:   map[string][]int64{"a.weight": {1}, "extra.weight": {1}},
			opts:  LoadOptions{IgnoreMissing: []string{`^head\.`}, IgnoreUnexpected: []string{`^extra\.`}},
			want:  want{loaded: []string{"a.weight"}},
		},
		{
			name:  "prefixes turned off",
			model: map[string][]int64{"a": {1}},
			src:   map[string][]int64{"bert.a": {1}},
			opts:  LoadOptions{BasePrefixes: []string{}},
			want:  want{missing: []string{"a"}, unexpected: []string{"bert.a"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := MapSource{}
			for i, n := range sortedKeys(c.src) {
				src[n] = filled(t, float64(100*i), c.src[n]...)
			}
			defer tensor.DropMap(src)
			dst := zerosLike(t, c.model, gotch.Float)
			defer tensor.DropMap(dst)
			rep, err := LoadInto(dst, src, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var mis []string
			for _, m := range rep.Mismatched {
				mis = append(mis, m.Name)
			}
			got := want{rep.Loaded, rep.Missing, rep.Unexpected, mis}
			if !reflect.DeepEqual(sortedCopy(got.loaded), sortedCopy(c.want.loaded)) || !reflect.DeepEqual(sortedCopy(got.missing), sortedCopy(c.want.missing)) ||
				!reflect.DeepEqual(sortedCopy(got.unexpected), sortedCopy(c.want.unexpected)) || !reflect.DeepEqual(sortedCopy(got.mismatched), sortedCopy(c.want.mismatched)) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			// Loaded variables hold the checkpoint's values (as float32).
			for _, n := range rep.Loaded {
				if v := f64s(t, dst[n]); len(v) > 0 && v[0] == 0 && len(v) > 1 && v[1] == 0 {
					t.Errorf("%s was not copied: %v", n, v)
				}
			}
			_, err = LoadInto(dst, src, LoadOptions{Strict: true, ModelPrefix: c.opts.ModelPrefix, Rename: c.opts.Rename,
				IgnoreMissing: c.opts.IgnoreMissing, IgnoreUnexpected: c.opts.IgnoreUnexpected, BasePrefixes: c.opts.BasePrefixes})
			if clean := rep.Clean(); clean != (err == nil) || (!clean && !IsLoadError(err)) {
				t.Fatalf("strict: clean %v, err %v", clean, err)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func TestLoadIntoConvertsAndReports(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	src := MapSource{"w": filled(t, 1, 2, 3), "dup.gamma": filled(t, 0, 2), "dup.weight": filled(t, 0, 2)}
	defer tensor.DropMap(src)
	dst := zerosLike(t, map[string][]int64{"w": {2, 3}}, gotch.Half)
	defer tensor.DropMap(dst)
	rep, err := LoadInto(dst, MapSource{"w": src["w"]}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f64s(t, dst["w"]); !reflect.DeepEqual(got, []float64{1, 2, 3, 4, 5, 6}) || dst["w"].DType() != gotch.Half {
		t.Fatalf("w = %v (%v)", got, dst["w"].DType())
	}
	if !strings.Contains(rep.String(), "loaded 1 tensors") {
		t.Fatalf("report %q", rep)
	}
	// Two checkpoint tensors mapping to one name is an error.
	d2 := zerosLike(t, map[string][]int64{"dup.x": {2}}, gotch.Float)
	defer tensor.DropMap(d2)
	if _, err := LoadInto(d2, MapSource{"dup.gamma": src["dup.gamma"], "dup.weight": src["dup.weight"]}, LoadOptions{}); err == nil {
		t.Fatal("two sources for one name: want an error")
	}
	if _, err := LoadInto(d2, src, LoadOptions{IgnoreMissing: []string{"("}}); err == nil {
		t.Fatal("bad pattern: want an error")
	}
}

func TestLoadIntoVarStore(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	root := vs.Root()
	w, err := root.Sub("dense").Zeros("weight", []int64{2, 2})
	if err != nil {
		t.Fatal(err)
	}
	src := MapSource{"dense.weight": filled(t, 1, 2, 2), "other": filled(t, 0, 1)}
	defer tensor.DropMap(src)
	rep, err := LoadIntoVarStore(vs, src, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Loaded, []string{"dense.weight"}) || !reflect.DeepEqual(rep.Unexpected, []string{"other"}) {
		t.Fatalf("report %+v", rep)
	}
	if got := f64s(t, w); !reflect.DeepEqual(got, []float64{1, 2, 3, 4}) {
		t.Fatalf("weight = %v", got)
	}
	if rg, _ := w.RequiresGrad(); !rg {
		t.Fatal("the variable lost requires_grad")
	}
}

type vitFixture struct {
	Tiny struct {
		Config            map[string]any     `json:"config"`
		TimmLogits        [][]float64        `json:"timm_logits"`
		TorchvisionLogits [][]float64        `json:"torchvision_logits"`
		HFNames           map[string][]int64 `json:"hf_names"`
	} `json:"tiny"`
	Names map[string]map[string][]int64 `json:"names"`
}

func loadViTFixture(t *testing.T) *vitFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/vit_layouts.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vitFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// TestViTLayoutNames plans loading the full-size timm vit_base_patch16_224
// and torchvision vit_b_16 state dicts (names and shapes recorded from the
// real libraries) into transformers' ViTForImageClassification and its bare
// ViTModel: every tensor must find its place.
func TestViTLayoutNames(t *testing.T) {
	f := loadViTFixture(t)
	hf := f.Names["hf_vit_for_image_classification"]
	bare := map[string][]int64{}
	for n, s := range hf {
		if strings.HasPrefix(n, "vit.") {
			bare[strings.TrimPrefix(n, "vit.")] = s
		}
	}
	for _, c := range []struct {
		src    string
		layout Layout
	}{{"timm_vit_base_patch16_224", LayoutTimmViT}, {"torchvision_vit_b_16", LayoutTorchvisionViT}} {
		src := shapeSource(f.Names[c.src])
		if got := DetectLayout(src.Names()); got != c.layout {
			t.Fatalf("%s detected as %q", c.src, got)
		}
		rep, steps, err := PlanLoad(hf, src, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Clean() || len(rep.Loaded) != len(hf) {
			t.Errorf("%s into ViTForImageClassification: %s", c.src, rep)
		}
		splits := 0
		for _, s := range steps {
			if s.Parts == 3 {
				splits++
			}
		}
		if splits != 12*2*3 {
			t.Errorf("%s: %d split steps, want 72", c.src, splits)
		}
		rep, _, err = PlanLoad(bare, src, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The bare encoder has no classifier: the head is unexpected.
		if len(rep.Missing) != 0 || len(rep.Unexpected) != 2 || len(rep.Mismatched) != 0 || len(rep.Loaded) != len(bare) {
			t.Errorf("%s into ViTModel: %s", c.src, rep)
		}
	}
}

// TestViTLayoutsReproduceLogits loads tiny timm (pytorch_model.bin) and
// torchvision (safetensors) ViTs into tensors named like transformers'
// ViTForImageClassification, saves them, and checks that transformers
// reproduces the original libraries' logits.
func TestViTLayoutsReproduceLogits(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f := loadViTFixture(t)
	fixture, _ := filepath.Abs("testdata/vit_layouts.json")
	for _, c := range []struct {
		file   string
		layout Layout
		want   [][]float64
	}{
		{"testdata/vit_timm_tiny.bin", LayoutTimmViT, f.Tiny.TimmLogits},
		{"testdata/vit_torchvision_tiny.safetensors", LayoutTorchvisionViT, f.Tiny.TorchvisionLogits},
	} {
		t.Run(string(c.layout), func(t *testing.T) {
			src, err := OpenWeights(c.file)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			dst := zerosLike(t, f.Tiny.HFNames, gotch.Float)
			defer tensor.DropMap(dst)
			rep, err := LoadInto(dst, src, LoadOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layout != c.layout {
				t.Fatalf("layout %q", rep.Layout)
			}
			out := filepath.Join(t.TempDir(), "model.safetensors")
			if err := WriteSafetensors(out, dst, nil); err != nil {
				t.Fatal(err)
			}
			var got [][]float64
			if err := json.Unmarshal(runPython(t, "hf-vit-logits.py", out, fixture), &got); err != nil {
				t.Fatal(err)
			}
			maxErr := 0.0
			for i := range c.want {
				for j := range c.want[i] {
					maxErr = math.Max(maxErr, math.Abs(got[i][j]-c.want[i][j]))
				}
			}
			t.Logf("%s: max |logit difference| vs the original library = %.2g", c.layout, maxErr)
			if maxErr > 1e-4 {
				t.Fatalf("logits %v, want %v", got, c.want)
			}
		})
	}
}
