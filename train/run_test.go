package train

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
)

// smokeConfig is experiments/smoke.yaml with test-sized overrides.
func smokeConfig(t *testing.T, sets ...string) *config.Config {
	t.Helper()
	cfg, err := experiment.Load("../experiments/smoke.yaml", append([]string{"output.dir=" + t.TempDir(), "threads=2"}, sets...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSkeletonLearns trains the smoke experiment and checks that the loss
// falls and that held-out accuracy is far above chance (0.25 on 4 classes;
// one modality alone can reach at most 0.5).
func TestSkeletonLearns(t *testing.T) {
	cfg := smokeConfig(t)
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(cfg, dir, Options{Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := report.ReadMetricsJSONL(filepath.Join(dir, runfolder.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(epochs) != cfg.Train.Epochs {
		t.Fatalf("%d epochs logged, want %d", len(epochs), cfg.Train.Epochs)
	}
	first, last := epochs[0].TrainLoss, epochs[len(epochs)-1].TrainLoss
	t.Logf("train loss %.3f -> %.3f; test accuracy %.3f, macro-F1 %.3f", first, last, sum.Test.Accuracy, sum.Test.MacroF1)
	if !(last < 0.5*first) {
		t.Errorf("train loss fell from %.3f to %.3f; want below half", first, last)
	}
	if sum.Test.Accuracy < 0.8 {
		t.Errorf("test accuracy %.3f; want >= 0.8 (chance 0.25, one modality alone <= 0.5)", sum.Test.Accuracy)
	}
	for _, f := range []string{runfolder.ConfigFile, runfolder.MetricsFile, runfolder.SummaryFile, runfolder.ReportFile, runfolder.LabelsFile, experiment.VocabFile,
		filepath.Join(runfolder.CheckDir, runfolder.BestFile), filepath.Join(runfolder.CheckDir, runfolder.LastFile), "figures/loss.png", "figures/confusion.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
}

// TestBF16Autocast trains the smoke experiment with the forward pass under
// bfloat16 autocast (on the CPU here; the same code path serves CUDA) and
// checks that it still learns.
func TestBF16Autocast(t *testing.T) {
	cfg := smokeConfig(t, "train.precision=bf16", "train.epochs=4")
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(cfg, dir, Options{Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := report.ReadMetricsJSONL(filepath.Join(dir, runfolder.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	first, last := epochs[0].TrainLoss, epochs[len(epochs)-1].TrainLoss
	t.Logf("bf16: train loss %.3f -> %.3f, test accuracy %.3f", first, last, sum.Test.Accuracy)
	if !(last < 0.7*first) || sum.Test.Accuracy < 0.5 {
		t.Errorf("bf16 training did not learn: loss %.3f -> %.3f, test accuracy %.3f", first, last, sum.Test.Accuracy)
	}
}
