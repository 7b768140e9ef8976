package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrAUCUndefined is returned by ROCAUC when the samples are all positive or
// all negative, so that one axis of the ROC curve cannot be normalised.
var ErrAUCUndefined = errors.New("metrics: ROC AUC is undefined when only one class is present")

// Options adjusts Compute.
type Options struct {
	// ClassNames, when not empty, names the K classes (index = class id) in
	// the per-class table and in Markdown output. Its length must equal K.
	ClassNames []string
}

// ClassMetrics holds the one-vs-rest metrics of one class.
type ClassMetrics struct {
	// Class is the class id, the column of the probability matrix.
	Class int `json:"class"`
	// Name is the class name from Options.ClassNames, if given.
	Name string `json:"name,omitempty"`
	// Precision is TP/(TP+FP), 0 when the class is never predicted.
	Precision float64 `json:"precision"`
	// Recall is TP/(TP+FN), 0 when the class is absent from the true labels.
	Recall float64 `json:"recall"`
	// F1 is 2TP/(2TP+FP+FN), the harmonic mean of Precision and Recall, 0
	// when both are 0.
	F1 float64 `json:"f1"`
	// Support is the number of samples whose true label is this class.
	Support int `json:"support"`
	// Predicted is the number of samples predicted as this class.
	Predicted int `json:"predicted"`
	// AP is the average precision of this class's scores against
	// "true label is this class"; 0 when Support is 0.
	AP float64 `json:"ap"`
	// AUC is the one-vs-rest ROC AUC; nil (JSON null) when undefined, that
	// is when Support is 0 or every sample belongs to this class.
	AUC *float64 `json:"auc"`
}

// Report holds every evaluation metric of one set of predictions. See the
// package documentation for the exact definitions and averaging rules.
type Report struct {
	// NumSamples is N, the number of evaluated samples.
	NumSamples int `json:"num_samples"`
	// NumClasses is K, the number of classes (columns of the probabilities).
	NumClasses int `json:"num_classes"`
	// Accuracy is the fraction of samples whose arg-max class is the true one.
	Accuracy float64 `json:"accuracy"`
	// MacroPrecision is the mean of the per-class precisions over all K classes.
	MacroPrecision float64 `json:"macro_precision"`
	// MacroRecall is the mean of the per-class recalls over all K classes.
	MacroRecall float64 `json:"macro_recall"`
	// MacroF1 is the mean of the per-class F1 scores over all K classes.
	MacroF1 float64 `json:"macro_f1"`
	// MAP is the mean of the per-class average precisions over all K classes.
	MAP float64 `json:"map"`
	// MacroAUC is the mean of the defined per-class AUCs; nil when none is.
	MacroAUC *float64 `json:"macro_auc"`
	// AUCClasses is the number of classes averaged into MacroAUC.
	AUCClasses int `json:"auc_classes"`
	// PerClass has one entry per class, in class order.
	PerClass []ClassMetrics `json:"per_class"`
	// Confusion is the K×K confusion matrix: Confusion[t][p] counts the
	// samples of true class t predicted as class p (scikit-learn's layout).
	Confusion [][]int `json:"confusion_matrix"`
}

// Scalars returns the summary metrics as a flat map (accuracy, macro_precision,
// macro_recall, macro_f1, map and, when defined, macro_auc), handy for
// per-epoch logs. Undefined values are left out so the map always encodes as
// JSON.
func (r *Report) Scalars() map[string]float64 {
	m := map[string]float64{
		"accuracy":        r.Accuracy,
		"macro_precision": r.MacroPrecision,
		"macro_recall":    r.MacroRecall,
		"macro_f1":        r.MacroF1,
		"map":             r.MAP,
	}
	if r.MacroAUC != nil {
		m["macro_auc"] = *r.MacroAUC
	}
	return m
}

