package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/report"
)

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
	return writeFileAtomic(filepath.Join(dir, ReportFile), []byte(b.String()))
}
