// Package explain makes the paper's visual explanations of a trained run:
// attention heatmaps over images with the most attended text tokens
// (Fig. 7), the joint image/text feature space (Fig. 8), and the "visual
// decision report" of one prediction (vbg explain RUN_DIR --image --text).
//
// The maps come from vbg.Model.Explain: the ViT's attention rollout from
// [CLS] to the patches, and the fusion layer's text-to-image attention; the
// token weights are the fusion layer's image-to-text attention. Baseline
// runs get the top-k classes only.
package explain

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/vbg"
)

// FigureOptions adjusts RunFigures.
type FigureOptions struct {
	// Examples is how many test examples get attention maps (the first of
	// each class, in test-split order); 0 means 6.
	Examples int
	// Points is how many test examples the feature-space figure embeds (each
	// gives an image, a text and a fused point); 0 means 240.
	Points int
	// Method is "tsne" (default) or "pca".
	Method string
	// Link is the run folder as seen from the Markdown that RunFigures
	// returns (e.g. "runs/vbg-s1" from a comparison table); "" means the run
	// folder itself.
	Link string
}

// Figures of a run folder.
const (
	AttentionFigure = "figures/attention.png"
	FeatureFigure   = "figures/features.png"
	reportMarker    = "<!-- vbg explain: figures -->"
)

// tokenNamer turns token ids back into text.
type tokenNamer func(id int64) string

// namer returns the token namer of a loaded run.
func namer(l *infer.Run) tokenNamer {
	if v, ok := l.Tokenizer.(*vbg.WordVocab); ok {
		return func(id int64) string {
			if id >= 0 && int(id) < len(v.Words) {
				return v.Words[id]
			}
			return fmt.Sprintf("#%d", id)
		}
	}
	if l.Config.Model.Text.Tokenizer == "pretrained" {
		if dir, err := experiment.ModelFolder("model.text.pretrained", l.Config.Model.Text.Pretrained); err == nil {
			if f, err := pretrained.InspectFolder(dir); err == nil {
				if t, err := f.LoadTokenizer(); err == nil {
					return func(id int64) string {
						if s, ok := t.IDToToken(int(id)); ok {
							return s
						}
						return fmt.Sprintf("#%d", id)
					}
				}
			}
		}
	}
	return func(id int64) string { return fmt.Sprintf("#%d", id) }
}

// special reports tokens left out of the "most attended" lists: special
// tokens and punctuation.
func special(tok string) bool {
	switch tok {
	case "[CLS]", "[SEP]", "[PAD]", "[UNK]", "<s>", "</s>", "<pad>":
		return true
	}
	return !strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// toRGB turns a normalised CHW image back into RGB.
func toRGB(img []float32, size int, mean, std []float64) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var c [3]uint8
			for ch := 0; ch < 3; ch++ {
				v := float64(img[(ch*size+y)*size+x])*std[ch] + mean[ch]
				c[ch] = uint8(math.Round(math.Min(math.Max(v, 0), 1) * 255))
			}
			out.Set(x, y, color.RGBA{R: c[0], G: c[1], B: c[2], A: 255})
		}
	}
	return out
}

// example is one explained input.
type example struct {
	image  image.Image
	label  int // -1 when unknown
	probs  []float64
	maps   []report.HeatMap
	tokens []report.TokenWeight // all real tokens in text order
	feats  [3][]float64         // image, text, fused
}

// explainBatch runs the model on one loader batch.
func explainBatch(l *infer.Run, b data.Batch, names tokenNamer) ([]example, error) {
	bt, err := l.Batch(b)
	if err != nil {
		return nil, err
	}
	defer bt.Drop()
	in, labels := bt.In, b.Labels
	out := make([]example, b.Len())
	for i := range out {
		out[i].label = int(labels[i])
		if b.Images != nil {
			out[i].image = toRGB(b.Image(i), b.Size, l.Config.Data.Mean, l.Config.Data.Std)
		}
	}
	m, ok := l.Net.(*vbg.Model)
	if !ok {
		var o *vbg.Output
		ts.NoGrad(func() { o, err = l.Net.Forward(in, false) })
		if err != nil {
			return nil, err
		}
		defer o.Drop()
		probs, err := vbg.Probabilities(o.Logits)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].probs = probs[i]
		}
		return out, nil
	}
	ex, err := m.Explain(in)
	if err != nil {
		return nil, err
	}
	var ids, mask [][]float64
	if in.InputIDs != nil {
		if ids, err = tensorRows(in.InputIDs); err != nil {
			return nil, err
		}
		if mask, err = tensorRows(in.AttentionMask); err != nil {
			return nil, err
		}
	}
	for i := range out {
		e := &out[i]
		e.probs = ex.Probs[i]
		if ex.Rollout != nil {
			e.maps = append(e.maps, report.HeatMap{Name: "ViT attention rollout", GridH: ex.GridH, GridW: ex.GridW, Values: ex.Rollout[i]})
		}
		if ex.TextToImage != nil {
			e.maps = append(e.maps, report.HeatMap{Name: "text → image (fusion)", GridH: ex.GridH, GridW: ex.GridW, Values: ex.TextToImage[i]})
		}
		if ex.TokenWeights != nil {
			for j, w := range ex.TokenWeights[i] {
				if mask[i][j] == 0 {
					continue
				}
				e.tokens = append(e.tokens, report.TokenWeight{Token: names(int64(ids[i][j])), Weight: w})
			}
		}
		for k, f := range [][][]float64{ex.ImageFeat, ex.TextFeat, ex.Fused} {
			if f != nil {
				e.feats[k] = f[i]
			}
		}
	}
	return out, nil
}