// Predict returns the arg-max class of each row of probs. When several
// classes share the maximum, the lowest index wins (as numpy's argmax). Rows
// must be non-empty and free of NaN; Compute checks this.
func Predict(probs [][]float64) []int {
	pred := make([]int, len(probs))
	for i, row := range probs {
		best := 0
		for c := 1; c < len(row); c++ {
			if row[c] > row[best] {
				best = c
			}
		}
		pred[i] = best
	}
	return pred
}

// ConfusionMatrix counts, for true class t and predicted class p, the samples
// with yTrue[i] == t and yPred[i] == p. Labels must lie in [0, k).
func ConfusionMatrix(yTrue, yPred []int, k int) ([][]int, error) {
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("metrics: confusion matrix: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	if k < 1 {
		return nil, fmt.Errorf("metrics: confusion matrix: need at least one class, got k=%d", k)
	}
	cells := make([]int, k*k)
	cm := make([][]int, k)
	for t := range cm {
		cm[t] = cells[t*k : (t+1)*k : (t+1)*k]
	}
	for i, t := range yTrue {
		p := yPred[i]
		if t < 0 || t >= k {
			return nil, fmt.Errorf("metrics: confusion matrix: true label %d of sample %d outside [0, %d)", t, i, k)
		}
		if p < 0 || p >= k {
			return nil, fmt.Errorf("metrics: confusion matrix: predicted label %d of sample %d outside [0, %d)", p, i, k)
		}
		cm[t][p]++
	}
	return cm, nil
}

// AveragePrecision returns the average precision of scores against the binary
// truth positive: AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct thresholds in
// decreasing order, without interpolation (scikit-learn's
// average_precision_score). It is 0 when there is no positive sample.
func AveragePrecision(scores []float64, positive []bool) (float64, error) {
	items, err := binaryItems(scores, positive)
	if err != nil {
		return 0, fmt.Errorf("metrics: average precision: %w", err)
	}
	ap, _, _ := rankCurves(items)
	return ap, nil
}

// ROCAUC returns the area under the ROC curve of scores against the binary
// truth positive (scikit-learn's roc_auc_score): trapezoids over the distinct
// thresholds, so tied positive/negative pairs count one half. It returns
// ErrAUCUndefined when positive is all true or all false.
func ROCAUC(scores []float64, positive []bool) (float64, error) {
	items, err := binaryItems(scores, positive)
	if err != nil {
		return 0, fmt.Errorf("metrics: ROC AUC: %w", err)
	}
	_, auc, ok := rankCurves(items)
	if !ok {
		return 0, ErrAUCUndefined
	}
	return auc, nil
}

// Compute checks the inputs and computes every metric of the Report. yTrue
// holds N class ids in [0, K); probs is N×K, K taken from its rows, with
// finite scores (they need not sum to 1).
func Compute(yTrue []int, probs [][]float64, opts Options) (*Report, error) {
	k, err := checkInputs(yTrue, probs, opts)
	if err != nil {
		return nil, fmt.Errorf("metrics: compute: %w", err)
	}
	n := len(yTrue)
	cm, err := ConfusionMatrix(yTrue, Predict(probs), k)
	if err != nil {
		return nil, fmt.Errorf("metrics: compute: %w", err)
	}
	r := &Report{NumSamples: n, NumClasses: k, PerClass: make([]ClassMetrics, k), Confusion: cm}
	predicted := make([]int, k)
	correct := 0
	for t := range k {
		correct += cm[t][t]
		for p := range k {
			predicted[p] += cm[t][p]
		}
	}
	r.Accuracy = float64(correct) / float64(n)
	items := make([]scored, n)
	var aucSum float64
	for c := range k {
		m := &r.PerClass[c]
		classMetrics(m, c, cm, predicted[c], yTrue, probs, items)
		if len(opts.ClassNames) != 0 {
			m.Name = opts.ClassNames[c]
		}
		if m.AUC != nil {
			aucSum += *m.AUC
			r.AUCClasses++
		}
		r.MacroPrecision += m.Precision
		r.MacroRecall += m.Recall
		r.MacroF1 += m.F1
		r.MAP += m.AP
	}
	kf := float64(k)
	r.MacroPrecision /= kf
	r.MacroRecall /= kf
	r.MacroF1 /= kf
	r.MAP /= kf
	if r.AUCClasses > 0 {
		v := aucSum / float64(r.AUCClasses)
		r.MacroAUC = &v
	}
	return r, nil
}

