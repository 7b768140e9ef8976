package explain

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/train"
)

// TestFiguresAndOnePage trains a tiny VBG run (one epoch of the synthetic
// set) and makes its figures and one decision report.
func TestFiguresAndOnePage(t *testing.T) {
	cfg, err := experiment.Load("../experiments/smoke.yaml", []string{"output.dir=" + t.TempDir(), "threads=2",
		"train.epochs=1", "data.synthetic.per_class=12", "data.image_size=16", "model.image.patch=8",
		"model.image.hidden=16", "model.image.mlp=32", "model.text.hidden=16", "model.text.mlp=32", "model.image.layers=1", "model.text.layers=1"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(cfg, dir, train.Options{Quiet: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // twice: the report section is replaced, not repeated
		md, err := RunFigures(dir, FigureOptions{Examples: 3, Points: 8, Link: "runs/x"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(md, "![attention](runs/x/figures/attention.png)") || !strings.Contains(md, "![features](runs/x/figures/features.png)") {
			t.Errorf("markdown:\n%s", md)
		}
	}
	for _, f := range []string{AttentionFigure, FeatureFigure} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, runfolder.ReportFile))
	if n := strings.Count(string(rep), reportMarker); n != 1 || !strings.Contains(string(rep), "](figures/attention.png)") {
		t.Errorf("report.md has the figures section %d times (want 1) or wrong links", n)
	}
	// One prediction, with an image of the synthetic set.
	imgs, _ := filepath.Glob(filepath.Join(dir, "synthetic", "*.png"))
	if len(imgs) == 0 {
		t.Fatal("no synthetic images")
	}
	page, err := One(dir, Input{Image: imgs[0], Text: "a red square", TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Decision report", "## Top-3 classes", "![attention](attention.png)", "| Token | Weight |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, f := range []string{"topk.png", "attention.png", "tokens.png"} {
		if _, err := os.Stat(filepath.Join(page.Dir, f)); err != nil {
			t.Error(err)
		}
	}
	labels := []string{}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Class") && !strings.HasPrefix(l, "| Token") && strings.Count(l, "|") == 3 {
			labels = append(labels, strings.TrimSpace(strings.Split(l, "|")[1]))
		}
	}
	if !slices.Contains(labels, page.Predicted) {
		t.Errorf("predicted %q not in the page's table %v", page.Predicted, labels)
	}
	if _, err := One(dir, Input{Text: "no image"}); err == nil {
		t.Error("a run that reads images accepted no --image")
	}
}

// TestTopTokens leaves out special tokens and punctuation and renormalises
// over the rest.
func TestTopTokens(t *testing.T) {
	got := topTokens([]report.TokenWeight{{Token: "[CLS]", Weight: 0.5}, {Token: "red", Weight: 0.2}, {Token: ".", Weight: 0.2}, {Token: "apple", Weight: 0.1}}, 1)
	if len(got) != 1 || got[0].Token != "red" || got[0].Weight < 0.66 || got[0].Weight > 0.67 {
		t.Errorf("topTokens = %+v", got)
	}
}
