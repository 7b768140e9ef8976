package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGANDefaultsValid(t *testing.T) {
	g := defaultGAN()
	if ps := g.problems(); len(ps) != 0 {
		t.Fatalf("default gan section has problems: %v", ps)
	}
	if g.Enabled {
		t.Fatal("the GAN must be off by default")
	}
}

func TestGANProblems(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(g *GAN)
		wantKey string
	}{
		{"image size", func(g *GAN) { g.ImageSize = 48 }, "gan.image_size"},
		{"rounds", func(g *GAN) { g.Rounds = 0 }, "gan.rounds"},
		{"every", func(g *GAN) { g.Every = 0 }, "gan.every"},
		{"batch", func(g *GAN) { g.BatchSize = 1 }, "gan.batch_size"},
		{"lr", func(g *GAN) { g.LRG = 0 }, "gan.lr_g"},
		{"beta1", func(g *GAN) { g.Beta1 = 1 }, "gan.beta1"},
		{"min above max steps", func(g *GAN) { g.MinSteps = 5000 }, "gan.min_steps"},
		{"adversarial form", func(g *GAN) { g.Loss.Adversarial = "wasserstein" }, "gan.loss.adversarial"},
		{"negative weight", func(g *GAN) { g.Loss.StyleW = -1 }, "gan.loss.style_weight"},
		{"tolerance", func(g *GAN) { g.Stability.Tolerance = -0.1 }, "gan.stability.tolerance"},
		{"gap", func(g *GAN) { g.Stability.MaxGap = 2 }, "gan.stability.max_gap"},
		{"texture folder without dir", func(g *GAN) { g.Texture.Source = "folder" }, "gan.texture.dir"},
		{"patch too big", func(g *GAN) { g.Texture.PatchSize = 100 }, "gan.texture.patch_size"},
		{"text mode", func(g *GAN) { g.Text.Mode = "llm" }, "gan.text.mode"},
		{"empty given phrase", func(g *GAN) { g.Text.Attributes = map[string][]string{"Ru": {" "}} }, "gan.text.attributes.Ru"},
		{"specificity", func(g *GAN) { g.Text.MinSpecificity = 0.5 }, "gan.text.min_specificity"},
		{"count", func(g *GAN) { g.Generate.Count = 0 }, "gan.generate.count"},
		{"oversample", func(g *GAN) { g.Generate.Oversample = 0.5 }, "gan.generate.oversample"},
		{"confidence", func(g *GAN) { g.Filter.MinConfidence = 1.5 }, "gan.filter.min_confidence"},
		{"top k", func(g *GAN) { g.Filter.TopK = -1 }, "gan.filter.top_k"},
		{"ratio", func(g *GAN) { g.Mix.Ratio = -1 }, "gan.mix.ratio"},
		{"keep", func(g *GAN) { g.Mix.Keep = "best" }, "gan.mix.keep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := defaultGAN()
			tc.edit(&g)
			ps := g.problems()
			if len(ps) == 0 {
				t.Fatalf("no problem reported, want one at %s", tc.wantKey)
			}
			found := false
			for _, p := range ps {
				found = found || p.Key == tc.wantKey
			}
			if !found {
				t.Fatalf("problems %v, want one at %s", ps, tc.wantKey)
			}
		})
	}
}

// TestGANSectionLoads reads a gan: section from YAML, with an include and
// a given attribute table, and reports a bad key with its line.
func TestGANSectionLoads(t *testing.T) {
	dir := t.TempDir()
	base := "name: base\ndata:\n  source: synthetic\n  max_train_per_class: 20\nmodel:\n  text:\n    tokenizer: words\n"
	if err := os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	good := "includes: [base.yaml]\ngan:\n  enabled: true\n  image_size: 32\n  text:\n    attributes:\n      Ru kiln: [celadon, crackled glaze]\n"
	if err := os.WriteFile(filepath.Join(dir, "good.yaml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(filepath.Join(dir, "good.yaml"), []string{"gan.mix.ratio=2"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.GAN.Enabled || cfg.GAN.ImageSize != 32 || cfg.GAN.Mix.Ratio != 2 || cfg.Data.MaxTrainPerClass != 20 ||
		strings.Join(cfg.GAN.Text.Attributes["Ru kiln"], "|") != "celadon|crackled glaze" {
		t.Fatalf("loaded %+v / %+v", cfg.GAN, cfg.Data)
	}
	bad := "includes: [base.yaml]\ngan:\n  enabled: true\n  rounds: 0\n  filter:\n    min_realness: 3\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(filepath.Join(dir, "bad.yaml"), nil)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{"bad.yaml:4: gan.rounds", "bad.yaml:6: gan.filter.min_realness"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Load(filepath.Join(dir, "base.yaml"), []string{"data.max_train_per_class=-1"}); err == nil ||
		!strings.Contains(err.Error(), "data.max_train_per_class") {
		t.Errorf("negative max_train_per_class: %v", err)
	}
}
