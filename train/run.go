// Package train runs an experiment: it builds the data, the tokenizer and
// the model from a config, trains with AdamW under a warmup-cosine schedule,
// evaluates on the validation split every epoch, keeps the best and last
// checkpoints, resumes after a crash, and writes the run folder:
//
//	config.yaml     the resolved experiment
//	labels.json     class names in label-id order
//	vocab.json      the word vocabulary (tokenizer: words)
//	metrics.jsonl   one line per epoch
//	summary.json    test metrics of the best checkpoint, timings, sizes
//	checkpoints/    best.safetensors, last.safetensors
//	report.md       curves and confusion matrix (PNG) with the tables
//
// All tensor work happens on one device.Worker.
package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/vbg"
)

// Files of a run folder.
const (
	ConfigFile  = "config.yaml"
	LabelsFile  = "labels.json"
	VocabFile   = "vocab.json"
	MetricsFile = "metrics.jsonl"
	SummaryFile = "summary.json"
	ReportFile  = "report.md"
	CheckDir    = "checkpoints"
	BestFile    = "best.safetensors"
	LastFile    = "last.safetensors"
)

// Options control one call of Run.
type Options struct {
	// Resume continues the run in this folder from its last checkpoint; the
	// config must be the one in the folder.
	Resume string
	// Progress receives progress bars; nil means stderr. Quiet turns them off.
	Progress io.Writer
	Quiet    bool
	// Log receives one line per epoch; nil means stderr.
	Log io.Writer
	// StopAfterSteps, when positive, ends the process-level run after that
	// many optimizer steps (as if killed) without writing anything more:
	// used by tests of resume.
	StopAfterSteps int64
}

// Summary is summary.json: the outcome of a run.
type Summary struct {
	Name          string          `json:"name"`
	Dir           string          `json:"dir"`
	Classes       []string        `json:"classes"`
	TrainSamples  int             `json:"train_samples"`
	ValSamples    int             `json:"val_samples"`
	TestSamples   int             `json:"test_samples"`
	Parameters    int64           `json:"parameters"`
	Epochs        int             `json:"epochs"`
	BestEpoch     int             `json:"best_epoch"`
	Steps         int64           `json:"steps"`
	TrainSeconds  float64         `json:"train_seconds"`
	SamplesPerSec float64         `json:"train_samples_per_second"`
	Device        string          `json:"device"`
	Threads       int             `json:"threads"`
	Val           *metrics.Report `json:"val"`
	Test          *metrics.Report `json:"test"`
}

// ErrStopped is returned when Options.StopAfterSteps ended the run early.
var ErrStopped = errors.New("train: stopped after the requested number of steps")

