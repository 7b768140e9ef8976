package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbg-museum/vbg/metrics"
)

func TestEpochJSON(t *testing.T) {
	tests := []struct {
		name string
		in   Epoch
		want string
	}{
		{"finite", Epoch{Epoch: 3, TrainLoss: 0.5, ValLoss: 0.75, ValAccuracy: 0.8, LR: 1e-4, Seconds: 12.5},
			`{"epoch":3,"train_loss":0.5,"val_loss":0.75,"val_accuracy":0.8,"lr":0.0001,"seconds":12.5}`},
		{"non-finite", Epoch{Epoch: 1, TrainLoss: math.Inf(1), ValLoss: math.NaN(), ValAccuracy: math.Inf(-1),
			Metrics: map[string]float64{"macro_f1": 0.25, "map": math.NaN()}},
			`{"epoch":1,"train_loss":"+Inf","val_loss":"NaN","val_accuracy":"-Inf","lr":0,"seconds":0,` +
				`"metrics":{"macro_f1":0.25,"map":"NaN"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s", b, tc.want)
			}
			var back Epoch
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !sameEpoch(back, tc.in) {
				t.Errorf("round trip: got %+v, want %+v", back, tc.in)
			}
		})
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func sameEpoch(a, b Epoch) bool {
	if a.Epoch != b.Epoch || !sameFloat(a.TrainLoss, b.TrainLoss) || !sameFloat(a.ValLoss, b.ValLoss) ||
		!sameFloat(a.ValAccuracy, b.ValAccuracy) || !sameFloat(a.LR, b.LR) || !sameFloat(a.Seconds, b.Seconds) ||
		len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for k, v := range a.Metrics {
		if w, ok := b.Metrics[k]; !ok || !sameFloat(v, w) {
			return false
		}
	}
	return true
}

func TestMetricsJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	want := sampleEpochs(4)
	for _, e := range want[:3] {
		if err := AppendMetricsJSONL(path, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadMetricsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !sameEpoch(got[2], want[2]) {
		t.Fatalf("read %d epochs: %+v", len(got), got)
	}

	// An interrupted append leaves half a line: reading ignores it, the next
	// append replaces it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"epoch":4,"train_lo`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, err := ReadMetricsJSONL(path); err != nil || len(got) != 3 {
		t.Fatalf("with a torn last line: %d epochs, %v", len(got), err)
	}
	if err := AppendMetricsJSONL(path, want[3]); err != nil {
		t.Fatal(err)
	}
	got, err = ReadMetricsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("after repair: %d epochs, want 4", len(got))
	}
	for i := range got {
		if !sameEpoch(got[i], want[i]) {
			t.Errorf("epoch %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadMetricsJSONLErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"bad middle line", "{\"epoch\":1}\nnot json\n{\"epoch\":3}\n", "line 2"},
		{"bad number", "{\"epoch\":1,\"val_loss\":\"high\"}\n", "line 1"},
		{"missing file", "", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadMetricsJSONL(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// sampleEpochs makes a plausible training history: training loss falls
// steadily, validation loss falls more slowly and fluctuates (Fig. 5).
func sampleEpochs(n int) []Epoch {
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([]Epoch, n)
	for i := range out {
		e := float64(i + 1)
		train := 1.9*math.Exp(-e/4) + 0.15 + 0.02*rng.NormFloat64()
		val := 1.7*math.Exp(-e/6) + 0.35 + 0.06*rng.NormFloat64()
		acc := 0.93 - 0.6*math.Exp(-e/4) + 0.015*rng.NormFloat64()
		out[i] = Epoch{
			Epoch: i + 1, TrainLoss: train, ValLoss: val, ValAccuracy: acc,
			LR: 1e-4 * math.Pow(0.9, e), Seconds: 60 + rng.Float64()*5,
			Metrics: map[string]float64{"train_accuracy": math.Min(0.995, acc+0.03*e/4)},
		}
	}
	return out
}

var metClasses = []string{"Painting", "Sculpture", "Crafts", "Animals", "Buildings", "Other"}

// classNames makes k names, some long, as in the MET and COCO label sets.
func classNames(k int) []string {
	long := []string{"East Asian lacquerware", "Ancient Egyptian amulets", "Arms and Armor",
		"Musical Instruments", "Drawings and Prints", "Costume Institute"}
	names := make([]string, k)
	for i := range names {
		if i < len(long) && k > len(metClasses) {
			names[i] = long[i]
		} else if k <= len(metClasses) {
			names[i] = metClasses[i]
		} else {
			names[i] = fmt.Sprintf("category %d", i)
		}
	}
	return names
}

// sampleReport evaluates synthetic predictions over k classes with
// imbalanced supports and a confusable pair of classes.
func sampleReport(t testing.TB, k, n int) *metrics.Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(k), uint64(n)))
	y := make([]int, n)
	probs := make([][]float64, n)
	for i := range y {
		y[i] = int(float64(k) * math.Pow(rng.Float64(), 1.6))
		row := make([]float64, k)
		sum := 0.0
		for c := range row {
			l := rng.NormFloat64()
			if c == y[i] {
				l += 2.8
			}
			if y[i] == 2 && c == k-1 { // "Crafts" often taken for "Other"
				l += 2.2
			}
			row[c] = math.Exp(l)
			sum += row[c]
		}
		for c := range row {
			row[c] /= sum
		}
		probs[i] = row
	}
	r, err := metrics.Compute(y, probs, metrics.Options{ClassNames: classNames(k)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkPNG decodes the file at path and checks its size.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s is %d×%d, want %d×%d", filepath.Base(path), b.Dx(), b.Dy(), w, h)
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	cw, ch := CurvePixels()
	withGap := sampleEpochs(12)
	withGap[4].ValLoss = math.NaN() // a skipped validation
	tests := []struct {
		name  string
		plot  func(path string) error
		w, h  int
		names []string
	}{
		{"loss", func(p string) error { return PlotLoss(p, sampleEpochs(25)) }, cw, ch, nil},
		{"loss with NaN", func(p string) error { return PlotLoss(p, withGap) }, cw, ch, nil},
		{"loss one epoch", func(p string) error { return PlotLoss(p, sampleEpochs(1)) }, cw, ch, nil},
		{"accuracy", func(p string) error { return PlotAccuracy(p, sampleEpochs(25)) }, cw, ch, nil},
		{"confusion 6", func(p string) error {
			return PlotConfusion(p, sampleReport(t, 6, 600).Confusion, metClasses, ConfusionOptions{})
		}, 0, 0, metClasses},
		{"confusion 6 normalised", func(p string) error {
			return PlotConfusion(p, sampleReport(t, 6, 600).Confusion, metClasses, ConfusionOptions{Normalize: true})
		}, 0, 0, metClasses},
		{"confusion 20", func(p string) error {
			return PlotConfusion(p, sampleReport(t, 20, 3000).Confusion, classNames(20), ConfusionOptions{})
		}, 0, 0, classNames(20)},
		{"confusion 80", func(p string) error {
			return PlotConfusion(p, sampleReport(t, 80, 8000).Confusion, classNames(80), ConfusionOptions{Normalize: true})
		}, 0, 0, classNames(80)},
		{"confusion 300", func(p string) error {
			return PlotConfusion(p, sampleReport(t, 300, 6000).Confusion, classNames(300), ConfusionOptions{})
		}, 0, 0, classNames(300)},
		{"confusion all zero", func(p string) error {
			return PlotConfusion(p, [][]int{{0, 0}, {0, 0}}, nil, ConfusionOptions{})
		}, 0, 0, []string{"0", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
			if err := tc.plot(path); err != nil {
				t.Fatal(err)
			}
			w, h := tc.w, tc.h
			if tc.names != nil {
				w, h = ConfusionPixels(tc.names)
			}
			checkPNG(t, path, w, h)
		})
	}
}

func TestPlotErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.png")
	nanOnly := []Epoch{{Epoch: 1, TrainLoss: math.NaN(), ValLoss: math.NaN(), ValAccuracy: math.NaN()}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no epochs", PlotLoss(path, nil), "no finite values"},
		{"only NaN", PlotAccuracy(path, nanOnly), "no finite values"},
		{"empty matrix", PlotConfusion(path, nil, nil, ConfusionOptions{}), "empty matrix"},
		{"ragged", PlotConfusion(path, [][]int{{1, 2}, {3}}, nil, ConfusionOptions{}), "row 1 has 1 cells"},
		{"names", PlotConfusion(path, [][]int{{1}}, []string{"a", "b"}, ConfusionOptions{}), "2 class names for 1"},
		{"bad folder", PlotLoss(filepath.Join(dir, "missing", "x.png"), sampleEpochs(3)), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
	if err := PlotLoss(path, nil); !errors.Is(err, ErrNothingToPlot) {
		t.Errorf("PlotLoss(nil) = %v, want ErrNothingToPlot", err)
	}
}

func TestWriteRun(t *testing.T) {
	tests := []struct {
		name      string
		run       Run
		files     []string
		absent    []string
		mdContain []string
	}{
		{
			name: "full",
			run: Run{
				Title:   "MET, seed 1",
				Config:  "model:\n  fusion: cross_attention\ntrain:\n  epochs: 20\n# a ``` inside\n",
				Epochs:  sampleEpochs(20),
				Split:   "test",
				Metrics: sampleReport(t, 6, 600),
			},
			files: []string{ReportFile, LossPlotFile, AccuracyPlotFile, ConfusionPlotFile, ConfusionNormalizedFile},
			mdContain: []string{
				"# MET, seed 1\n", "## Configuration\n\n````yaml\nmodel:\n", "\n````\n",
				"## Training\n", "| Epochs | 20 |", "![Training and validation loss per epoch](loss.png)",
				"![Accuracy per epoch](accuracy.png)", "## Metrics (test)", "| Macro F1 |",
				"## Per-class metrics (test)", "| Painting |", "![Confusion matrix, counts](confusion.png)",
				"(confusion_normalized.png)",
			},
		},
		{
			name:      "metrics only",
			run:       Run{Metrics: sampleReport(t, 3, 50)},
			files:     []string{ReportFile, ConfusionPlotFile, ConfusionNormalizedFile},
			absent:    []string{LossPlotFile, AccuracyPlotFile},
			mdContain: []string{"# VBG run report\n", "## Metrics (evaluation)", "| Crafts |"},
		},
		{
			name:      "epochs only",
			run:       Run{Epochs: sampleEpochs(3), Config: "a: 1"},
			files:     []string{ReportFile, LossPlotFile, AccuracyPlotFile},
			absent:    []string{ConfusionPlotFile},
			mdContain: []string{"```yaml\na: 1\n```", "| Epochs | 3 |"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := WriteRun(dir, tc.run); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			for _, f := range tc.absent {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s should not be written", f)
				}
			}
			md, err := os.ReadFile(filepath.Join(dir, ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.mdContain {
				if !strings.Contains(string(md), want) {
					t.Errorf("report.md lacks %q:\n%s", want, md)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temporary file left behind: %s", e.Name())
				}
			}
		})
	}
}

// TestSampleReport renders a full sample run for a person to look at when
// VBG_REPORT_SAMPLE is set to a folder:
//
//	VBG_REPORT_SAMPLE=/tmp/report-sample go test -run SampleReport ./report
func TestSampleReport(t *testing.T) {
	dir := os.Getenv("VBG_REPORT_SAMPLE")
	if dir == "" {
		t.Skip("set VBG_REPORT_SAMPLE to a folder to render a sample report")
	}
	err := WriteRun(dir, Run{
		Title:   "Sample run (synthetic predictions)",
		Config:  "model: {vit: vit-base-patch16-224, bert: bert-base-uncased}\ntrain: {epochs: 25, lr: 1e-4}\n",
		Epochs:  sampleEpochs(25),
		Split:   "test",
		Metrics: sampleReport(t, 6, 600),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{20, 80} {
		r := sampleReport(t, k, 100*k)
		names := classNames(k)
		if err := PlotConfusion(filepath.Join(dir, fmt.Sprintf("confusion_%d.png", k)), r.Confusion, names,
			ConfusionOptions{Normalize: k > 20}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		name   string
		ticks  niceTicks
		lo, hi float64
		want   []string
	}{
		{"epochs", niceTicks{max: 12, integer: true}, 0.5, 25.5, []string{"5", "10", "15", "20", "25"}},
		{"few epochs", niceTicks{max: 12, integer: true}, 0.5, 3.5, []string{"1", "2", "3"}},
		{"loss", niceTicks{max: 8}, 0.1, 2.3, []string{"0.5", "1.0", "1.5", "2.0"}},
		{"accuracy", niceTicks{max: 8}, 0.3, 1, []string{"0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"}},
		{"counts", niceTicks{max: 6, integer: true}, 0, 3, []string{"0", "1", "2", "3"}},
		{"empty range", niceTicks{max: 6}, 1, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range tc.ticks.Ticks(tc.lo, tc.hi) {
				got = append(got, tk.Label)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Ticks(%v, %v) = %q, want %q", tc.lo, tc.hi, got, tc.want)
			}
		})
	}
}
