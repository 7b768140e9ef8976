package explain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/report"
)

// Input is one prediction to explain.
type Input struct {
	Image string // image file (needed when the run reads images)
	Text  string // description (needed when the run reads text)
	TopK  int    // classes listed; 0 means 5
	// Out is the page's folder; "" means RUN_DIR/explain/<name>-<hash>.
	Out string
}

// Page is what One wrote.
type Page struct {
	Dir, Markdown string
	Predicted     string
	Probability   float64
}

// One writes the "visual decision report" of one prediction into in.Out:
// explain.md with the input, the attention heatmaps (ViT rollout, the
// fusion's text-to-image attention), the text tokens by attention weight and
// the top-k classes with their probabilities.
func One(dir string, in Input) (*Page, error) {
	if in.TopK <= 0 {
		in.TopK = 5
	}
	var page *Page
	err := open(dir, func(l *infer.Run) error {
		e, err := explainInput(l, dir, &in)
		if err != nil {
			return err
		}
		names, probs := topClasses(e.probs, l.Labels, in.TopK)
		page = &Page{Dir: in.Out, Predicted: names[0], Probability: probs[0], Markdown: filepath.Join(in.Out, "explain.md")}
		var md strings.Builder
		fmt.Fprintf(&md, "# Decision report\n\nRun `%s` (model.arch %s). Prediction: **%s** (p = %.3f).\n\n", dir, l.Config.Model.Arch, names[0], probs[0])
		if in.Image != "" {
			fmt.Fprintf(&md, "Image: `%s`  \n", in.Image)
		}
		if in.Text != "" {
			fmt.Fprintf(&md, "Text: %q\n", in.Text)
		}
		for _, part := range []func() error{
			func() error { return topKSection(&md, in.Out, names, probs) },
			func() error { return attentionSection(&md, in.Out, e, names[0], probs[0]) },
			func() error { return tokenSection(&md, in.Out, e.tokens) },
		} {
			if err := part(); err != nil {
				return err
			}
		}
		return atomicfile.Write(page.Markdown, []byte(md.String()))
	})
	return page, err
}

// explainInput checks in against what the run reads, settles in.Out
// (RUN_DIR/explain/<name>-<hash> by default) and explains the one input.
func explainInput(l *infer.Run, dir string, in *Input) (example, error) {
	image, text := l.Net.Uses()
	if image && in.Image == "" {
		return example{}, fmt.Errorf("explain: the run reads images: give --image")
	}
	if text && in.Text == "" {
		return example{}, fmt.Errorf("explain: the run reads text: give --text")
	}
	if in.Out == "" {
		h := sha256.Sum256([]byte(in.Image + "\x00" + in.Text))
		name := strings.TrimSuffix(filepath.Base(in.Image), filepath.Ext(in.Image))
		if name == "" || name == "." {
			name = "text"
		}
		in.Out = filepath.Join(dir, "explain", name+"-"+hex.EncodeToString(h[:4]))
	}
	if err := os.MkdirAll(in.Out, 0o755); err != nil {
		return example{}, err
	}
	lc := infer.LoaderConfig(l.Config)
	b := data.Batch{Size: lc.ImageSize, Labels: []int64{0}, Texts: []string{in.Text}, IDs: []string{"input"}}
	if image {
		px, err := data.LoadImage(in.Image, lc)
		if err != nil {
			return example{}, err
		}
		b.Images = px
	}
	exs, err := explainBatch(l, b, namer(l))
	if err != nil {
		return example{}, err
	}
	return exs[0], nil
}

// topClasses returns the k most probable classes and their probabilities,
// most probable first.
func topClasses(probs []float64, labels []string, k int) ([]string, []float64) {
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return probs[order[i]] > probs[order[j]] })
	k = min(k, len(order))
	names, top := make([]string, k), make([]float64, k)
	for i := 0; i < k; i++ {
		names[i], top[i] = labels[order[i]], probs[order[i]]
	}
	return names, top
}

// topKSection plots and tabulates the top classes.
func topKSection(md *strings.Builder, out string, names []string, probs []float64) error {
	k := len(names)
	if err := report.PlotBars(filepath.Join(out, "topk.png"), fmt.Sprintf("top-%d classes", k), "probability", names, probs); err != nil {
		return err
	}
	fmt.Fprintf(md, "\n## Top-%d classes\n\n![top-k](topk.png)\n\n| Class | Probability |\n|---|---|\n", k)
	for i := range names {
		fmt.Fprintf(md, "| %s | %.4f |\n", names[i], probs[i])
	}
	return nil
}

// attentionSection shows the attention maps over the input image, or the
// image alone for an architecture without maps.
func attentionSection(md *strings.Builder, out string, e example, predicted string, p float64) error {
	if len(e.maps) > 0 {
		panel := report.AttentionPanel{Image: e.image, Title: fmt.Sprintf("input\npredicted: %s (%.2f)", predicted, p), Maps: e.maps, Tokens: topTokens(e.tokens, 5)}
		if err := report.PlotAttention(filepath.Join(out, "attention.png"), []report.AttentionPanel{panel}); err != nil {
			return err
		}
		md.WriteString("\n## Where the model looked\n\n")
		for _, m := range e.maps {
			md.WriteString("- " + m.Name + "\n")
		}
		md.WriteString("\nBlue (low) to red (high), each map scaled to [0, 1]. The bars are the text tokens the image attends to most.\n\n![attention](attention.png)\n")
		return nil
	}
	if e.image == nil {
		return nil
	}
	if err := report.SaveImage(filepath.Join(out, "input.png"), e.image, "input", 3); err != nil {
		return err
	}
	md.WriteString("\n## Input\n\n![input](input.png)\n\n(This architecture has no attention maps.)\n")
	return nil
}

// tokenSection plots and tabulates the image-to-text attention on every
// token of the input text.
func tokenSection(md *strings.Builder, out string, tokens []report.TokenWeight) error {
	if len(tokens) == 0 {
		return nil
	}
	labels := make([]string, len(tokens))
	vals := make([]float64, len(tokens))
	for i, t := range tokens {
		labels[i], vals[i] = t.Token, t.Weight
	}
	if err := report.PlotBars(filepath.Join(out, "tokens.png"), "attention per text token (in text order)", "image-to-text attention", labels, vals); err != nil {
		return err
	}
	md.WriteString("\n## Text tokens\n\nThe fusion layer's image-to-text attention on every token of the input text (averaged over heads and image tokens).\n\n![tokens](tokens.png)\n\n| Token | Weight |\n|---|---|\n")
	for _, t := range tokens {
		fmt.Fprintf(md, "| %s | %.4f |\n", strings.ReplaceAll(t.Token, "|", `\|`), t.Weight)
	}
	return nil
}
