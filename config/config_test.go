package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const good = `name: demo
data:
  source: synthetic
train:
  epochs: 3
  lr: 0.001
model:
  text:
    tokenizer: words
`

func TestLoadGood(t *testing.T) {
	p := write(t, t.TempDir(), "good.yaml", good)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Epochs != 3 || c.Train.LR != 0.001 || c.Name != "demo" {
		t.Errorf("values not read: %+v", c.Train)
	}
	if c.Train.BatchSize != Default().Train.BatchSize {
		t.Errorf("default batch size lost: %d", c.Train.BatchSize)
	}
	if c.Model.Head.Dropout != 0.5 || c.Model.Head.L2 != 0.001 {
		t.Errorf("paper defaults for the head lost: %+v", c.Model.Head)
	}
}

// TestBadInput checks that each kind of mistake is reported on one line
// naming the file, the line and the key.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		body string
		set  []string
		want []string // substrings of the error
	}{
		{"unknown key", "name: x\ndata:\n  source: synthetic\ntrain:\n  epoch: 3\nmodel:\n  text:\n    tokenizer: words\n",
			nil, []string{"bad.yaml:5: train.epoch: unknown key", `did you mean "epochs"`}},
		{"unknown top-level key", "nmae: x\ndata:\n  source: synthetic\n", nil, []string{"bad.yaml:1: nmae: unknown key"}},
		{"wrong type", "data:\n  source: synthetic\ntrain:\n  lr: fast\nmodel:\n  text:\n    tokenizer: words\n",
			nil, []string{"bad.yaml:4: train.lr: want a number", `"fast"`}},
		{"negative learning rate", "data:\n  source: synthetic\ntrain:\n  lr: -0.1\nmodel:\n  text:\n    tokenizer: words\n",
			nil, []string{"bad.yaml:4: train.lr: must be in (0, 10], got -0.1"}},
		{"bad enum", "data:\n  source: synthetic\nmodel:\n  fusion:\n    type: sum\n  text:\n    tokenizer: words\n",
			nil, []string{"bad.yaml:5: model.fusion.type:", "bidirectional"}},
		{"section not a mapping", "train: 3\n", nil, []string{"bad.yaml:1: train: want a mapping"}},
		{"missing data dir", "name: x\n", nil, []string{"data.dir: is required"}},
		{"bad override", good, []string{"train.lr=-1"}, []string{"--set: train.lr: must be in (0, 10]"}},
		{"unknown override key", good, []string{"train.learning_rate=0.1"}, []string{"--set: train.learning_rate: unknown key"}},
		{"override without =", good, []string{"train.lr"}, []string{"--set: train.lr: want key.path=value"}},
		{"yaml syntax", "train:\n  lr: [1,\n", nil, []string{"bad.yaml: ", "line"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, t.TempDir(), "bad.yaml", tc.body)
			_, err := Load(p, tc.set)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	p := write(t, t.TempDir(), "bad.yaml", "data:\n  source: synthetic\ntrain:\n  epochz: 1\n  batch_sise: 2\nmodel:\n  text:\n    tokenizer: words\n")
	_, err := Load(p, nil)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if ps[0].Line != 4 || ps[1].Line != 5 {
		t.Errorf("lines %d, %d; want 4, 5", ps[0].Line, ps[1].Line)
	}
}

func TestIncludesAndOverrides(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "base.yaml", "data:\n  source: synthetic\n  image_size: 32\ntrain:\n  epochs: 7\n  lr: 0.5\nmodel:\n  text:\n    tokenizer: words\n")
	p := write(t, dir, "child.yaml", "includes: [base.yaml]\ntrain:\n  lr: 0.01\n")
	c, err := Load(p, []string{"train.batch_size=4", "model.fusion.type=concat"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.ImageSize != 32 || c.Train.Epochs != 7 {
		t.Errorf("base values lost: %+v %+v", c.Data, c.Train)
	}
	if c.Train.LR != 0.01 {
		t.Errorf("child did not override base: lr=%g", c.Train.LR)
	}
	if c.Train.BatchSize != 4 || c.Model.Fusion.Type != "concat" {
		t.Errorf("--set not applied: %d %s", c.Train.BatchSize, c.Model.Fusion.Type)
	}
	// A problem in the base file is reported against the base file.
	write(t, dir, "base.yaml", "data:\n  source: synthetic\ntrain:\n  lr: 0.5\n  epochs: -1\n")
	_, err = Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "base.yaml:5: train.epochs: must be positive") {
		t.Errorf("err = %v", err)
	}
}

func TestIncludeCycle(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "includes: [b.yaml]\n")
	p := write(t, dir, "b.yaml", "includes: [a.yaml]\n")
	if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Fatalf("err = %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	p := write(t, t.TempDir(), "good.yaml", good)
	c, err := Load(p, []string{"train.epochs=5"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p2 := write(t, t.TempDir(), "resolved.yaml", string(out))
	c2, err := Load(p2, nil)
	if err != nil {
		t.Fatalf("resolved config does not load: %v\n%s", err, out)
	}
	c2.Source = c.Source
	if c2.Train != c.Train || c2.Model != c.Model {
		t.Errorf("round trip changed the config")
	}
}

func TestExperimentFilesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../experiments/*.yaml")
	for _, f := range files {
		if isComparison(t, f) {
			continue // vbg compare / ablate files (package compare), not experiments
		}
		if _, err := Load(f, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// isComparison reports a comparison file (a top-level models: list).
func isComparison(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	_ = yaml.Unmarshal(b, &top)
	_, ok := top["models"]
	return ok
}
