package pretrained

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigAccessors(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"vit","architectures":["ViTForImageClassification"],
		"hidden_size":768,"layer_norm_eps":1e-12,"qkv_bias":true,"big":12345678901234,"frac":0.5,"name":7,
		"id2label":{"0":"painting","2":"armor","1":"sculpture"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelType() != "vit" || !reflect.DeepEqual(c.Architectures(), []string{"ViTForImageClassification"}) {
		t.Fatalf("type %q arch %v", c.ModelType(), c.Architectures())
	}
	for _, tc := range []struct {
		key     string
		want    int
		ok, err bool
	}{
		{"hidden_size", 768, true, false},
		{"big", 12345678901234, true, false},
		{"missing", 0, false, false},
		{"frac", 0, true, true},
		{"model_type", 0, true, true},
	} {
		v, ok, err := c.Int(tc.key)
		if v != tc.want || ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("Int(%q) = %d %v %v", tc.key, v, ok, err)
		}
	}
	if f, _ := c.FloatOr("layer_norm_eps", 1); f != 1e-12 {
		t.Errorf("eps %g", f)
	}
	if f, _ := c.FloatOr("absent", 0.25); f != 0.25 {
		t.Errorf("default %g", f)
	}
	if b, ok := c.Bool("qkv_bias"); !b || !ok {
		t.Error("qkv_bias")
	}
	if n, err := c.IntOr("absent", 3); n != 3 || err != nil {
		t.Errorf("IntOr %d %v", n, err)
	}
	if c.StringOr("name", "x") != "x" {
		t.Error("StringOr on a number")
	}
	labels, err := c.Labels()
	if err != nil || !reflect.DeepEqual(labels, []string{"painting", "sculpture", "armor"}) {
		t.Errorf("labels %v %v", labels, err)
	}
	var typed struct {
		HiddenSize int     `json:"hidden_size"`
		Eps        float64 `json:"layer_norm_eps"`
	}
	if err := c.Decode(&typed); err != nil || typed.HiddenSize != 768 || typed.Eps != 1e-12 {
		t.Errorf("decode %+v %v", typed, err)
	}
	for _, bad := range []string{`[1,2]`, `{"a":`, `null`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%s): want an error", bad)
		}
	}
	gappy, _ := ParseConfig([]byte(`{"id2label":{"0":"a","2":"b"}}`))
	if _, err := gappy.Labels(); err == nil {
		t.Error("id2label with a gap: want an error")
	}
}

func TestInspectFolder(t *testing.T) {
	dir := miniLMDir(t)
	f, err := InspectFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(f.Weights) != "model.safetensors" || filepath.Base(f.Tokenizer) != "tokenizer.json" || f.Config.ModelType() != "bert" {
		t.Fatalf("folder %+v", f)
	}
	if n, _, _ := f.Config.Int("num_hidden_layers"); n != 6 {
		t.Fatalf("layers %d", n)
	}
	empty := t.TempDir()
	f, err = InspectFolder(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.OpenWeights(); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("no weights: %v", err)
	}
	if _, err := f.LoadTokenizer(); err == nil {
		t.Error("no tokenizer: want an error")
	}
	os.WriteFile(filepath.Join(empty, "config.json"), []byte(`{"x":`), 0o644)
	if _, err := InspectFolder(empty); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("broken config: %v", err)
	}
	if _, err := InspectFolder(filepath.Join(empty, "config.json")); err == nil {
		t.Error("a file is not a folder")
	}
}