// NewRunDir creates a fresh run folder under cfg.Output.Dir named
// NAME-YYYYMMDD-HHMMSS (with a suffix if that exists) and returns its path.
func NewRunDir(cfg *config.Config, now time.Time) (string, error) {
	if err := os.MkdirAll(cfg.Output.Dir, 0o755); err != nil {
		return "", fmt.Errorf("output.dir: %w", err)
	}
	base := filepath.Join(cfg.Output.Dir, cfg.Name+"-"+now.Format("20060102-150405"))
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create run folder: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// Run trains and evaluates cfg in dir (a folder made by NewRunDir, or the
// folder of a run to resume) and returns its summary.
func Run(cfg *config.Config, dir string, opts Options) (*Summary, error) {
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	resuming := opts.Resume != ""
	if !resuming {
		y, err := cfg.Marshal()
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(dir, ConfigFile), y); err != nil {
			return nil, err
		}
	}
	ds, err := LoadDataset(cfg, dir)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, LabelsFile), ds.Labels); err != nil {
		return nil, err
	}
	tok, err := BuildTokenizer(cfg, dir, ds, resuming)
	if err != nil {
		return nil, err
	}
	w, err := device.Start(device.Config{Device: cfg.Device, Threads: cfg.Threads, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	fmt.Fprintf(logw, "vbg: run %s: %d train / %d val / %d test samples, %d classes, device %s, %d threads\n",
		dir, len(ds.Train), len(ds.Val), len(ds.Test), len(ds.Labels), cfg.Device, w.Threads)
	var sum *Summary
	err = w.Do(func() error {
		t := &trainer{cfg: cfg, dir: dir, ds: ds, tok: tok, w: w, opts: opts, log: logw}
		var err error
		sum, err = t.run()
		return err
	})
	return sum, err
}

// trainer holds one run's state on the worker thread.
type trainer struct {
	cfg   *config.Config
	dir   string
	ds    *Dataset
	tok   vbg.Tokenizer
	w     *device.Worker
	opts  Options
	log   io.Writer
	vs    *nn.VarStore
	model vbg.Network
	opt   *AdamW
	cw    *ts.Tensor // class weights or nil
	gan   *ganRun    // the GAN loop (train/gan.go); nil until it is set up
}

func (t *trainer) uses() (image, text bool) {
	return t.model.Uses()
}

func (t *trainer) textTokenizer() vbg.Tokenizer {
	if _, text := t.uses(); text {
		return t.tok
	}
	return nil
}

func (t *trainer) build() error {
	c := t.cfg
	t.vs = nn.NewVarStore(t.w.Device)
	vocab := 0
	if t.tok != nil {
		vocab = t.tok.VocabSize()
	}
	var err error
	t.model, err = NewNetwork(t.vs.Root(), c, vocab, len(t.ds.Labels))
	if err != nil {
		return err
	}
	if err := LoadPretrained(t.vs, c, t.log); err != nil {
		return err
	}
	encMul := 1.0
	if c.Train.EncoderLR > 0 {
		encMul = c.Train.EncoderLR / c.Train.LR
	}
	vars := t.vs.Variables()
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var params []Param
	for _, n := range names {
		v := vars[n]
		frozenImage := c.Train.FreezeEncoders || c.Model.Image.Freeze
		frozenText := c.Train.FreezeEncoders || c.Model.Text.Freeze
		enc := strings.HasPrefix(n, "vit.") || strings.HasPrefix(n, "bert.")
		if (strings.HasPrefix(n, "vit.") && frozenImage) || (strings.HasPrefix(n, "bert.") && frozenText) {
			continue
		}
		if !v.MustRequiresGrad() {
			continue
		}
		mul := 1.0
		if enc {
			mul = encMul
		}
		noDecay := strings.HasSuffix(n, ".bias") || strings.Contains(strings.ToLower(n), "norm") || strings.HasSuffix(n, "gate")
		tensor := v
		params = append(params, Param{Name: n, Tensor: &tensor, LRMul: mul, NoDecay: noDecay})
	}
	if t.opt, err = NewAdamW(params, c.Train.WeightDecay); err != nil {
		return err
	}
	if c.Model.Head.ClassWeights == "inverse" {
		counts := make([]float32, len(t.ds.Labels))
		for _, r := range t.ds.Train {
			counts[r.LabelID]++
		}
		w := make([]float32, len(counts))
		for k, n := range counts {
			if n > 0 {
				w[k] = float32(len(t.ds.Train)) / (float32(len(counts)) * n)
			}
		}
		if t.cw, err = toDevice(w, []int64{int64(len(w))}, t.w.Device); err != nil {
			return err
		}
	}
	return nil
}

// numParams counts the model's parameters.
func (t *trainer) numParams() int64 {
	var n int64
	for _, v := range t.vs.Variables() {
		size := v.MustSize()
		k := int64(1)
		for _, s := range size {
			k *= s
		}
		n += k
	}
	return n
}

// trainLoader makes the loader of the training split (real records, plus
// generated ones when the GAN loop is on).
func (t *trainer) trainLoader(recs []data.Record) (*data.Loader, error) {
	return t.newLoader(recs, true)
}

func (t *trainer) loaders() (train, val, test *data.Loader, err error) {
	if train, err = t.newLoader(t.ds.Train, true); err != nil {
		return
	}
	if val, err = t.newLoader(t.ds.Val, false); err != nil {
		return
	}
	test, err = t.newLoader(t.ds.Test, false)
	return
}

func (t *trainer) newLoader(recs []data.Record, isTrain bool) (*data.Loader, error) {
	c := t.cfg
	lc := EvalLoaderConfig(c)
	if isTrain {
		lc.Train, lc.Shuffle = true, true
		lc.Augment = data.Augment{HFlip: c.Data.Augment.Flip}
		if c.Data.Augment.CropScale < 1 {
			lc.Augment.RandomResizedCrop = true
			lc.Augment.Scale = [2]float64{c.Data.Augment.CropScale, 1}
			lc.Augment.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
		}
	}
	return data.NewLoader(recs, lc)
}

func (t *trainer) run() (*Summary, error) {
	c := t.cfg
	if err := t.build(); err != nil {
		return nil, err
	}
	trainL, valL, testL, err := t.loaders()
	if err != nil {
		return nil, err
	}
	stepsPerEpoch := int64(math.Ceil(float64(trainL.Len()) / float64(c.Train.Accumulate)))
	sched := Schedule{Base: c.Train.LR, Warmup: int64(c.Train.WarmupSteps), Total: stepsPerEpoch * int64(c.Train.Epochs)}
	st := State{Best: math.Inf(-1), ConfigHash: configHash(c)}
	metricsPath := filepath.Join(t.dir, MetricsFile)
	ckDir := filepath.Join(t.dir, CheckDir)
	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		return nil, err
	}
	var trainSeconds float64
	if t.opts.Resume != "" {
		ck, err := LoadCheckpoint(filepath.Join(ckDir, LastFile))
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		err = ck.Restore(t.vs)
		if err == nil {
			err = t.opt.LoadState(ck.Optim, ck.State.Step)
		}
		if err == nil {
			err = t.restoreGAN(ck.Extra)
		}
		ck.Drop()
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if ck.State.ConfigHash != st.ConfigHash {
			return nil, fmt.Errorf("resume: %s was written with another config than %s", ck.Path, filepath.Join(t.dir, ConfigFile))
		}
		st = ck.State
		hist, err := report.ReadMetricsJSONL(metricsPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if len(hist) > st.Epoch {
			hist = hist[:st.Epoch]
		}
		if err := rewriteMetrics(metricsPath, hist); err != nil {
			return nil, err
		}
		for _, e := range hist {
			trainSeconds += e.Seconds
		}
		fmt.Fprintf(t.log, "vbg: resumed %s at epoch %d, step %d\n", t.dir, st.Epoch, st.Step)
	}
	useImage, _ := t.uses()
	tok := t.textTokenizer()
	samples := 0
	for epoch := st.Epoch + 1; epoch <= c.Train.Epochs; epoch++ {
		if gen, changed, err := t.ganFeedback(epoch); err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		} else if changed {
			if trainL, err = t.trainLoader(append(append([]data.Record(nil), t.ds.Train...), gen...)); err != nil {
				return nil, err
			}
			// The epochs left now have another length: end the decay at the real last step.
			sched.Total = st.Step + int64(c.Train.Epochs-epoch+1)*int64(math.Ceil(float64(trainL.Len())/float64(c.Train.Accumulate)))
		}
		start := time.Now()
		bar := t.bar(trainL.Len(), fmt.Sprintf("epoch %d/%d", epoch, c.Train.Epochs))
		var lossSum float64
		var lossN, correct, seen int
		micro := 0
		for b, err := range trainL.Epoch(epoch) {
			if err != nil {
				return nil, err
			}
			// Dropout masks depend only on (seed, step, micro-batch), so a
			// resumed run draws the same ones as an uninterrupted run.
			if err := ts.ManualSeed(int64(mixSeed(uint64(c.Seed), uint64(st.Step), uint64(micro)))); err != nil {
				return nil, err
			}
			bt, err := makeBatch(b, tok, c.Data.MaxTextLen, useImage, t.w.Device)
			if err != nil {
				return nil, err
			}
			loss, nCorrect, err := t.trainStep(bt, c.Train.Accumulate)
			bt.drop()
			if err != nil {
				return nil, fmt.Errorf("epoch %d batch %d: %w", epoch, b.Index, err)
			}
			lossSum += loss * float64(b.Len())
			lossN += b.Len()
			correct += nCorrect
			seen += b.Len()
			micro++
			if micro == c.Train.Accumulate || b.Index == trainL.Len()-1 {
				if c.Train.ClipNorm > 0 {
					if _, err := t.opt.ClipGradNorm(c.Train.ClipNorm); err != nil {
						return nil, err
					}
				}
				if err := t.opt.Update(sched.At(st.Step)); err != nil {
					return nil, err
				}
				if err := t.opt.ZeroGrad(); err != nil {
					return nil, err
				}
				st.Step = t.opt.Step
				micro = 0
				if t.opts.StopAfterSteps > 0 && st.Step >= t.opts.StopAfterSteps {
					return nil, ErrStopped
				}
			}
			el := time.Since(start).Seconds()
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f %.1f samples/s", epoch, c.Train.Epochs, lossSum/float64(lossN), float64(seen)/el))
			_ = bar.Add(1)
		}
		_ = bar.Finish()
		samples += seen
		secs := time.Since(start).Seconds()
		trainSeconds += secs
		valRep, valLoss, err := t.evaluate(valL)
		if err != nil {
			return nil, fmt.Errorf("validation: %w", err)
		}
		ep := report.Epoch{Epoch: epoch, TrainLoss: lossSum / float64(lossN), ValLoss: valLoss,
			ValAccuracy: valRep.Accuracy, LR: sched.At(st.Step - 1), Seconds: secs, Metrics: valRep.Scalars()}
		ep.Metrics["train_accuracy"] = float64(correct) / float64(seen)
		if err := report.AppendMetricsJSONL(metricsPath, ep); err != nil {
			return nil, err
		}
		score := selectionScore(c.Train.EarlyStop.Metric, valRep, valLoss)
		st.Epoch = epoch
		improved := score > st.Best
		if improved {
			st.Best, st.BestEpoch, st.SinceBest = score, epoch, 0
			if err := SaveCheckpoint(filepath.Join(ckDir, BestFile), t.vs, nil, nil, st); err != nil {
				return nil, err
			}
		} else {
			st.SinceBest++
		}
		if err := SaveCheckpoint(filepath.Join(ckDir, LastFile), t.vs, t.opt, t.ganState(), st); err != nil {
			return nil, err
		}
		mark := ""
		if improved {
			mark = " *"
		}
		fmt.Fprintf(t.log, "epoch %d/%d  train loss %.4f acc %.3f | val loss %.4f acc %.3f macro-F1 %.3f | %.1fs%s\n",
			epoch, c.Train.Epochs, ep.TrainLoss, ep.Metrics["train_accuracy"], valLoss, valRep.Accuracy, valRep.MacroF1, secs, mark)
		if p := c.Train.EarlyStop.Patience; p > 0 && st.SinceBest >= p {
			fmt.Fprintf(t.log, "vbg: early stop: no improvement of val %s for %d epochs\n", c.Train.EarlyStop.Metric, p)
			break
		}
	}
	// Test the best checkpoint.
	best, err := LoadCheckpoint(filepath.Join(ckDir, BestFile))
	if err != nil {
		return nil, err
	}
	err = best.Restore(t.vs)
	best.Drop()
	if err != nil {
		return nil, err
	}
	valRep, _, err := t.evaluate(valL)
	if err != nil {
		return nil, err
	}
	testRep, _, err := t.evaluate(testL)
	if err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	sum := &Summary{
		Name: c.Name, Dir: t.dir, Classes: t.ds.Labels,
		TrainSamples: len(t.ds.Train), ValSamples: len(t.ds.Val), TestSamples: len(t.ds.Test),
		Parameters: t.numParams(), Epochs: st.Epoch, BestEpoch: st.BestEpoch, Steps: st.Step,
		TrainSeconds: trainSeconds, Device: c.Device, Threads: t.w.Threads, Val: valRep, Test: testRep,
	}
	if trainSeconds > 0 {
		sum.SamplesPerSec = float64(len(t.ds.Train)*st.Epoch) / trainSeconds
	}
	if err := writeJSON(filepath.Join(t.dir, SummaryFile), sum); err != nil {
		return nil, err
	}
	if err := WriteReport(t.dir, c, sum); err != nil {
		return nil, err
	}
	fmt.Fprintf(t.log, "vbg: test (best epoch %d): acc %.4f  macro-F1 %.4f  mAP %.4f  recall %.4f  AUC %s\n",
		st.BestEpoch, testRep.Accuracy, testRep.MacroF1, testRep.MAP, testRep.MacroRecall, fmtAUC(testRep.MacroAUC))
	return sum, nil
}

