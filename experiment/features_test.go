package experiment

import (
	"math"
	"os"
	"testing"

	"github.com/vbg-museum/vbg/config"
)

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i] * b[i])
		aa += float64(a[i] * a[i])
		bb += float64(b[i] * b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestTextEncoderFeatures embeds texts with the pretrained MiniLM: 384
// values each, and related texts closer than unrelated ones.
func TestTextEncoderFeatures(t *testing.T) {
	const model = "../.deps/models/all-MiniLM-L6-v2"
	if _, err := os.Stat(model); err != nil {
		t.Fatalf("%s is missing: run scripts/fetch-models.sh (scripts/test.sh does)", model)
	}
	cfg := config.Default()
	cfg.Model.Text.Pretrained, cfg.Threads = model, 2
	emb, err := TextEncoderFeatures(cfg, []string{"a red apple", "a ripe red apple, a fruit", "a steam locomotive"})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb) != 3 || len(emb[0]) != 384 {
		t.Fatalf("got %d rows of %d values, want 3 of 384", len(emb), len(emb[0]))
	}
	near, far := cosine(emb[0], emb[1]), cosine(emb[0], emb[2])
	t.Logf("cosine apple/apple-fruit %.3f, apple/locomotive %.3f", near, far)
	if !(near > far+0.1) {
		t.Errorf("related texts not closer: %.3f vs %.3f", near, far)
	}
	cfg.Model.Text.Pretrained = ""
	if _, err := TextEncoderFeatures(cfg, []string{"x"}); err == nil {
		t.Error("features without a pretrained text encoder were accepted")
	}
}
