package infer

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/tensor"
)

// EvalOptions choose what `vbg eval` evaluates.
type EvalOptions struct {
	Split      string // train, val or test
	Checkpoint string // best or last
	DataDir    string // another prepared dataset with the same classes; empty = the run's own
	Out        string // folder for the results; empty = RUN/eval-SPLIT-CHECKPOINT
}

// EvaluateRun evaluates a trained run on a split and writes metrics.json,
// metrics.md, predictions.csv and confusion.png into the output folder.
// Call it on l's worker thread.
func (l *Run) EvaluateRun(o EvalOptions) (*metrics.Report, string, error) {
	var ds *experiment.Dataset
	var err error
	if o.DataDir != "" {
		cfg := *l.Config
		cfg.Data.Dir, cfg.Data.Source = o.DataDir, "prepared"
		ds, err = experiment.LoadDataset(&cfg, l.Dir)
	} else {
		ds, err = l.Dataset()
	}
	if err != nil {
		return nil, "", err
	}
	if strings.Join(ds.Labels, "\x00") != strings.Join(l.Labels, "\x00") {
		return nil, "", fmt.Errorf("eval: the dataset's classes %v differ from the run's %v", ds.Labels, l.Labels)
	}
	var recs []data.Record
	switch o.Split {
	case data.Train:
		recs = ds.Train
	case data.Val:
		recs = ds.Val
	case data.Test, "":
		o.Split, recs = data.Test, ds.Test
	default:
		return nil, "", fmt.Errorf("eval: unknown split %q (train, val or test)", o.Split)
	}
	ev, err := l.EvaluateRecords(recs)
	if err != nil {
		return nil, "", err
	}
	rep, probs := ev.Report, ev.Probs
	out := o.Out
	if out == "" {
		out = filepath.Join(l.Dir, "eval-"+o.Split+"-"+o.Checkpoint)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, "", err
	}
	if err := atomicfile.WriteJSON(filepath.Join(out, "metrics.json"), rep); err != nil {
		return nil, "", err
	}
	md := fmt.Sprintf("# Evaluation of %s (%s checkpoint) on the %s split\n\n%s\n![confusion](confusion.png)\n", l.Dir, o.Checkpoint, o.Split, rep.Markdown())
	if err := atomicfile.Write(filepath.Join(out, "metrics.md"), []byte(md)); err != nil {
		return nil, "", err
	}
	if err := report.PlotConfusion(filepath.Join(out, "confusion.png"), rep.Confusion, l.Labels, report.ConfusionOptions{Title: "Confusion matrix (" + o.Split + ")"}); err != nil {
		return nil, "", err
	}
	if err := writePredictions(filepath.Join(out, "predictions.csv"), recs, probs, l.Labels); err != nil {
		return nil, "", err
	}
	return rep, out, nil
}

func writePredictions(path string, recs []data.Record, probs [][]float64, labels []string) error {
	return atomicfile.WriteWith(path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.Write(append([]string{"id", "label", "predicted"}, labels...))
		for i, r := range recs {
			row := []string{r.ID, r.Label, labels[metrics.Predict(probs[i : i+1])[0]]}
			for _, p := range probs[i] {
				row = append(row, fmt.Sprintf("%.6g", p))
			}
			w.Write(row)
		}
		w.Flush()
		return w.Error()
	})
}

// Prediction is the top-k classes of one input.
type Prediction struct {
	Image, Text string
	Top         []ClassProb
}

// ClassProb is a class and its probability.
type ClassProb struct {
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`
}

// Predict classifies image-text pairs (image paths; texts may be empty
// when the model does not read text) and returns the top k classes of each.
// Call it on l's worker thread.
func (l *Run) Predict(images, texts []string, k int) ([]Prediction, error) {
	if len(images) != len(texts) {
		return nil, fmt.Errorf("predict: %d images but %d texts", len(images), len(texts))
	}
	if k < 1 {
		return nil, fmt.Errorf("predict: top %d: want at least 1 class", k)
	}
	useImage, useText := l.Net.Uses()
	lc := LoaderConfig(l.Config)
	var out []Prediction
	bs := max(1, l.Config.Train.BatchSize)
	for start := 0; start < len(images); start += bs {
		end := min(start+bs, len(images))
		b := data.Batch{Size: l.Config.Data.ImageSize, Texts: texts[start:end], Labels: make([]int64, end-start)}
		for i := start; i < end; i++ {
			b.IDs = append(b.IDs, images[i])
			if useImage {
				px, err := data.LoadImage(images[i], lc)
				if err != nil {
					return nil, fmt.Errorf("predict: %w", err)
				}
				b.Images = append(b.Images, px...)
			}
			if useText && strings.TrimSpace(texts[i]) == "" {
				return nil, fmt.Errorf("predict: input %d (%s) has no text, and the model reads text", i+1, images[i])
			}
		}
		var probs [][]float64
		err := tensor.NoGrad(func() error {
			var err error
			probs, _, err = l.predictBatch(b)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		for i, p := range probs {
			out = append(out, Prediction{Image: images[start+i], Text: texts[start+i], Top: topK(p, l.Labels, k)})
		}
	}
	return out, nil
}

func topK(p []float64, labels []string, k int) []ClassProb {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	k = min(k, len(idx))
	out := make([]ClassProb, k)
	for i := 0; i < k; i++ {
		out[i] = ClassProb{Label: labels[idx[i]], Prob: p[idx[i]]}
	}
	return out
}