func fmtAUC(a *float64) string {
	if a == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", *a)
}

// forward runs the network, under bf16 autocast when train.precision says
// so; the logits come back as float32 either way.
func (t *trainer) forward(in vbg.Inputs, train bool) (*vbg.Output, error) {
	if t.cfg.Train.Precision != "bf16" {
		return t.model.Forward(in, train)
	}
	var out *vbg.Output
	var err error
	if aerr := ts.Autocast(t.w.Device.IsCuda(), true, func() { out, err = t.model.Forward(in, train) }); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, err
	}
	for _, p := range []**ts.Tensor{&out.Logits, &out.Fused} {
		if *p != nil && (*p).DType() != gotch.Float {
			f, err := (*p).Totype(gotch.Float, true)
			if err != nil {
				out.Drop()
				return nil, err
			}
			*p = f
		}
	}
	return out, nil
}

// trainStep runs forward and backward on one micro-batch and returns its
// loss and number of correct predictions.
func (t *trainer) trainStep(b *batchTensors, accumulate int) (float64, int, error) {
	out, err := t.forward(b.in, true)
	if err != nil {
		return 0, 0, err
	}
	defer out.Drop()
	loss, err := t.model.Loss(out.Logits, b.labels, t.cw)
	if err != nil {
		return 0, 0, err
	}
	defer loss.Drop()
	lossVal := loss.Float64Values()[0]
	if math.IsNaN(lossVal) || math.IsInf(lossVal, 0) {
		return 0, 0, fmt.Errorf("loss is %v: lower train.lr or check the data", lossVal)
	}
	scaled := loss
	if accumulate > 1 {
		if scaled, err = loss.DivScalar(ts.FloatScalar(float64(accumulate)), false); err != nil {
			return 0, 0, err
		}
		defer scaled.Drop()
	}
	if err := scaled.Backward(); err != nil {
		return 0, 0, fmt.Errorf("backward: %w", err)
	}
	correct, err := countCorrect(out.Logits, b.labels)
	return lossVal, correct, err
}

