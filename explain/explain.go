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

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/tensor"
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

// explainBatch runs the model on one loader batch: a VBG model gives its
// explanation (vbg.Model.Explain), any other network its probabilities.
func explainBatch(l *infer.Run, b data.Batch, names tokenNamer) ([]example, error) {
	bt, err := l.Batch(b)
	if err != nil {
		return nil, err
	}
	defer bt.Drop()
	out := make([]example, b.Len())
	for i := range out {
		out[i].label = int(b.Labels[i])
		if b.Images != nil {
			out[i].image = toRGB(b.Image(i), b.Size, l.Config.Data.Mean, l.Config.Data.Std)
		}
	}
	m, ok := l.Net.(*vbg.Model)
	if !ok {
		return out, predict(l.Net, bt.In, out)
	}
	ex, err := m.Explain(bt.In)
	if err != nil {
		return nil, err
	}
	var ids, mask [][]float64
	if bt.In.InputIDs != nil {
		if ids, err = tensorRows(bt.In.InputIDs); err != nil {
			return nil, err
		}
		if mask, err = tensorRows(bt.In.AttentionMask); err != nil {
			return nil, err
		}
	}
	for i := range out {
		out[i].fill(ex, i, ids, mask, names)
	}
	return out, nil
}

// predict sets the probabilities of a network without explanations.
func predict(net vbg.Network, in vbg.Inputs, out []example) error {
	return tensor.NoGrad(func() error {
		o, err := net.Forward(in, false)
		if err != nil {
			return err
		}
		defer o.Drop()
		probs, err := vbg.Probabilities(o.Logits)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].probs = probs[i]
		}
		return nil
	})
}

// fill sets e from example i of an explanation; ids and mask are the
// batch's token ids and attention mask (nil without text).
func (e *example) fill(ex *vbg.Explanation, i int, ids, mask [][]float64, names tokenNamer) {
	e.probs = ex.Probs[i]
	if ex.Rollout != nil {
		e.maps = append(e.maps, report.HeatMap{Name: "ViT attention rollout", GridH: ex.GridH, GridW: ex.GridW, Values: ex.Rollout[i]})
	}
	if ex.TextToImage != nil {
		e.maps = append(e.maps, report.HeatMap{Name: "text → image (fusion)", GridH: ex.GridH, GridW: ex.GridW, Values: ex.TextToImage[i]})
	}
	if ex.TokenWeights != nil {
		for j, w := range ex.TokenWeights[i] {
			if mask[i][j] != 0 {
				e.tokens = append(e.tokens, report.TokenWeight{Token: names(int64(ids[i][j])), Weight: w})
			}
		}
	}
	for k, f := range [][][]float64{ex.ImageFeat, ex.TextFeat, ex.Fused} {
		if f != nil {
			e.feats[k] = f[i]
		}
	}
}

// tensorRows reads an integer or float [B, L] tensor as rows.
func tensorRows(t *ts.Tensor) ([][]float64, error) {
	size, err := t.Size()
	if err != nil || len(size) != 2 {
		return nil, fmt.Errorf("explain: want a [B, L] tensor, got %v (%v)", size, err)
	}
	flat, err := tensor.Float64s(t)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, size[0])
	for i := range out {
		out[i] = flat[i*int(size[1]) : (i+1)*int(size[1])]
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

// section is one part of the Markdown that RunFigures writes: format has
// one %s for the path of its figure.
type section struct {
	format, figure string
}

// render fills in the sections' figure paths under link.
func render(parts []section, link string) string {
	var out []string
	for _, p := range parts {
		out = append(out, fmt.Sprintf(p.format, filepath.Join(link, p.figure)))
	}
	return strings.Join(out, "\n")
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
		ds, err := l.Dataset()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "figures"), 0o755); err != nil {
			return err
		}
		names := namer(l)
		var parts []section
		for _, figure := range []func() (*section, error){
			func() (*section, error) { return attentionFigure(dir, l, pick(ds.Test, o.Examples), names) },
			func() (*section, error) { return featureFigure(dir, l, spread(ds.Test, o.Points), names, o.Method) },
		} {
			part, err := figure()
			if err != nil {
				return err
			}
			if part != nil {
				parts = append(parts, *part)
			}
		}
		md = render(parts, o.Link)
		fmt.Fprintf(log, "vbg: figures of %s written\n", dir)
		return appendReport(dir, render(parts, ""))
	})
	return md, err
}

// attentionFigure plots the attention maps of recs (Fig. 7); nil when the
// model has none.
func attentionFigure(dir string, l *infer.Run, recs []data.Record, names tokenNamer) (*section, error) {
	exs, err := runExamples(l, recs, names)
	if err != nil {
		return nil, fmt.Errorf("attention maps: %w", err)
	}
	if len(exs) == 0 || len(exs[0].maps) == 0 {
		return nil, nil
	}
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
		return nil, err
	}
	return &section{figure: AttentionFigure, format: fmt.Sprintf("## Attention maps (Fig. 7)\n\nTest examples, the first of each class: the input (%d px), the ViT's attention rollout from [CLS] to the patches, and the fusion layer's text-to-image attention (averaged over heads and the real text tokens), each scaled to [0, 1] and overlaid in blue (low) to red (high); the bars are the text tokens the image tokens attend to most in the fusion layer (image-to-text attention, special tokens left out, renormalised).\n\n![attention](%%s)\n",
		l.Config.Data.ImageSize)}, nil
}

// featureFigure embeds the image, text and fused features of recs in two
// dimensions with method ("pca", else t-SNE) and plots them (Fig. 8); nil
// when there are fewer than 4 points.
func featureFigure(dir string, l *infer.Run, recs []data.Record, names tokenNamer, method string) (*section, error) {
	pts, err := runExamples(l, recs, names)
	if err != nil {
		return nil, fmt.Errorf("feature space: %w", err)
	}
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
	if len(X) < 4 {
		return nil, nil
	}
	name, emb, err := embed(X, method)
	if err != nil {
		return nil, err
	}
	fp := make([]report.FeaturePoint, len(X))
	for i := range X {
		fp[i] = report.FeaturePoint{X: emb[i][0], Y: emb[i][1], Class: cls[i], Kind: kind[i]}
	}
	title := fmt.Sprintf("%s of image, text and fused features (%d test examples)", name, len(pts))
	if err := report.PlotFeatureSpace(filepath.Join(dir, FeatureFigure), title, fp, l.Labels, []string{"image", "text", "fused"}); err != nil {
		return nil, err
	}
	return &section{figure: FeatureFigure, format: fmt.Sprintf("## Feature space (Fig. 8)\n\n%s of %d test examples in the fused space: for each, its image feature (the mean of its ViT tokens after the fusion layer's image projection, before cross-attention), its text feature (the same for the BERT tokens) and the fused vector the classifier reads; colour = class, glyph = kind (circle image, triangle text, cross fused).\n\n![features](%%s)\n",
		name, len(pts))}, nil
}

// embed maps X to two dimensions: PCA for method "pca", else t-SNE. It
// returns the method's name for the figure.
func embed(X [][]float64, method string) (string, [][2]float64, error) {
	if method == "pca" {
		emb, err := report.PCA2(X)
		return "PCA", emb, err
	}
	emb, err := report.TSNE(X, report.TSNEOptions{Seed: 1})
	return "t-SNE", emb, err
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
	return atomicfile.Write(path, []byte(s))
}
