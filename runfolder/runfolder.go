// Package runfolder is the layout of a run's folder: the names of its
// files, summary.json, and report.md with its figures. Training writes a
// run folder; evaluation, prediction, export, explanation and comparisons
// read it.
package runfolder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/report"
)

// Files of a run folder (the word vocabulary, vocab.json, is
// experiment.VocabFile).
const (
	ConfigFile  = "config.yaml"
	LabelsFile  = "labels.json"
	MetricsFile = "metrics.jsonl"
	SummaryFile = "summary.json"
	ReportFile  = "report.md"
	CheckDir    = "checkpoints"
	BestFile    = "best.safetensors"
	LastFile    = "last.safetensors"
)

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

// NewRunDir creates a fresh run folder under cfg.Output.Dir named
// NAME-YYYYMMDD-HHMMSS (with a suffix if that exists) and returns its path.
func New(cfg *config.Config, now time.Time) (string, error) {
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

// ReadSummary reads dir's summary.json; a run without test metrics (one
// that did not finish) is an error.
func ReadSummary(dir string) (*Summary, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Summary{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Test == nil {
		return nil, errors.New(path + ": no test metrics")
	}
	return s, nil
}

// WriteSummary writes dir's summary.json.
func WriteSummary(dir string, s *Summary) error {
	return atomicfile.WriteJSON(filepath.Join(dir, SummaryFile), s)
}

// ReadLabels reads dir's labels.json: the class names in label-id order.
func ReadLabels(dir string) ([]string, error) {
	path := filepath.Join(dir, LabelsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var labels []string
	if err := json.Unmarshal(b, &labels); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return labels, nil
}

// WriteLabels writes dir's labels.json.
func WriteLabels(dir string, labels []string) error {
	return atomicfile.WriteJSON(filepath.Join(dir, LabelsFile), labels)
}

// WriteReport renders report.md and its figures (paper Fig. 5 and 6) from
// the run's metrics.jsonl and summary.
func WriteReport(dir string, cfg *config.Config, sum *Summary) error {
	epochs, err := report.ReadMetricsJSONL(filepath.Join(dir, MetricsFile))
	if err != nil {
		return err
	}
	figs := filepath.Join(dir, "figures")
	if err := os.MkdirAll(figs, 0o755); err != nil {
		return err
	}
	if err := report.PlotLoss(filepath.Join(figs, "loss.png"), epochs); err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	if err := report.PlotAccuracy(filepath.Join(figs, "accuracy.png"), epochs); err != nil {
		return fmt.Errorf("accuracy plot: %w", err)
	}
	if err := report.PlotConfusion(filepath.Join(figs, "confusion.png"), sum.Test.Confusion, sum.Classes, report.ConfusionOptions{}); err != nil {
		return fmt.Errorf("confusion plot: %w", err)
	}
	y, err := cfg.Marshal()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Run %s\n\n", filepath.Base(dir))
	fmt.Fprintf(&b, "%d classes; %d train, %d val, %d test samples; %d parameters; %d epochs (best: %d), %d steps, %.0f s of training (%.1f samples/s) on %s with %d threads.\n\n",
		len(sum.Classes), sum.TrainSamples, sum.ValSamples, sum.TestSamples, sum.Parameters, sum.Epochs, sum.BestEpoch, sum.Steps, sum.TrainSeconds, sum.SamplesPerSec, sum.Device, sum.Threads)
	b.WriteString("## Test metrics (best checkpoint)\n\n")
	b.WriteString(sum.Test.SummaryMarkdown())
	b.WriteString("\n## Training curves (Fig. 5)\n\n![loss](figures/loss.png)\n\n![accuracy](figures/accuracy.png)\n\n")
	b.WriteString("## Confusion matrix on the test split (Fig. 6)\n\n![confusion](figures/confusion.png)\n\n")
	b.WriteString("## Per class (test)\n\n")
	b.WriteString(sum.Test.PerClassMarkdown())
	b.WriteString("\n## Config\n\n```yaml\n")
	b.Write(y)
	b.WriteString("```\n")
	return atomicfile.Write(filepath.Join(dir, ReportFile), []byte(b.String()))
}