func countCorrect(logits, labels *ts.Tensor) (int, error) {
	var n int
	var err error
	ts.NoGrad(func() {
		var pred, eq *ts.Tensor
		if pred, err = logits.Argmax([]int64{1}, false, false); err != nil {
			return
		}
		defer pred.Drop()
		if eq, err = pred.EqTensor(labels, false); err != nil {
			return
		}
		defer eq.Drop()
		var s *ts.Tensor
		if s, err = eq.Sum(labels.DType(), false); err != nil {
			return
		}
		n = int(s.Int64Values()[0])
		s.Drop()
	})
	return n, err
}

// evaluate runs the model in eval mode over a loader and returns the
// metrics report and the mean loss.
func (t *trainer) evaluate(l *data.Loader) (*metrics.Report, float64, error) {
	rep, loss, _, err := t.evaluateProbs(l)
	return rep, loss, err
}

// evaluateProbs is evaluate that also returns every sample's probabilities.
func (t *trainer) evaluateProbs(l *data.Loader) (*metrics.Report, float64, [][]float64, error) {
	useImage, _ := t.uses()
	tok := t.textTokenizer()
	var probs [][]float64
	var labels []int
	var lossSum float64
	var err error
	ts.NoGrad(func() {
		for b, e := range l.Epoch(0) {
			if e != nil {
				err = e
				return
			}
			var bt *batchTensors
			if bt, err = makeBatch(b, tok, t.cfg.Data.MaxTextLen, useImage, t.w.Device); err != nil {
				return
			}
			var p [][]float64
			var loss float64
			p, loss, err = t.predictBatch(bt)
			bt.drop()
			if err != nil {
				return
			}
			probs = append(probs, p...)
			for _, y := range b.Labels {
				labels = append(labels, int(y))
			}
			lossSum += loss * float64(b.Len())
		}
	})
	if err != nil {
		return nil, 0, nil, err
	}
	if len(labels) == 0 {
		return nil, 0, nil, fmt.Errorf("evaluate: no samples")
	}
	rep, err := metrics.Compute(labels, probs, metrics.Options{ClassNames: t.ds.Labels})
	if err != nil {
		return nil, 0, nil, err
	}
	return rep, lossSum / float64(len(labels)), probs, nil
}

