package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// SummaryMarkdown renders the summary metrics as a two-column Markdown table
// (metric, value), values with four decimals.
func (r *Report) SummaryMarkdown() string {
	var b strings.Builder
	b.WriteString("| Metric | Value |\n|---|---:|\n")
	row := func(name, value string) { fmt.Fprintf(&b, "| %s | %s |\n", name, value) }
	row("Samples", strconv.Itoa(r.NumSamples))
	row("Classes", strconv.Itoa(r.NumClasses))
	row("Accuracy", f4(r.Accuracy))
	row("Macro precision", f4(r.MacroPrecision))
	row("Macro recall", f4(r.MacroRecall))
	row("Macro F1", f4(r.MacroF1))
	row("mAP", f4(r.MAP))
	auc := "n/a"
	if r.MacroAUC != nil {
		auc = f4(*r.MacroAUC)
	}
	if r.AUCClasses != r.NumClasses {
		auc += fmt.Sprintf(" (over %d of %d classes)", r.AUCClasses, r.NumClasses)
	}
	row("Macro AUC-ROC (one-vs-rest)", auc)
	return b.String()
}

// PerClassMarkdown renders the per-class table as Markdown: class, precision,
// recall, F1, support, predicted count, AP and AUC ("n/a" when undefined).
func (r *Report) PerClassMarkdown() string {
	var b strings.Builder
	b.WriteString("| Class | Precision | Recall | F1 | Support | Predicted | AP | AUC |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range r.PerClass {
		auc := "n/a"
		if m.AUC != nil {
			auc = f4(*m.AUC)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %s | %s |\n",
			escapeCell(m.label()), f4(m.Precision), f4(m.Recall), f4(m.F1),
			m.Support, m.Predicted, f4(m.AP), auc)
	}
	return b.String()
}

// Markdown renders the summary table followed by the per-class table.
func (r *Report) Markdown() string {
	return r.SummaryMarkdown() + "\n" + r.PerClassMarkdown()
}

// label is the class name, or "class <id>" when there is none.
func (m ClassMetrics) label() string {
	if m.Name != "" {
		return m.Name
	}
	return "class " + strconv.Itoa(m.Class)
}

func f4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// escapeCell keeps a string inside one Markdown table cell.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}
