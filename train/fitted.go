package train

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/baselines"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
)

// FittedModelFile is where a fitted baseline stores its model in the run
// folder's checkpoints/.
const FittedModelFile = "model.json"

// fittedModel is model.json.
type fittedModel struct {
	Arch     string            `json:"arch"`
	Features FeatureSpec       `json:"features"`
	GBDT     *baselines.GBDT   `json:"gbdt,omitempty"`
	LogReg   *baselines.LogReg `json:"logreg,omitempty"`
	Prior    []float64         `json:"prior,omitempty"`
}

// fitted is a fitted baseline ready to predict.
type fitted struct {
	model   *fittedModel
	predict func(X [][]float32) [][]float64
	feats   func(recs []data.Record) ([][]float32, error)
	size    int64 // parameters
	seconds float64
}

// runFitted fits a fixed-feature baseline (gbdt, logreg, majority) and
// writes the same run folder as the training loop: metrics.jsonl with one
// line, summary.json, report.md and checkpoints/model.json.
func runFitted(cfg *config.Config, dir string, a experiment.Arch, ds *experiment.Dataset, opts Options) (*runfolder.Summary, error) {
	spec, err := featureSpec(cfg, a, ds)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "vbg: run %s: %s on %d fixed features, %d train / %d val / %d test samples, %d classes\n",
		dir, a.Name, spec.Dim(), len(ds.Train), len(ds.Val), len(ds.Test), len(ds.Labels))
	f, err := fit(cfg, a, spec, ds)
	if err != nil {
		return nil, err
	}
	var reps [3]*metrics.Report
	var losses [3]float64
	for i, recs := range [][]data.Record{ds.Train, ds.Val, ds.Test} {
		if reps[i], losses[i], err = f.evaluate(recs, ds.Labels); err != nil {
			return nil, err
		}
	}
	ck := filepath.Join(dir, runfolder.CheckDir)
	if err := os.MkdirAll(ck, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteJSON(filepath.Join(ck, FittedModelFile), f.model); err != nil {
		return nil, err
	}
	ep := report.Epoch{Epoch: 1, TrainLoss: losses[0], ValLoss: losses[1], ValAccuracy: reps[1].Accuracy, Seconds: f.seconds, Metrics: reps[1].Scalars()}
	ep.Metrics["train_accuracy"] = reps[0].Accuracy
	mpath := filepath.Join(dir, runfolder.MetricsFile)
	os.Remove(mpath)
	if err := report.AppendMetricsJSONL(mpath, ep); err != nil {
		return nil, err
	}
	sum := &runfolder.Summary{
		Name: cfg.Name, Dir: dir, Classes: ds.Labels,
		TrainSamples: len(ds.Train), ValSamples: len(ds.Val), TestSamples: len(ds.Test),
		Parameters: f.size, Epochs: 1, BestEpoch: 1, TrainSeconds: f.seconds,
		Device: "cpu (Go)", Threads: 2, Val: reps[1], Test: reps[2],
	}
	if f.seconds > 0 {
		sum.SamplesPerSec = float64(len(ds.Train)) / f.seconds
	}
	if err := runfolder.WriteSummary(dir, sum); err != nil {
		return nil, err
	}
	if err := runfolder.WriteReport(dir, cfg, sum); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "vbg: test: acc %.4f  macro-F1 %.4f  mAP %.4f (fitted in %.1fs)\n", reps[2].Accuracy, reps[2].MacroF1, reps[2].MAP, f.seconds)
	return sum, nil
}

// featureSpec says which fixed features the baseline is fitted on.
func featureSpec(cfg *config.Config, a experiment.Arch, ds *experiment.Dataset) (FeatureSpec, error) {
	fc := cfg.Model.Baseline.Features
	spec := FeatureSpec{Image: fc.Image, Grid: fc.Grid, ImageSize: cfg.Data.ImageSize, Text: fc.Text}
	if a.Name == "majority" {
		return FeatureSpec{}, nil
	}
	if spec.Image == "encoder" {
		return spec, fmt.Errorf("%s: model.baseline.features.image: encoder features need a pretrained ViT, and none can be had offline here; use pixels", a.Name)
	}
	if spec.Text == "bow+encoder" {
		probe, err := experiment.TextEncoderFeatures(cfg, []string{"probe"})
		if err != nil {
			return spec, fmt.Errorf("%s: %w", a.Name, err)
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
	return spec, nil
}

// fit fits the baseline on the training split's features.
func fit(cfg *config.Config, a experiment.Arch, spec FeatureSpec, ds *experiment.Dataset) (*fitted, error) {
	start := time.Now()
	K := len(ds.Labels)
	f := &fitted{model: &fittedModel{Arch: a.Name, Features: spec}}
	yTrain := labelIDs(ds.Train)
	if a.Name == "majority" {
		prior := make([]float64, K)
		for _, c := range yTrain {
			prior[c] += 1 / float64(len(yTrain))
		}
		f.model.Prior, f.size = prior, int64(K)
		f.predict = func(X [][]float32) [][]float64 {
			out := make([][]float64, len(X))
			for i := range out {
				out[i] = prior
			}
			return out
		}
		f.feats = func(recs []data.Record) ([][]float32, error) { return make([][]float32, len(recs)), nil }
		f.seconds = time.Since(start).Seconds()
		return f, nil
	}
	f.feats = func(recs []data.Record) ([][]float32, error) { return spec.features(recs, cfg) }
	Xtr, err := f.feats(ds.Train)
	if err != nil {
		return nil, err
	}
	switch a.Name {
	case "gbdt":
		g := cfg.Model.Baseline.GBDT
		m, err := baselines.FitGBDT(Xtr, yTrain, K, baselines.GBDTParams{Rounds: g.Rounds, Depth: g.Depth, LearningRate: g.LearningRate, Bins: g.Bins, MinLeaf: g.MinLeaf})
		if err != nil {
			return nil, err
		}
		f.model.GBDT, f.predict, f.size = m, m.PredictProba, m.Size()
	case "logreg":
		l := cfg.Model.Baseline.LogReg
		m, err := baselines.FitLogReg(Xtr, yTrain, K, l.C, l.MaxIter)
		if err != nil {
			return nil, err
		}
		f.model.LogReg, f.predict, f.size = m, m.PredictProba, m.Size()
	default:
		return nil, fmt.Errorf("%s: not a fitted baseline", a.Name)
	}
	f.seconds = time.Since(start).Seconds()
	return f, nil
}

// evaluate computes the metrics and the mean log loss on recs.
func (f *fitted) evaluate(recs []data.Record, labels []string) (*metrics.Report, float64, error) {
	X, err := f.feats(recs)
	if err != nil {
		return nil, 0, err
	}
	probs := f.predict(X)
	ys := labelIDs(recs)
	var loss float64
	for i, p := range probs {
		loss -= math.Log(max(p[ys[i]], 1e-15))
	}
	rep, err := metrics.Compute(ys, probs, metrics.Options{ClassNames: labels})
	return rep, loss / float64(len(ys)), err
}

// labelIDs are the records' label ids.
func labelIDs(recs []data.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = r.LabelID
	}
	return out
}