// predictBatch returns softmax probabilities and the mean loss of a batch.
func (t *trainer) predictBatch(b *batchTensors) ([][]float64, float64, error) {
	out, err := t.forward(b.in, false)
	if err != nil {
		return nil, 0, err
	}
	defer out.Drop()
	loss, err := t.model.Loss(out.Logits, b.labels, nil)
	if err != nil {
		return nil, 0, err
	}
	lossVal := loss.Float64Values()[0]
	loss.Drop()
	p, err := vbg.Probabilities(out.Logits)
	return p, lossVal, err
}

// selectionScore is the value that early stopping and the best checkpoint
// maximise.
func selectionScore(metric string, r *metrics.Report, loss float64) float64 {
	switch metric {
	case "macro_f1":
		return r.MacroF1
	case "loss":
		return -loss
	}
	return r.Accuracy
}

func (t *trainer) bar(total int, desc string) *progressbar.ProgressBar {
	w := t.opts.Progress
	if w == nil {
		w = os.Stderr
	}
	if t.opts.Quiet {
		w = io.Discard
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// mixSeed derives a seed from the run seed and counters (splitmix64).
func mixSeed(seed uint64, vals ...uint64) uint64 {
	h := seed
	for _, v := range vals {
		h += 0x9e3779b97f4a7c15 + v
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h >> 1 // libtorch seeds are taken as int64
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// rewriteMetrics keeps only the epochs a resumed checkpoint covers.
func rewriteMetrics(path string, epochs []report.Epoch) error {
	tmp := path + ".resume"
	os.Remove(tmp)
	for _, e := range epochs {
		if err := report.AppendMetricsJSONL(tmp, e); err != nil {
			return err
		}
	}
	if len(epochs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.Rename(tmp, path)
}
