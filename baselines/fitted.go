package baselines

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/train"
)

// ModelFile is where a fitted baseline stores its model in the run folder.
const ModelFile = "model.json"

// Run trains and evaluates cfg in dir like train.Run, for any model.arch:
// networks (vbg and the baseline networks) go through the training loop,
// fitted baselines (gbdt, logreg, majority) are fitted on fixed features and
// write the same run folder (config.yaml, labels.json, metrics.jsonl with
// one line, summary.json, report.md, checkpoints/model.json).
func Run(cfg *config.Config, dir string, opts train.Options) (*train.Summary, error) {
	Register()
	if a, ok := Lookup(cfg.Model.Arch); ok && a.Fitted {
		return runFitted(cfg, dir, a, opts)
	}
	return train.Run(cfg, dir, opts)
}

// FeatureSpec says how fixed features are computed, saved with a fitted
// model so it can be applied to new inputs.
type FeatureSpec struct {
	Image     string   `json:"image"` // pixels or none
	Grid      int      `json:"grid"`
	ImageSize int      `json:"image_size"`
	Text      string   `json:"text"` // bow, bow+encoder or none
	Words     []string `json:"words"`
	// TextDim is the text encoder's hidden size (bow+encoder).
	TextDim int `json:"text_dim,omitempty"`
}

// Dim is the feature count.
func (s *FeatureSpec) Dim() int {
	n := 0
	if s.Image == "pixels" {
		n += 3 * s.Grid * s.Grid
	}
	if strings.HasPrefix(s.Text, "bow") {
		n += len(s.Words)
	}
	if s.Text == "bow+encoder" {
		n += s.TextDim
	}
	return n
}

// fittedModel is model.json.
type fittedModel struct {
	Arch     string      `json:"arch"`
	Features FeatureSpec `json:"features"`
	GBDT     *GBDT       `json:"gbdt,omitempty"`
	LogReg   *LogReg     `json:"logreg,omitempty"`
	Prior    []float64   `json:"prior,omitempty"`
}

// bowWords keeps the vocab most frequent words of texts (ties alphabetical).
func bowWords(texts []string, vocab int) []string {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range words(t) {
			counts[w]++
		}
	}
	ws := make([]string, 0, len(counts))
	for w := range counts {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if counts[ws[i]] != counts[ws[j]] {
			return counts[ws[i]] > counts[ws[j]]
		}
		return ws[i] < ws[j]
	})
	if len(ws) > vocab {
		ws = ws[:vocab]
	}
	return ws
}

// words splits lower-cased text into runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// features computes the fixed features of records (the evaluation image
// transform, no augmentation; all of a record's texts joined).
func (s *FeatureSpec) features(recs []data.Record, cfg *config.Config) ([][]float32, error) {
	out := make([][]float32, len(recs))
	for i := range out {
		out[i] = make([]float32, 0, s.Dim())
	}
	if s.Image == "pixels" {
		lc := data.DefaultLoaderConfig(false)
		lc.ImageSize, lc.ResizeSize, lc.BatchSize = cfg.Data.ImageSize, cfg.Data.ImageSize, 64
		lc.Workers, lc.Quiet = cfg.Data.Workers, true
		for c := 0; c < 3; c++ {
			lc.Mean[c], lc.Std[c] = float32(cfg.Data.Mean[c]), float32(cfg.Data.Std[c])
		}
		l, err := data.NewLoader(recs, lc)
		if err != nil {
			return nil, err
		}
		i := 0
		for b, err := range l.Epoch(0) {
			if err != nil {
				return nil, err
			}
			for j := 0; j < b.Len(); j++ {
				out[i] = append(out[i], poolImage(b.Image(j), b.Size, s.Grid)...)
				i++
			}
		}
	}
	if strings.HasPrefix(s.Text, "bow") {
		index := make(map[string]int, len(s.Words))
		for i, w := range s.Words {
			index[w] = i
		}
		for i, r := range recs {
			bag := make([]float32, len(s.Words))
			for _, w := range words(strings.Join(r.Texts, " ")) {
				if j, ok := index[w]; ok {
					bag[j] = 1
				}
			}
			out[i] = append(out[i], bag...)
		}
	}
	if s.Text == "bow+encoder" {
		texts := make([]string, len(recs))
		for i, r := range recs {
			texts[i] = strings.Join(r.Texts, " ")
		}
		emb, err := train.TextEncoderFeatures(cfg, texts)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = append(out[i], emb[i]...)
		}
	}
	return out, nil
}

// poolImage averages a CHW image of side size over a grid×grid grid.
func poolImage(img []float32, size, grid int) []float32 {
	out := make([]float32, 3*grid*grid)
	cnt := make([]float32, 3*grid*grid)
	for c := 0; c < 3; c++ {
		for y := 0; y < size; y++ {
			gy := y * grid / size
			for x := 0; x < size; x++ {
				k := (c*grid+gy)*grid + x*grid/size
				out[k] += img[(c*size+y)*size+x]
				cnt[k]++
			}
		}
	}
	for i := range out {
		out[i] /= max(cnt[i], 1)
	}
	return out
}