// tensorRows reads an integer or float [B, L] tensor as rows.
func tensorRows(t *ts.Tensor) ([][]float64, error) {
	size, err := t.Size()
	if err != nil {
		return nil, err
	}
	var flat []float64
	if t.DType() == gotch.Int64 {
		for _, v := range t.Int64Values() {
			flat = append(flat, float64(v))
		}
	} else {
		flat = t.Float64Values()
	}
	out := make([][]float64, size[0])
	n := len(flat) / int(size[0])
	for i := range out {
		out[i] = flat[i*n : (i+1)*n]
	}
	return out, nil
}

// topTokens keeps the k most attended real words, renormalised to sum 1.
func topTokens(all []report.TokenWeight, k int) []report.TokenWeight {
	var ws []report.TokenWeight
	var sum float64
	for _, t := range all {
		if !special(t.Token) {
			ws = append(ws, t)
			sum += t.Weight
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Weight > ws[j].Weight })
	if len(ws) > k {
		ws = ws[:k]
	}
	for i := range ws {
		if sum > 0 {
			ws[i].Weight /= sum
		}
	}
	return ws
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// pick chooses up to n records: the first of each class in order, then the
// next ones.
func pick(recs []data.Record, n int) []data.Record {
	var out []data.Record
	used := map[int]bool{}
	seen := map[int]bool{}
	for i, r := range recs {
		if len(out) == n {
			return out
		}
		if !seen[r.LabelID] {
			seen[r.LabelID], used[i] = true, true
			out = append(out, r)
		}
	}
	for i, r := range recs {
		if len(out) == n {
			break
		}
		if !used[i] {
			out = append(out, r)
		}
	}
	return out
}

// spread takes n records spread evenly over recs.
func spread(recs []data.Record, n int) []data.Record {
	if len(recs) <= n {
		return recs
	}
	out := make([]data.Record, n)
	for i := range out {
		out[i] = recs[i*len(recs)/n]
	}
	return out
}

// runExamples explains records in batches.
func runExamples(l *infer.Run, recs []data.Record, names tokenNamer) ([]example, error) {
	lc := infer.LoaderConfig(l.Config)
	lc.BatchSize = 32
	loader, err := data.NewLoader(recs, lc)
	if err != nil {
		return nil, err
	}
	var out []example
	for b, err := range loader.Epoch(0) {
		if err != nil {
			return nil, err
		}
		ex, err := explainBatch(l, b, names)
		if err != nil {
			return nil, err
		}
		out = append(out, ex...)
	}
	return out, nil
}

// open starts a worker for a run folder and runs fn with the loaded run on
// its thread.
func open(dir string, fn func(l *infer.Run) error) error {
	cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
	if err != nil {
		return err
	}
	w, err := device.Start(device.Config{Device: cfg.Device, Threads: cfg.Threads, Seed: 1})
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Do(func() error {
		l, err := infer.Open(dir, w, "best")
		if err != nil {
			return err
		}
		return fn(l)
	})
}

// RunFigures writes figures/attention.png (Fig. 7) and figures/features.png
// (Fig. 8) for a VBG run, adds them to its report.md (replacing an earlier
// version) and returns Markdown that shows them, with paths under o.Link.
// A run of another architecture gets no figures ("" and no error).
func RunFigures(dir string, o FigureOptions, log io.Writer) (string, error) {
	if o.Examples <= 0 {
		o.Examples = 6
	}
	if o.Points <= 0 {
		o.Points = 240
	}
	if log == nil {
		log = io.Discard
	}
	var md string
	err := open(dir, func(l *infer.Run) error {
		if _, ok := l.Net.(*vbg.Model); !ok {
			return nil
		}
		ds, err := experiment.LoadDataset(l.Config, dir)
		if err != nil {
			return err
		}
		names := namer(l)
		if err := os.MkdirAll(filepath.Join(dir, "figures"), 0o755); err != nil {
			return err
		}
		// Each section is a format with one %s for the figure's folder.
		var parts []string
		exs, err := runExamples(l, pick(ds.Test, o.Examples), names)
		if err != nil {
			return fmt.Errorf("attention maps: %w", err)
		}
		if len(exs) > 0 && len(exs[0].maps) > 0 {
			var panels []report.AttentionPanel
			for _, e := range exs {
				pred := argmax(e.probs)
				panels = append(panels, report.AttentionPanel{
					Image:  e.image,
					Title:  fmt.Sprintf("true: %s\npredicted: %s (%.2f)", l.Labels[e.label], l.Labels[pred], e.probs[pred]),
					Maps:   e.maps,
					Tokens: topTokens(e.tokens, 5),
				})
			}
			if err := report.PlotAttention(filepath.Join(dir, AttentionFigure), panels); err != nil {
				return err
			}
			parts = append(parts, fmt.Sprintf("## Attention maps (Fig. 7)\n\nTest examples, the first of each class: the input (%d px), the ViT's attention rollout from [CLS] to the patches, and the fusion layer's text-to-image attention (averaged over heads and the real text tokens), each scaled to [0, 1] and overlaid in blue (low) to red (high); the bars are the text tokens the image tokens attend to most in the fusion layer (image-to-text attention, special tokens left out, renormalised).\n\n![attention](%%s)\n",
				l.Config.Data.ImageSize)+"\x00"+AttentionFigure)
		}
		pts, err := runExamples(l, spread(ds.Test, o.Points), names)
		if err != nil {
			return fmt.Errorf("feature space: %w", err)
		}
		kinds := []string{"image", "text", "fused"}
		var X [][]float64
		var cls, kind []int
		for _, e := range pts {
			for k, f := range e.feats {
				if f != nil {
					X = append(X, f)
					cls, kind = append(cls, e.label), append(kind, k)
				}
			}
		}
		if len(X) >= 4 {
			method := "t-SNE"
			var emb [][2]float64
			if o.Method == "pca" {
				method = "PCA"
				emb, err = report.PCA2(X)
			} else {
				emb, err = report.TSNE(X, report.TSNEOptions{Seed: 1})
			}
			if err != nil {
				return err
			}
			fp := make([]report.FeaturePoint, len(X))
			for i := range X {
				fp[i] = report.FeaturePoint{X: emb[i][0], Y: emb[i][1], Class: cls[i], Kind: kind[i]}
			}
			title := fmt.Sprintf("%s of image, text and fused features (%d test examples)", method, len(pts))
			if err := report.PlotFeatureSpace(filepath.Join(dir, FeatureFigure), title, fp, l.Labels, kinds); err != nil {
				return err
			}
			parts = append(parts, fmt.Sprintf("## Feature space (Fig. 8)\n\n%s of %d test examples in the fused space: for each, its image feature (the mean of its ViT tokens after the fusion layer's image projection, before cross-attention), its text feature (the same for the BERT tokens) and the fused vector the classifier reads; colour = class, glyph = kind (circle image, triangle text, cross fused).\n\n![features](%%s)\n",
				method, len(pts))+"\x00"+FeatureFigure)
		}
		render := func(link string) string {
			var out []string
			for _, p := range parts {
				format, fig, _ := strings.Cut(p, "\x00")
				out = append(out, fmt.Sprintf(format, filepath.Join(link, fig)))
			}
			return strings.Join(out, "\n")
		}
		md = render(o.Link)
		fmt.Fprintf(log, "vbg: figures of %s written\n", dir)
		return appendReport(dir, render(""))
	})
	return md, err
}

// appendReport puts md at the end of the run's report.md, replacing what an
// earlier call added.
func appendReport(dir, md string) error {
	if md == "" {
		return nil
	}
	path := filepath.Join(dir, runfolder.ReportFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(b)
	if i := strings.Index(s, reportMarker); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "\n") + "\n\n" + reportMarker + "\n" + md
	return os.WriteFile(path, []byte(s), 0o644)
}
