package train

import (
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
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/checkpoint"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/optim"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/seed"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/vbg"
)

// trainer holds one run's state on the worker's goroutine.
type trainer struct {
	cfg  *config.Config
	dir  string
	ds   *experiment.Dataset
	tok  vbg.Tokenizer
	w    *device.Worker
	opts Options
	log  io.Writer

	vs    *nn.VarStore
	model *infer.Model // the network with its tokenizer, device and precision
	opt   *optim.AdamW
	cw    *ts.Tensor // class weights or nil
	gan   *ganRun    // the GAN loop (gan.go); nil until it is set up

	trainL, valL, testL *data.Loader
	sched               optim.Schedule
	st                  checkpoint.State
	trainSeconds        float64   // of the epochs done, resumed ones included
	lastCheckpoint      time.Time // when a checkpoint was last written
}

// epochStats is what one pass over the training data measured.
type epochStats struct {
	epoch           int
	startStep       int64   // optimizer steps taken before the epoch
	lossSum         float64 // Σ loss·batch size
	loss            float64 // mean per sample
	correct, seen   int
	seconds         float64
	improved, early bool
}

// run is the training loop: build, resume, then per epoch a GAN round
// where one is due, one pass over the training data and a validation;
// finally the best checkpoint is tested.
func (t *trainer) run() (*runfolder.Summary, error) {
	if err := t.build(); err != nil {
		return nil, err
	}
	if err := t.openLoaders(); err != nil {
		return nil, err
	}
	if err := t.resume(); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	t.lastCheckpoint = time.Now()
	for epoch := t.st.Epoch + 1; epoch <= t.cfg.Train.Epochs; epoch++ {
		if err := t.feedback(epoch); err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		es, err := t.trainEpoch(epoch)
		if err != nil {
			return nil, err
		}
		if err := t.endEpoch(es); err != nil {
			return nil, err
		}
		if es.early {
			break
		}
	}
	return t.test()
}

// build makes the network, loads its pretrained encoders, and sets up the
// optimizer and the class weights.
func (t *trainer) build() error {
	c := t.cfg
	t.vs = nn.NewVarStore(t.w.Device)
	vocab := 0
	if t.tok != nil {
		vocab = t.tok.VocabSize()
	}
	net, err := experiment.Build(t.vs.Root(), c, vocab, len(t.ds.Labels))
	if err != nil {
		return err
	}
	t.model = infer.NewModel(c, net, t.tok, t.ds.Labels, t.w.Device)
	if err := experiment.LoadPretrained(t.vs, c, t.log); err != nil {
		return err
	}
	params, err := t.params()
	if err != nil {
		return err
	}
	if t.opt, err = optim.New(params, optim.Defaults(c.Train.WeightDecay)); err != nil {
		return err
	}
	if c.Model.Head.ClassWeights == "inverse" {
		if t.cw, err = inverseFrequency(t.ds.Train, len(t.ds.Labels), t.w); err != nil {
			return err
		}
	}
	return nil
}

// params lists the trainable variables in name order with their learning
// rate multiplier (train.encoder_lr for the encoders) and decay setting;
// frozen encoders are left out.
func (t *trainer) params() ([]optim.Param, error) {
	c := t.cfg
	encMul := 1.0
	if c.Train.EncoderLR > 0 {
		encMul = c.Train.EncoderLR / c.Train.LR
	}
	frozenImage := c.Train.FreezeEncoders || c.Model.Image.Freeze
	frozenText := c.Train.FreezeEncoders || c.Model.Text.Freeze
	vars := t.vs.Variables()
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var params []optim.Param
	for _, n := range names {
		v := vars[n]
		image, text := strings.HasPrefix(n, "vit."), strings.HasPrefix(n, "bert.")
		if (image && frozenImage) || (text && frozenText) {
			continue
		}
		if ok, err := tensor.RequiresGrad(&v); err != nil || !ok {
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			continue
		}
		mul := 1.0
		if image || text {
			mul = encMul
		}
		noDecay := strings.HasSuffix(n, ".bias") || strings.Contains(strings.ToLower(n), "norm") || strings.HasSuffix(n, "gate")
		params = append(params, optim.Param{Name: n, Tensor: &v, LRMul: mul, NoDecay: noDecay})
	}
	return params, nil
}

