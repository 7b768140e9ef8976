package report

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/metrics"
)

// File names WriteRun uses inside the run folder.
const (
	// ReportFile is the Markdown report.
	ReportFile = "report.md"
	// LossPlotFile is the train/validation loss curve (PlotLoss).
	LossPlotFile = "loss.png"
	// AccuracyPlotFile is the accuracy curve (PlotAccuracy).
	AccuracyPlotFile = "accuracy.png"
	// ConfusionPlotFile is the confusion matrix with counts.
	ConfusionPlotFile = "confusion.png"
	// ConfusionNormalizedFile is the row-normalised confusion matrix.
	ConfusionNormalizedFile = "confusion_normalized.png"
)

// Run is everything report.md shows about one run.
type Run struct {
	// Title heads the report; "VBG run report" when empty.
	Title string
	// Config is the resolved configuration (YAML text), shown verbatim.
	Config string
	// Epochs are the per-epoch records (metrics.jsonl); may be empty.
	Epochs []Epoch
	// Split names the evaluated set in headings, e.g. "test"; "evaluation"
	// when empty.
	Split string
	// Metrics is the final evaluation; nil leaves out the metric tables and
	// the confusion matrices.
	Metrics *metrics.Report
}

// WriteRun writes report.md into dir with its plots next to it: loss.png and
// accuracy.png when there are epochs, confusion.png and
// confusion_normalized.png when there are metrics. Class names for the
// confusion matrices come from Metrics.PerClass. Every file is written
// through a temporary file and a rename.
func WriteRun(dir string, r Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: run folder: %w", err)
	}
	var b strings.Builder
	title := r.Title
	if title == "" {
		title = "VBG run report"
	}
	split := r.Split
	if split == "" {
		split = "evaluation"
	}
	fmt.Fprintf(&b, "# %s\n\n", oneLine(title))

	if strings.TrimSpace(r.Config) != "" {
		fence := codeFence(r.Config)
		fmt.Fprintf(&b, "## Configuration\n\n%syaml\n%s\n%s\n\n", fence, strings.TrimRight(r.Config, "\n"), fence)
	}

	if len(r.Epochs) > 0 {
		b.WriteString("## Training\n\n")
		b.WriteString(trainingSummary(r.Epochs))
		if err := PlotLoss(filepath.Join(dir, LossPlotFile), r.Epochs); err == nil {
			fmt.Fprintf(&b, "\n![Training and validation loss per epoch](%s)\n", LossPlotFile)
		} else if !errors.Is(err, ErrNothingToPlot) {
			return err
		}
		if err := PlotAccuracy(filepath.Join(dir, AccuracyPlotFile), r.Epochs); err == nil {
			fmt.Fprintf(&b, "\n![Accuracy per epoch](%s)\n", AccuracyPlotFile)
		} else if !errors.Is(err, ErrNothingToPlot) {
			return err
		}
		b.WriteString("\n")
	}

	if m := r.Metrics; m != nil {
		fmt.Fprintf(&b, "## Metrics (%s)\n\n", oneLine(split))
		b.WriteString(m.SummaryMarkdown())
		b.WriteString("\nMacro averages run over all classes (a class absent from the labels " +
			"counts 0); the macro AUC-ROC averages the classes that have both positives and " +
			"negatives. See the metrics package documentation for the exact definitions.\n\n")
		fmt.Fprintf(&b, "## Per-class metrics (%s)\n\n", oneLine(split))
		b.WriteString(m.PerClassMarkdown())

		names := make([]string, len(m.PerClass))
		for i, c := range m.PerClass {
			names[i] = c.Name
			if names[i] == "" {
				names[i] = fmt.Sprint(c.Class)
			}
		}
		if err := PlotConfusion(filepath.Join(dir, ConfusionPlotFile), m.Confusion, names, ConfusionOptions{}); err != nil {
			return err
		}
		if err := PlotConfusion(filepath.Join(dir, ConfusionNormalizedFile), m.Confusion, names,
			ConfusionOptions{Normalize: true}); err != nil {
			return err
		}
		b.WriteString("\n## Confusion matrix\n\n")
		b.WriteString("Rows are true classes, columns predicted classes.\n\n")
		fmt.Fprintf(&b, "![Confusion matrix, counts](%s)\n\n", ConfusionPlotFile)
		fmt.Fprintf(&b, "![Confusion matrix, each row divided by its total](%s)\n", ConfusionNormalizedFile)
	}

	if err := atomicfile.Write(filepath.Join(dir, ReportFile), []byte(b.String())); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// trainingSummary is a small table: epochs run, final and best losses, time.
func trainingSummary(epochs []Epoch) string {
	last := epochs[len(epochs)-1]
	best := -1
	total := 0.0
	for i, e := range epochs {
		if !math.IsNaN(e.ValLoss) && !math.IsInf(e.ValLoss, 0) && (best < 0 || e.ValLoss < epochs[best].ValLoss) {
			best = i
		}
		if !math.IsNaN(e.Seconds) {
			total += e.Seconds
		}
	}
	var b strings.Builder
	b.WriteString("| | Value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| Epochs | %d |\n", len(epochs))
	fmt.Fprintf(&b, "| Final train loss | %s |\n", g4(last.TrainLoss))
	fmt.Fprintf(&b, "| Final validation loss | %s |\n", g4(last.ValLoss))
	fmt.Fprintf(&b, "| Final validation accuracy | %s |\n", g4(last.ValAccuracy))
	if best >= 0 {
		fmt.Fprintf(&b, "| Best validation loss | %s (epoch %d) |\n", g4(epochs[best].ValLoss), epochs[best].Epoch)
	}
	fmt.Fprintf(&b, "| Final learning rate | %s |\n", g4(last.LR))
	fmt.Fprintf(&b, "| Training time | %.1f s |\n", total)
	return b.String()
}

func g4(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.4g", v)
}

// codeFence returns a backtick fence longer than any backtick run in s.
func codeFence(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
