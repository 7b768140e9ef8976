package compare

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/runfolder"
)

func TestStat(t *testing.T) {
	cases := []struct {
		vals      []float64
		mean, std float64
		n         int
		format    string
	}{
		{[]float64{0.8, 0.9, 1.0}, 0.9, 0.1, 3, "90.0 ± 10.0"},
		{[]float64{0.5}, 0.5, 0, 1, "50.0 ± 0.0"},
		{[]float64{0.5, math.NaN(), 0.7}, 0.6, math.Sqrt(0.02), 2, "60.0 ± 14.1"},
		{nil, math.NaN(), math.NaN(), 0, "—"},
	}
	for _, c := range cases {
		s := NewStat(c.vals)
		if s.N != c.n || (c.n > 0 && (math.Abs(s.Mean-c.mean) > 1e-12 || math.Abs(s.Std-c.std) > 1e-12)) {
			t.Errorf("NewStat(%v) = %+v, want mean %g std %g n %d", c.vals, s, c.mean, c.std, c.n)
		}
		if got := s.Format(100, 1); got != c.format {
			t.Errorf("Format(%v) = %q, want %q", c.vals, got, c.format)
		}
	}
}

func TestSlugAndParams(t *testing.T) {
	for in, want := range map[string]string{
		"ResNet-18": "resnet-18", "− ViT − GAN": "no-vit-no-gan", "VBG (full)": "vbg-full",
		"Swin-T (SWIM-ViT)": "swin-t-swim-vit", "!!!": "model",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	for n, want := range map[int64]string{11_689_512: "11.7M", 35_100: "35.1k", 57: "57", 0: "—"} {
		if got := FormatParams(n); got != want {
			t.Errorf("FormatParams(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeSummary is a summary with the given test accuracy (other metrics
// derived from it) and training time.
func fakeSummary(acc, secs float64, params int64) *runfolder.Summary {
	auc := acc + 0.05
	return &runfolder.Summary{Parameters: params, TrainSeconds: secs,
		Test: &metrics.Report{Accuracy: acc, MAP: acc - 0.1, MacroF1: acc - 0.02, MacroRecall: acc - 0.01, MacroAUC: &auc}}
}

// TestMarkdownFixed renders the table of fixed outcomes.
func TestMarkdownFixed(t *testing.T) {
	s := &Spec{Models: []Entry{{Name: "VBG"}, {Name: "ResNet-18", Note: "from scratch"}, {Name: "Skipped", Skip: true}}}
	plan := func(e int, seed int64, arch string) *Plan {
		p := &Plan{Entry: e, Seed: seed, SameAs: -1}
		p.Config = testConfig(arch)
		return p
	}
	outcomes := []*Outcome{
		{Plan: plan(0, 1, "vbg"), Status: Done, Summary: fakeSummary(0.90, 100, 1_500_000)},
		{Plan: plan(0, 2, "vbg"), Status: Done, Summary: fakeSummary(0.80, 120, 1_500_000)},
		{Plan: plan(1, 1, "resnet18"), Status: Done, Summary: fakeSummary(0.50, 30, 11_200_000)},
		{Plan: plan(1, 2, "resnet18"), Status: Failed, Err: "boom\nstack"},
	}
	rows := Rows(s, outcomes)
	md := Markdown("Table", "a note", rows)
	for _, want := range []string{
		"| VBG | vbg | 1, 2 | 85.0 ± 7.1 | 0.750 ± 0.071 | 83.0 ± 7.1 | 84.0 ± 7.1 | 0.900 ± 0.071 | 110 ± 14 | 1.5M |",
		"| ResNet-18 | resnet18 | 1 | 50.0 ± 0.0 | 0.400 ± 0.000 | 48.0 ± 0.0 | 49.0 ± 0.0 | 0.550 ± 0.000 | 30 ± 0 | 11.2M |",
		"| Skipped |  |  | — | — | — | — | — | — | — |",
		"- **ResNet-18**: from scratch",
		"- **ResNet-18**: seed 2 failed: boom",
		"a note",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := CSV(path, rows); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "VBG,vbg,2,0.850000,0.070711,") || !strings.HasSuffix(lines[1], ",1500000") {
		t.Errorf("csv:\n%s", b)
	}
}

// TestRunResumes runs a spec with a fake Exec that writes summaries, then
// runs it again: nothing is rerun; a changed config is refused; identical
// configs share a folder.
func TestRunResumes(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.yaml")
	os.WriteFile(base, []byte("name: base\ndata:\n  source: synthetic\nmodel:\n  text:\n    tokenizer: words\n"), 0o644)
	spec := filepath.Join(dir, "cmp.yaml")
	os.WriteFile(spec, []byte(`base: base.yaml
set: [train.epochs=1]
seeds: [1, 2]
out: `+filepath.Join(dir, "out")+`
models:
  - name: A
    set: [model.arch=vbg]
  - name: B
    set: [model.arch=textcnn]
  - name: A again
    set: [model.arch=vbg]
`), 0o644)
	s, err := LoadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	exec := func(d string, resume bool) error {
		calls++
		sum := fakeSummary(0.5+0.1*float64(calls), 1, 10)
		b, _ := json.Marshal(sum)
		return os.WriteFile(filepath.Join(d, runfolder.SummaryFile), b, 0o644)
	}
	res, err := Run(s, "compare", Options{Exec: exec, Log: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Errorf("%d runs, want 4 (A again shares A's folder)", calls)
	}
	if res.Outcomes[2].Dir != res.Outcomes[0].Dir || res.Outcomes[2].Status != Done {
		t.Errorf("A again: %+v", res.Outcomes[2])
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "compare.md")); err != nil {
		t.Error(err)
	}
	// Resume: everything is finished.
	if _, err := Run(s, "compare", Options{Exec: exec, Log: &strings.Builder{}}); err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Errorf("rerun ran %d more", calls-4)
	}
	// A changed config for the same folders is refused.
	if _, err := Run(s, "compare", Options{Exec: exec, Sets: []string{"train.lr=0.5"}, Log: &strings.Builder{}}); err == nil || !strings.Contains(err.Error(), "another config") {
		t.Errorf("changed config: err = %v", err)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown": "base: x.yaml\nout: o\nseeds: [1]\nmodels: [{name: a}]\nbogus: 1\n",
		"empty":   "base: x.yaml\n",
		"dup":     "base: x.yaml\nout: o\nseeds: [1]\nmodels: [{name: a}, {name: A}]\n",
	} {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadSpec(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	p := filepath.Join(dir, "exp.yaml")
	os.WriteFile(p, []byte("name: x\n"), 0o644)
	if is, err := IsSpec(p); err != nil || is {
		t.Errorf("IsSpec(experiment) = %v, %v", is, err)
	}
}

// TestExperimentComparisons loads experiments/compare.yaml and ablate.yaml
// and resolves every run's config. The ablation's base has the GAN on, so
// its "− GAN" rows are runs of their own: no plan shares another's run.
func TestExperimentComparisons(t *testing.T) {
	for name, want := range map[string]int{"compare": 11 * 3, "ablate": 7 * 3} {
		s, err := LoadSpec("../experiments/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		plans, err := s.Plans(nil, nil, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if len(plans) != want {
			t.Errorf("%s: %d plans, want %d", name, len(plans), want)
		}
		if name == "ablate" {
			shared := 0
			for _, p := range plans {
				if p.SameAs >= 0 {
					shared++
				}
			}
			if shared != 0 {
				t.Errorf("ablate: %d plans share a run, want 0 (the base has the GAN on)", shared)
			}
		}
	}
}