// inverseFrequency is the class weight n/(K·n_k) of each class k.
func inverseFrequency(train []data.Record, classes int, w *device.Worker) (*ts.Tensor, error) {
	counts := make([]float32, classes)
	for _, r := range train {
		counts[r.LabelID]++
	}
	weights := make([]float32, classes)
	for k, n := range counts {
		if n > 0 {
			weights[k] = float32(len(train)) / (float32(classes) * n)
		}
	}
	return tensor.FromSlice(weights, []int64{int64(classes)}, w.Device)
}

// numParams counts the model's parameters.
func (t *trainer) numParams() (int64, error) {
	var n int64
	for _, v := range t.vs.Variables() {
		k, err := tensor.Numel(&v)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// openLoaders makes the three splits' loaders and the schedule.
func (t *trainer) openLoaders() error {
	var err error
	if t.trainL, err = t.trainLoader(t.ds.Train); err != nil {
		return err
	}
	lc := infer.LoaderConfig(t.cfg)
	if t.valL, err = data.NewLoader(t.ds.Val, lc); err != nil {
		return err
	}
	if t.testL, err = data.NewLoader(t.ds.Test, lc); err != nil {
		return err
	}
	c := t.cfg.Train
	t.sched = optim.Schedule{Base: c.LR, Warmup: int64(c.WarmupSteps), Total: t.stepsPerEpoch() * int64(c.Epochs)}
	t.st = checkpoint.State{Best: math.Inf(-1), ConfigHash: experiment.ConfigHash(t.cfg)}
	return os.MkdirAll(filepath.Join(t.dir, runfolder.CheckDir), 0o755)
}

// stepsPerEpoch is the number of optimizer steps in one pass over the
// current training loader.
func (t *trainer) stepsPerEpoch() int64 {
	return int64(math.Ceil(float64(t.trainL.Len()) / float64(t.cfg.Train.Accumulate)))
}

// trainLoader is the loader of the training split: shuffled and augmented.
func (t *trainer) trainLoader(recs []data.Record) (*data.Loader, error) {
	c := t.cfg
	lc := infer.LoaderConfig(c)
	lc.Train, lc.Shuffle = true, true
	lc.Augment = data.Augment{HFlip: c.Data.Augment.Flip}
	if c.Data.Augment.CropScale < 1 {
		lc.Augment.RandomResizedCrop = true
		lc.Augment.Scale = [2]float64{c.Data.Augment.CropScale, 1}
		lc.Augment.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	return data.NewLoader(recs, lc)
}

// resume restores the last checkpoint when the run is resumed: weights,
// optimizer moments, the GAN's state and where training stood; the epochs
// of metrics.jsonl after it are dropped (they are run again).
func (t *trainer) resume() error {
	if t.opts.Resume == "" {
		return nil
	}
	last := filepath.Join(t.dir, runfolder.CheckDir, runfolder.LastFile)
	if _, err := os.Stat(last); errors.Is(err, os.ErrNotExist) {
		// Killed before its first checkpoint: nothing was kept, so start over.
		fmt.Fprintf(t.log, "vbg: %s has no checkpoint yet: training from the first step\n", t.dir)
		return rewriteMetrics(filepath.Join(t.dir, runfolder.MetricsFile), nil)
	}
	ck, err := checkpoint.Load(last)
	if err != nil {
		return err
	}
	err = ck.CheckLabels(t.ds.Labels, "the dataset")
	if err == nil {
		err = ck.Restore(t.vs)
	}
	if err == nil {
		err = t.opt.LoadState("optim.", ck.Optim, ck.State.Step)
	}
	if err == nil {
		err = t.restoreGAN(ck.Extra)
	}
	ck.Drop()
	if err != nil {
		return err
	}
	if ck.State.ConfigHash != t.st.ConfigHash {
		return fmt.Errorf("%s was written with another config than %s", ck.Path, filepath.Join(t.dir, runfolder.ConfigFile))
	}
	t.st = ck.State
	metricsPath := filepath.Join(t.dir, runfolder.MetricsFile)
	hist, err := report.ReadMetricsJSONL(metricsPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(hist) > t.st.Epoch {
		hist = hist[:t.st.Epoch]
	}
	if err := rewriteMetrics(metricsPath, hist); err != nil {
		return err
	}
	for _, e := range hist {
		t.trainSeconds += e.Seconds
	}
	if p := t.st.Partial; p != nil {
		t.trainSeconds += p.Seconds
		fmt.Fprintf(t.log, "vbg: resumed %s in epoch %d after batch %d, step %d\n", t.dir, t.st.Epoch+1, p.Batches, t.st.Step)
	} else {
		fmt.Fprintf(t.log, "vbg: resumed %s at epoch %d, step %d\n", t.dir, t.st.Epoch, t.st.Step)
	}
	return nil
}

// feedback runs the GAN round due at the start of epoch, if any, and then
// trains on the real and the generated records.
func (t *trainer) feedback(epoch int) error {
	gen, changed, err := t.ganFeedback(epoch)
	if err != nil || !changed {
		return err
	}
	if t.trainL, err = t.trainLoader(append(append([]data.Record(nil), t.ds.Train...), gen...)); err != nil {
		return err
	}
	// The epochs left now have another length: end the decay at the real
	// last step, counted from this epoch's start.
	start := t.st.Step
	if p := t.st.Partial; p != nil {
		start = p.StartStep
	}
	t.sched.Total = start + int64(t.cfg.Train.Epochs-epoch+1)*t.stepsPerEpoch()
	return nil
}

// trainEpoch is one pass over the training data: forward and backward per
// micro-batch, an optimizer step every train.accumulate of them, and a
// step checkpoint when one is due. After a resume inside the epoch it
// continues from the step checkpoint's batch with its running sums.
func (t *trainer) trainEpoch(epoch int) (*epochStats, error) {
	c := t.cfg
	es := &epochStats{epoch: epoch, startStep: t.st.Step}
	first := 0
	if p := t.st.Partial; p != nil {
		first, es.lossSum, es.correct, es.seen, es.seconds, es.startStep = p.Batches, p.LossSum, p.Correct, p.Seen, p.Seconds, p.StartStep
		t.st.Partial = nil
	}
	start := time.Now()
	bar := t.bar(t.trainL.Len(), fmt.Sprintf("epoch %d/%d", epoch, c.Train.Epochs))
	_ = bar.Set(first)
	for b, err := range t.trainL.EpochFrom(epoch, first) {
		if err != nil {
			return nil, err
		}
		loss, correct, err := t.microStep(b)
		if err != nil {
			return nil, fmt.Errorf("epoch %d batch %d: %w", epoch, b.Index, err)
		}
		es.lossSum += loss * float64(b.Len())
		es.correct += correct
		es.seen += b.Len()
		if t.groupEnds(b.Index) {
			if err := t.step(); err != nil {
				return nil, err
			}
			if t.opts.StopAfterSteps > 0 && t.st.Step >= t.opts.StopAfterSteps {
				return nil, ErrStopped
			}
			if err := t.stepCheckpoint(es, b.Index+1, start); err != nil {
				return nil, err
			}
		}
		el := time.Since(start).Seconds()
		bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f %.1f samples/s", epoch, c.Train.Epochs, es.lossSum/float64(es.seen), float64(es.seen)/el))
		_ = bar.Add(1)
	}
	_ = bar.Finish()
	es.loss = es.lossSum / float64(es.seen)
	secs := time.Since(start).Seconds()
	es.seconds += secs
	t.trainSeconds += secs
	return es, nil
}

// group is the accumulation group of micro-batch i: its first batch and
// its size (the epoch's last group may be short).
func (t *trainer) group(i int) (first, size int) {
	acc := t.cfg.Train.Accumulate
	first = i / acc * acc
	return first, min(acc, t.trainL.Len()-first)
}

// groupEnds reports whether micro-batch i ends its accumulation group.
func (t *trainer) groupEnds(i int) bool {
	first, size := t.group(i)
	return i == first+size-1
}

// microStep runs forward and backward on one micro-batch. Its dropout
// masks depend only on (seed, step, micro-batch), so a resumed run draws
// the same ones as an uninterrupted run.
func (t *trainer) microStep(b data.Batch) (float64, int, error) {
	first, size := t.group(b.Index)
	if err := ts.ManualSeed(seed.Torch(uint64(t.cfg.Seed), uint64(t.st.Step), uint64(b.Index-first))); err != nil {
		return 0, 0, err
	}
	bt, err := t.model.Batch(b)
	if err != nil {
		return 0, 0, err
	}
	defer bt.Drop()
	return t.backward(bt, size)
}

// stepCheckpoint writes the last checkpoint in the middle of an epoch
// when train.checkpoint says one is due: after every_steps optimizer
// steps or every_minutes since the last checkpoint. next is the first
// batch not yet trained on; the epoch's own end writes its checkpoint.
func (t *trainer) stepCheckpoint(es *epochStats, next int, start time.Time) error {
	if t.opts.Probe != nil {
		t.opts.Probe("step", t.st.Step)
	}
	if next >= t.trainL.Len() {
		return nil
	}
	every := t.cfg.Train.Checkpoint
	due := (every.EverySteps > 0 && t.st.Step%int64(every.EverySteps) == 0) ||
		(every.EveryMinutes > 0 && time.Since(t.lastCheckpoint).Minutes() >= every.EveryMinutes)
	if !due {
		return nil
	}
	st := t.st
	st.Partial = &checkpoint.Partial{Batches: next, LossSum: es.lossSum, Correct: es.correct, Seen: es.seen,
		Seconds: es.seconds + time.Since(start).Seconds(), StartStep: es.startStep}
	return t.save(runfolder.LastFile, st, t.resumeState())
}

// save writes a checkpoint of the run's variables with extra tensors.
func (t *trainer) save(file string, st checkpoint.State, extra map[string]*ts.Tensor) error {
	var midway func()
	if t.opts.Probe != nil {
		midway = func() { t.opts.Probe("checkpoint", t.st.Step) }
	}
	c := checkpoint.Contents{State: st, Labels: t.ds.Labels, Extra: extra}
	if err := checkpoint.Save(filepath.Join(t.dir, runfolder.CheckDir, file), t.vs, c, midway); err != nil {
		return err
	}
	t.lastCheckpoint = time.Now()
	return nil
}

// step clips the accumulated gradients, updates the weights at the
// schedule's rate and clears the gradients.
func (t *trainer) step() error {
	if n := t.cfg.Train.ClipNorm; n > 0 {
		if _, err := t.opt.ClipGradNorm(n); err != nil {
			return err
		}
	}
	if err := t.opt.Update(t.sched.At(t.st.Step)); err != nil {
		return err
	}
	if err := t.opt.ZeroGrad(); err != nil {
		return err
	}
	t.st.Step = t.opt.Step
	return nil
}

// endEpoch validates, appends the epoch to metrics.jsonl, writes the best
// (when improved) and the last checkpoint, and decides on early stopping.
func (t *trainer) endEpoch(es *epochStats) error {
	c := t.cfg
	val, err := t.model.Evaluate(t.valL)
	if err != nil {
		return fmt.Errorf("validation: %w", err)
	}
	ep := report.Epoch{Epoch: es.epoch, TrainLoss: es.loss, ValLoss: val.Loss,
		ValAccuracy: val.Report.Accuracy, LR: t.sched.At(t.st.Step - 1), Seconds: es.seconds, Metrics: val.Report.Scalars()}
	ep.Metrics["train_accuracy"] = float64(es.correct) / float64(es.seen)
	if err := report.AppendMetricsJSONL(filepath.Join(t.dir, runfolder.MetricsFile), ep); err != nil {
		return err
	}
	score := selectionScore(c.Train.EarlyStop.Metric, val.Report, val.Loss)
	t.st.Epoch = es.epoch
	if es.improved = score > t.st.Best; es.improved {
		t.st.Best, t.st.BestEpoch, t.st.SinceBest = score, es.epoch, 0
		if err := t.save(runfolder.BestFile, t.st, nil); err != nil {
			return err
		}
	} else {
		t.st.SinceBest++
	}
	if err := t.save(runfolder.LastFile, t.st, t.resumeState()); err != nil {
		return err
	}
	mark := ""
	if es.improved {
		mark = " *"
	}
	fmt.Fprintf(t.log, "epoch %d/%d  train loss %.4f acc %.3f | val loss %.4f acc %.3f macro-F1 %.3f | %.1fs%s\n",
		es.epoch, c.Train.Epochs, ep.TrainLoss, ep.Metrics["train_accuracy"], val.Loss, val.Report.Accuracy, val.Report.MacroF1, es.seconds, mark)
	if p := c.Train.EarlyStop.Patience; p > 0 && t.st.SinceBest >= p {
		fmt.Fprintf(t.log, "vbg: early stop: no improvement of val %s for %d epochs\n", c.Train.EarlyStop.Metric, p)
		es.early = true
	}
	return nil
}

// resumeState is what the last checkpoint holds besides the weights: the
// optimizer's moments and the GAN's state.
func (t *trainer) resumeState() map[string]*ts.Tensor {
	out := t.opt.State("optim.")
	for k, v := range t.ganState() {
		out[k] = v
	}
	return out
}

// test restores the best checkpoint, evaluates it on the validation and
// test splits, and writes summary.json and report.md.
func (t *trainer) test() (*runfolder.Summary, error) {
	best, err := checkpoint.Load(filepath.Join(t.dir, runfolder.CheckDir, runfolder.BestFile))
	if err != nil {
		return nil, err
	}
	err = best.CheckLabels(t.ds.Labels, "the dataset")
	if err == nil {
		err = best.Restore(t.vs)
	}
	best.Drop()
	if err != nil {
		return nil, err
	}
	val, err := t.model.Evaluate(t.valL)
	if err != nil {
		return nil, err
	}
	test, err := t.model.Evaluate(t.testL)
	if err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	n, err := t.numParams()
	if err != nil {
		return nil, err
	}
	c, ds, st := t.cfg, t.ds, t.st
	sum := &runfolder.Summary{
		Name: c.Name, Dir: t.dir, Classes: ds.Labels,
		TrainSamples: len(ds.Train), ValSamples: len(ds.Val), TestSamples: len(ds.Test),
		Parameters: n, Epochs: st.Epoch, BestEpoch: st.BestEpoch, Steps: st.Step,
		TrainSeconds: t.trainSeconds, Device: c.Device, Threads: t.w.Threads, Val: val.Report, Test: test.Report,
	}
	if t.trainSeconds > 0 {
		sum.SamplesPerSec = float64(len(ds.Train)*st.Epoch) / t.trainSeconds
	}
	return sum, t.finish(sum)
}

// finish writes the summary and the report and logs the test metrics.
func (t *trainer) finish(sum *runfolder.Summary) error {
	if err := runfolder.WriteSummary(t.dir, sum); err != nil {
		return err
	}
	if err := runfolder.WriteReport(t.dir, t.cfg, sum); err != nil {
		return err
	}
	r := sum.Test
	fmt.Fprintf(t.log, "vbg: test (best epoch %d): acc %.4f  macro-F1 %.4f  mAP %.4f  recall %.4f  AUC %s\n",
		sum.BestEpoch, r.Accuracy, r.MacroF1, r.MAP, r.MacroRecall, fmtAUC(r.MacroAUC))
	return nil
}

func fmtAUC(a *float64) string {
	if a == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", *a)
}

// backward runs forward and backward on one micro-batch and returns its
// loss and its number of correct predictions. The loss is divided by the
// size of the batch's accumulation group so that the summed gradients
// average the group's batches.
func (t *trainer) backward(b *vbg.Batch, accumulate int) (float64, int, error) {
	out, err := t.model.Forward(b.In, true)
	if err != nil {
		return 0, 0, err
	}
	defer out.Drop()
	loss, err := t.model.Net.Loss(out.Logits, b.Labels, t.cw)
	if err != nil {
		return 0, 0, err
	}
	defer tensor.Drop(loss)
	lossVal, err := tensor.Scalar(loss)
	if err != nil {
		return 0, 0, err
	}
	if math.IsNaN(lossVal) || math.IsInf(lossVal, 0) {
		return 0, 0, fmt.Errorf("loss is %v: lower train.lr or check the data", lossVal)
	}
	scaled := loss
	if accumulate > 1 {
		if scaled, err = loss.DivScalar(ts.FloatScalar(float64(accumulate)), false); err != nil {
			return 0, 0, err
		}
		defer tensor.Drop(scaled)
	}
	if err := scaled.Backward(); err != nil {
		return 0, 0, fmt.Errorf("backward: %w", err)
	}
	correct, err := countCorrect(out.Logits, b.Labels)
	return lossVal, correct, err
}

// countCorrect is the number of rows of logits whose argmax is the label.
func countCorrect(logits, labels *ts.Tensor) (int, error) {
	var n float64
	err := tensor.NoGrad(func() error {
		s := layers.NewScope("accuracy")
		pred := s.Do(func() (*ts.Tensor, error) { return logits.Argmax([]int64{1}, false, false) })
		hit := s.Do(func() (*ts.Tensor, error) { return pred.EqTensor(labels, false) })
		n = s.Float(s.Do(func() (*ts.Tensor, error) { return hit.Sum(labels.DType(), false) }))
		return s.Close()
	})
	return int(n), err
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

// bar is a progress bar on the run's progress writer.
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
