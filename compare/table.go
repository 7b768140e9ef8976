package compare

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Stat is the mean and sample standard deviation of one metric over seeds.
type Stat struct {
	Mean, Std float64
	N         int
}

// NewStat summarises values (NaN values, e.g. an undefined AUC, are left
// out). The standard deviation is the sample one (n − 1); 0 for one value.
func NewStat(vals []float64) Stat {
	var s Stat
	var sum float64
	var kept []float64
	for _, v := range vals {
		if !math.IsNaN(v) {
			kept = append(kept, v)
			sum += v
		}
	}
	s.N = len(kept)
	if s.N == 0 {
		return Stat{Mean: math.NaN(), Std: math.NaN()}
	}
	s.Mean = sum / float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, v := range kept {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// Format writes mean ± std with prec decimals after multiplying by mul.
func (s Stat) Format(mul float64, prec int) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.*f ± %.*f", prec, s.Mean*mul, prec, s.Std*mul)
}

// Row is one line of the table: a model's metrics over its finished seeds.
type Row struct {
	Name, Arch, Note string
	Seeds            []int64 // finished seeds
	Missing          []string
	Acc, MAP, F1     Stat
	Recall, AUC      Stat
	TrainSeconds     Stat
	Params           int64
}

// Rows aggregates outcomes by entry, in the spec's order.
func Rows(s *Spec, outcomes []*Outcome) []Row {
	rows := make([]Row, len(s.Models))
	vals := make([][7][]float64, len(s.Models))
	for i, m := range s.Models {
		rows[i] = Row{Name: m.Name, Note: m.Note}
	}
	for _, o := range outcomes {
		r := &rows[o.Entry]
		r.Arch = o.Config.Model.Arch
		switch o.Status {
		case Done:
			t := o.Summary.Test
			auc := math.NaN()
			if t.MacroAUC != nil {
				auc = *t.MacroAUC
			}
			v := &vals[o.Entry]
			for k, x := range []float64{t.Accuracy, t.MAP, t.MacroF1, t.MacroRecall, auc, o.Summary.TrainSeconds} {
				v[k] = append(v[k], x)
			}
			r.Seeds = append(r.Seeds, o.Seed)
			r.Params = o.Summary.Parameters
		case Failed:
			r.Missing = append(r.Missing, fmt.Sprintf("seed %d failed: %s", o.Seed, firstLine(o.Err)))
		default:
			r.Missing = append(r.Missing, fmt.Sprintf("seed %d %s", o.Seed, o.Status))
		}
	}
	for i := range rows {
		v := vals[i]
		rows[i].Acc, rows[i].MAP, rows[i].F1 = NewStat(v[0]), NewStat(v[1]), NewStat(v[2])
		rows[i].Recall, rows[i].AUC, rows[i].TrainSeconds = NewStat(v[3]), NewStat(v[4]), NewStat(v[5])
	}
	return rows
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// FormatParams writes a parameter count as 11.2M, 35.1k or 57.
func FormatParams(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n > 0:
		return strconv.FormatInt(n, 10)
	}
	return "—"
}

// Markdown renders the table in the form of the paper's Table 3 / 4: Acc,
// F1 and recall in percent, mAP and AUC-ROC as fractions, mean ± std over
// seeds, training time in seconds and the parameter count.
func Markdown(title, note string, rows []Row) string {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "# %s\n\n", title)
	}
	b.WriteString("| Model | model.arch | Seeds | Acc. (%) | mAP | F1 (%) | Recall (%) | AUC-ROC | Training time (s) | Parameters |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		seeds := make([]string, len(r.Seeds))
		for i, s := range r.Seeds {
			seeds[i] = strconv.FormatInt(s, 10)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Name, r.Arch, strings.Join(seeds, ", "),
			r.Acc.Format(100, 1), r.MAP.Format(1, 3), r.F1.Format(100, 1), r.Recall.Format(100, 1),
			r.AUC.Format(1, 3), r.TrainSeconds.Format(1, 0), FormatParams(r.Params))
	}
	b.WriteString("\nMean ± sample standard deviation over seeds, on the test split, with the checkpoint of the best validation epoch. F1, recall, mAP and AUC-ROC are macro averages over classes (mAP: mean per-class average precision; AUC-ROC: one-vs-rest). Training time excludes evaluation.\n")
	var notes []string
	for _, r := range rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", r.Name, r.Note))
		}
		for _, m := range r.Missing {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", r.Name, m))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	if note != "" {
		b.WriteString("\n" + strings.TrimSpace(note) + "\n")
	}
	return b.String()
}

// CSV writes the table: one line per model with mean and std columns.
func CSV(path string, rows []Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"model", "arch", "seeds", "acc_mean", "acc_std", "map_mean", "map_std", "f1_mean", "f1_std",
		"recall_mean", "recall_std", "auc_mean", "auc_std", "train_seconds_mean", "train_seconds_std", "parameters"})
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 6, 64)
	}
	for _, r := range rows {
		rec := []string{r.Name, r.Arch, strconv.Itoa(len(r.Seeds))}
		for _, s := range []Stat{r.Acc, r.MAP, r.F1, r.Recall, r.AUC, r.TrainSeconds} {
			rec = append(rec, num(s.Mean), num(s.Std))
		}
		rec = append(rec, strconv.FormatInt(r.Params, 10))
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// write renders NAME.md and NAME.csv into the comparison folder.
func (r *Result) write(name string) error {
	rows := Rows(r.Spec, r.Outcomes)
	title := r.Spec.Title
	if title == "" {
		title = name
	}
	md := Markdown(title, r.Spec.Note, rows)
	md += fmt.Sprintf("\nBase experiment `%s`; shared overrides `%s`; run folders under `%s`.\n",
		r.Spec.Base, strings.Join(r.Spec.Set, " "), filepath.Join(r.Out, "runs"))
	if r.Figures != "" {
		md += "\n" + r.Figures
	}
	r.Markdown = md
	if err := atomicfile.Write(filepath.Join(r.Out, name+".md"), []byte(md)); err != nil {
		return err
	}
	return CSV(filepath.Join(r.Out, name+".csv"), rows)
}