// runFitted fits a fixed-feature baseline and writes the run folder.
func runFitted(cfg *config.Config, dir string, a Arch, opts train.Options) (*train.Summary, error) {
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	y, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, train.ConfigFile), y, 0o644); err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	ds, err := train.LoadDataset(cfg, dir)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, train.LabelsFile), ds.Labels); err != nil {
		return nil, err
	}
	K := len(ds.Labels)
	fc := cfg.Model.Baseline.Features
	spec := FeatureSpec{Image: fc.Image, Grid: fc.Grid, ImageSize: cfg.Data.ImageSize, Text: fc.Text}
	if spec.Image == "encoder" {
		return nil, fmt.Errorf("%s: model.baseline.features.image: encoder features need a pretrained ViT, and none can be had offline here; use pixels", a.Name)
	}
	if spec.Text == "bow+encoder" {
		probe, err := train.TextEncoderFeatures(cfg, []string{"probe"})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name, err)
		}
		spec.TextDim = len(probe[0])
	}
	if strings.HasPrefix(spec.Text, "bow") {
		var texts []string
		for _, r := range ds.Train {
			texts = append(texts, r.Texts...)
		}
		spec.Words = bowWords(texts, fc.Vocab)
	}
	fmt.Fprintf(logw, "vbg: run %s: %s on %d fixed features, %d train / %d val / %d test samples, %d classes\n",
		dir, a.Name, spec.Dim(), len(ds.Train), len(ds.Val), len(ds.Test), K)
	start := time.Now()
	model := &fittedModel{Arch: a.Name, Features: spec}
	labelsOf := func(recs []data.Record) []int {
		out := make([]int, len(recs))
		for i, r := range recs {
			out[i] = r.LabelID
		}
		return out
	}
	yTrain := labelsOf(ds.Train)
	var predict func(X [][]float32) [][]float64
	var size int64
	var feats func(recs []data.Record) ([][]float32, error)
	if a.Name == "majority" {
		prior := make([]float64, K)
		for _, c := range yTrain {
			prior[c] += 1 / float64(len(yTrain))
		}
		model.Prior = prior
		model.Features = FeatureSpec{}
		predict = func(X [][]float32) [][]float64 {
			out := make([][]float64, len(X))
			for i := range out {
				out[i] = prior
			}
			return out
		}
		feats = func(recs []data.Record) ([][]float32, error) { return make([][]float32, len(recs)), nil }
		size = int64(K)
	} else {
		feats = func(recs []data.Record) ([][]float32, error) { return spec.features(recs, cfg) }
		Xtr, err := feats(ds.Train)
		if err != nil {
			return nil, err
		}
		switch a.Name {
		case "gbdt":
			g := cfg.Model.Baseline.GBDT
			m, err := FitGBDT(Xtr, yTrain, K, GBDTParams{Rounds: g.Rounds, Depth: g.Depth, LearningRate: g.LearningRate, Bins: g.Bins, MinLeaf: g.MinLeaf})
			if err != nil {
				return nil, err
			}
			model.GBDT, predict, size = m, m.PredictProba, m.Size()
		case "logreg":
			l := cfg.Model.Baseline.LogReg
			m, err := FitLogReg(Xtr, yTrain, K, l.C, l.MaxIter)
			if err != nil {
				return nil, err
			}
			model.LogReg, predict, size = m, m.PredictProba, m.Size()
		default:
			return nil, fmt.Errorf("%s: not a fitted baseline", a.Name)
		}
	}
	trainSeconds := time.Since(start).Seconds()
	evalSplit := func(recs []data.Record) (*metrics.Report, float64, error) {
		X, err := feats(recs)
		if err != nil {
			return nil, 0, err
		}
		probs := predict(X)
		ys := labelsOf(recs)
		var loss float64
		for i, p := range probs {
			loss -= math.Log(max(p[ys[i]], 1e-15))
		}
		rep, err := metrics.Compute(ys, probs, metrics.Options{ClassNames: ds.Labels})
		return rep, loss / float64(len(ys)), err
	}
	trainRep, trainLoss, err := evalSplit(ds.Train)
	if err != nil {
		return nil, err
	}
	valRep, valLoss, err := evalSplit(ds.Val)
	if err != nil {
		return nil, err
	}
	testRep, _, err := evalSplit(ds.Test)
	if err != nil {
		return nil, err
	}
	ck := filepath.Join(dir, train.CheckDir)
	if err := os.MkdirAll(ck, 0o755); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(ck, ModelFile), model); err != nil {
		return nil, err
	}
	ep := report.Epoch{Epoch: 1, TrainLoss: trainLoss, ValLoss: valLoss, ValAccuracy: valRep.Accuracy, Seconds: trainSeconds, Metrics: valRep.Scalars()}
	ep.Metrics["train_accuracy"] = trainRep.Accuracy
	mpath := filepath.Join(dir, train.MetricsFile)
	os.Remove(mpath)
	if err := report.AppendMetricsJSONL(mpath, ep); err != nil {
		return nil, err
	}
	sum := &train.Summary{
		Name: cfg.Name, Dir: dir, Classes: ds.Labels,
		TrainSamples: len(ds.Train), ValSamples: len(ds.Val), TestSamples: len(ds.Test),
		Parameters: size, Epochs: 1, BestEpoch: 1, TrainSeconds: trainSeconds,
		Device: "cpu (Go)", Threads: 2, Val: valRep, Test: testRep,
	}
	if trainSeconds > 0 {
		sum.SamplesPerSec = float64(len(ds.Train)) / trainSeconds
	}
	if err := writeJSON(filepath.Join(dir, train.SummaryFile), sum); err != nil {
		return nil, err
	}
	if err := train.WriteReport(dir, cfg, sum); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "vbg: test: acc %.4f  macro-F1 %.4f  mAP %.4f (fitted in %.1fs)\n", testRep.Accuracy, testRep.MacroF1, testRep.MAP, trainSeconds)
	return sum, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
