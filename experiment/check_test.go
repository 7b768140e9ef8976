package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadChecksModel writes experiments with a model error that only the
// model packages can see and checks that Load reports it as
// FILE:LINE: KEY: problem.
func TestLoadChecksModel(t *testing.T) {
	dir := t.TempDir()
	base := "name: x\ndata:\n  source: synthetic\nmodel:\n  text:\n    tokenizer: words\n"
	tests := []struct {
		name string
		yaml string
		sets []string
		want string
	}{
		{"unknown arch", base, []string{"model.arch=resnet9"}, `--set: model.arch: unknown architecture "resnet9"`},
		{"unknown image preset", base + "  image:\n    preset: vit-huge\n", nil, `x.yaml:8: model.image.preset: unknown image preset "vit-huge"`},
		{"unknown text preset", base, []string{"model.text.preset=gpt"}, `--set: model.text.preset: unknown text preset "gpt"`},
		{"heads do not divide hidden", base + "  image:\n    preset: vit-tiny\n    hidden: 64\n    heads: 5\n", nil,
			"x.yaml:10: model.image.heads: vit config: hidden size 64 is not a multiple of the number of attention heads 5"},
		{"fusion heads", base + "  fusion:\n    dim: 100\n    heads: 8\n", nil, "x.yaml:9: model.fusion.heads: the fused size 100 is not a multiple of 8 heads"},
		{"bad template", base + "gan:\n  text:\n    templates: ['{1}', '{2} only']\n", nil, "x.yaml:9: gan.text.templates[1]: template \"{2} only\""},
		{"no single-slot template", base + "gan:\n  text:\n    templates: ['{1} and {2}']\n", nil, "x.yaml:9: gan.text.templates: needs one template with only {1}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, tc.sets)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := strings.ReplaceAll(err.Error(), path, "x.yaml")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q, want one containing %q", msg, tc.want)
			}
		})
	}
	path := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err != nil {
		t.Fatalf("a valid experiment: %v", err)
	}
}