// checkInputs validates Compute's arguments and returns the class count.
func checkInputs(yTrue []int, probs [][]float64, opts Options) (int, error) {
	n := len(yTrue)
	if n == 0 {
		return 0, errors.New("no samples")
	}
	if len(probs) != n {
		return 0, fmt.Errorf("%d true labels but %d probability rows", n, len(probs))
	}
	k := len(probs[0])
	if k < 1 {
		return 0, errors.New("probability rows are empty")
	}
	for i, row := range probs {
		if len(row) != k {
			return 0, fmt.Errorf("probability row %d has %d classes, row 0 has %d", i, len(row), k)
		}
		for c, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("probability [%d][%d] is %v", i, c, v)
			}
		}
	}
	if len(opts.ClassNames) != 0 && len(opts.ClassNames) != k {
		return 0, fmt.Errorf("%d class names for %d classes", len(opts.ClassNames), k)
	}
	return k, nil
}

// classMetrics fills m with class c's one-vs-rest metrics; items is
// scratch space of len(yTrue).
func classMetrics(m *ClassMetrics, c int, cm [][]int, predicted int, yTrue []int, probs [][]float64, items []scored) {
	m.Class = c
	tp := cm[c][c]
	for _, v := range cm[c] {
		m.Support += v
	}
	m.Predicted = predicted
	m.Precision = ratio(tp, m.Predicted)
	m.Recall = ratio(tp, m.Support)
	m.F1 = ratio(2*tp, m.Support+m.Predicted)
	for i, row := range probs {
		items[i] = scored{score: row[c], pos: yTrue[i] == c}
	}
	ap, auc, ok := rankCurves(items)
	m.AP = ap
	if ok {
		v := auc
		m.AUC = &v
	}
}

// ratio returns num/den, or 0 when den is 0 (scikit-learn's zero_division=0).
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// scored is one sample of a one-vs-rest problem.
type scored struct {
	score float64
	pos   bool
}

// binaryItems validates a binary problem and pairs scores with truths.
func binaryItems(scores []float64, positive []bool) ([]scored, error) {
	if len(scores) != len(positive) {
		return nil, fmt.Errorf("%d scores but %d truth values", len(scores), len(positive))
	}
	items := make([]scored, len(scores))
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("score %d is %v", i, s)
		}
		items[i] = scored{score: s, pos: positive[i]}
	}
	return items, nil
}

// rankCurves sorts items by decreasing score (in place) and walks the distinct
// thresholds once, returning the average precision (0 without positives) and
// the ROC AUC with whether it is defined (needs positives and negatives).
func rankCurves(items []scored) (ap, auc float64, aucOK bool) {
	slices.SortFunc(items, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	var nPos, nNeg int64
	for _, it := range items {
		if it.pos {
			nPos++
		} else {
			nNeg++
		}
	}
	var tp, fp, prevTP, prevFP int64
	var area int64 // twice the ROC area, in units of 1/(nPos*nNeg)
	for i := 0; i < len(items); {
		s := items[i].score
		for ; i < len(items) && items[i].score == s; i++ {
			if items[i].pos {
				tp++
			} else {
				fp++
			}
		}
		if tp > prevTP {
			ap += float64(tp-prevTP) * (float64(tp) / float64(tp+fp))
		}
		area += (fp - prevFP) * (tp + prevTP)
		prevTP, prevFP = tp, fp
	}
	if nPos > 0 {
		ap /= float64(nPos)
	}
	if nPos == 0 || nNeg == 0 {
		return ap, 0, false
	}
	return ap, float64(area) / (2 * float64(nPos) * float64(nNeg)), true
}
