package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tol is the agreement required with scikit-learn.
const tol = 1e-6

// fixture is one file written by scripts/make-metric-fixtures.py.
type fixture struct {
	Name           string      `json:"name"`
	Description    string      `json:"description"`
	SklearnVersion string      `json:"sklearn_version"`
	K              int         `json:"k"`
	YTrue          []int       `json:"y_true"`
	Probs          [][]float64 `json:"probs"`
	Expected       struct {
		YPred          []int      `json:"y_pred"`
		Accuracy       float64    `json:"accuracy"`
		MacroPrecision float64    `json:"macro_precision"`
		MacroRecall    float64    `json:"macro_recall"`
		MacroF1        float64    `json:"macro_f1"`
		MAP            float64    `json:"map"`
		MacroAUC       *float64   `json:"macro_auc"`
		AUCClasses     int        `json:"auc_classes"`
		Precision      []float64  `json:"precision"`
		Recall         []float64  `json:"recall"`
		F1             []float64  `json:"f1"`
		Support        []int      `json:"support"`
		AP             []float64  `json:"ap"`
		AUC            []*float64 `json:"auc"`
		Confusion      [][]int    `json:"confusion_matrix"`
	} `json:"expected"`
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 7 {
		t.Fatalf("found %d fixtures in testdata; regenerate with .venv/bin/python scripts/make-metric-fixtures.py", len(paths))
	}
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, f)
	}
	return out
}

// maxDiff records the largest deviation from scikit-learn per metric, logged
// at the end of TestAgainstSklearn (go test -v -run Sklearn ./metrics).
type maxDiff map[string]float64

func (m maxDiff) check(t *testing.T, metric string, got, want float64) {
	t.Helper()
	d := math.Abs(got - want)
	if d > m[metric] || math.IsNaN(d) {
		m[metric] = d
	}
	if !(d <= tol) {
		t.Errorf("%s: got %.12g, scikit-learn %.12g (diff %.3g)", metric, got, want, d)
	}
}

func (m maxDiff) checkOpt(t *testing.T, metric string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s: got %v, scikit-learn %v (defined differs)", metric, fmtOpt(got), fmtOpt(want))
	default:
		m.check(t, metric, *got, *want)
	}
}

func fmtOpt(v *float64) string {
	if v == nil {
		return "undefined"
	}
	b, _ := json.Marshal(*v)
	return string(b)
}

func TestAgainstSklearn(t *testing.T) {
	diffs := maxDiff{}
	for _, f := range loadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			r, err := Compute(f.YTrue, f.Probs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := f.Expected
			if r.NumClasses != f.K || r.NumSamples != len(f.YTrue) {
				t.Fatalf("N, K = %d, %d; want %d, %d", r.NumSamples, r.NumClasses, len(f.YTrue), f.K)
			}
			pred := Predict(f.Probs)
			for i := range pred {
				if pred[i] != e.YPred[i] {
					t.Fatalf("prediction %d: got %d, numpy argmax %d", i, pred[i], e.YPred[i])
				}
			}
			diffs.check(t, "accuracy", r.Accuracy, e.Accuracy)
			diffs.check(t, "macro_precision", r.MacroPrecision, e.MacroPrecision)
			diffs.check(t, "macro_recall", r.MacroRecall, e.MacroRecall)
			diffs.check(t, "macro_f1", r.MacroF1, e.MacroF1)
			diffs.check(t, "map", r.MAP, e.MAP)
			diffs.checkOpt(t, "macro_auc", r.MacroAUC, e.MacroAUC)
			if r.AUCClasses != e.AUCClasses {
				t.Errorf("auc_classes = %d, want %d", r.AUCClasses, e.AUCClasses)
			}
			for c, m := range r.PerClass {
				diffs.check(t, "class precision", m.Precision, e.Precision[c])
				diffs.check(t, "class recall", m.Recall, e.Recall[c])
				diffs.check(t, "class f1", m.F1, e.F1[c])
				diffs.check(t, "class ap", m.AP, e.AP[c])
				diffs.checkOpt(t, "class auc", m.AUC, e.AUC[c])
				if m.Support != e.Support[c] {
					t.Errorf("class %d support = %d, want %d", c, m.Support, e.Support[c])
				}
			}
			for i := range e.Confusion {
				for j := range e.Confusion[i] {
					if r.Confusion[i][j] != e.Confusion[i][j] {
						t.Errorf("confusion[%d][%d] = %d, want %d", i, j, r.Confusion[i][j], e.Confusion[i][j])
					}
				}
			}
		})
	}
	for _, name := range []string{"accuracy", "macro_precision", "macro_recall", "macro_f1", "map", "macro_auc",
		"class precision", "class recall", "class f1", "class ap", "class auc"} {
		t.Logf("max |Go - scikit-learn| %-16s %.3g", name, diffs[name])
	}
}

func ptr(v float64) *float64 { return &v }

// TestHandComputed checks small cases worked out by hand.
func TestHandComputed(t *testing.T) {
	tests := []struct {
		name      string
		yTrue     []int
		probs     [][]float64
		accuracy  float64
		macroP    float64
		macroR    float64
		macroF1   float64
		mAP       float64
		macroAUC  *float64
		classAP   []float64
		classAUC  []*float64
		confusion [][]int
	}{
		{
			// Predictions 1,1,0,0 against truth 1,0,1,0.
			// Class 1 ranks 0.9(+) 0.6(-) 0.4(+) 0.2(-): (P, R) = (1, 1/2) then
			// (2/3, 1), so AP = 1/2·1 + 1/2·2/3 = 5/6; 3 of 4 positive/negative
			// pairs are ordered, so AUC = 3/4. Class 0's scores are the exact
			// reverse, 0.8(+) 0.6(-) 0.4(+) 0.1(-): the same AP and AUC.
			name:     "binary",
			yTrue:    []int{1, 0, 1, 0},
			probs:    [][]float64{{0.1, 0.9}, {0.4, 0.6}, {0.6, 0.4}, {0.8, 0.2}},
			accuracy: 0.5,
			// Confusion [[1,1],[1,1]]: every P, R, F1 = 1/2.
			macroP: 0.5, macroR: 0.5, macroF1: 0.5,
			mAP: 5.0 / 6, macroAUC: ptr(0.75),
			classAP:   []float64{5.0 / 6, 5.0 / 6},
			classAUC:  []*float64{ptr(0.75), ptr(0.75)},
			confusion: [][]int{{1, 1}, {1, 1}},
		},
		{
			// All scores tied: one threshold, AP = prevalence, AUC = 1/2;
			// argmax picks class 0 everywhere.
			name:     "all tied",
			yTrue:    []int{0, 1, 1, 1},
			probs:    [][]float64{{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}},
			accuracy: 0.25,
			// Class 0: P = 1/4, R = 1, F1 = 2/5; class 1: all 0.
			macroP: 0.125, macroR: 0.5, macroF1: 0.2,
			mAP: 0.5, macroAUC: ptr(0.5),
			classAP:   []float64{0.25, 0.75},
			classAUC:  []*float64{ptr(0.5), ptr(0.5)},
			confusion: [][]int{{1, 0}, {3, 0}},
		},
		{
			// Class 2 never occurs: AP 0 (counted in mAP), AUC undefined (not
			// counted in the macro AUC). Classes 0 and 1 are ranked perfectly.
			name:     "absent class",
			yTrue:    []int{0, 1, 0},
			probs:    [][]float64{{0.7, 0.2, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.1, 0.6}},
			accuracy: 2.0 / 3,
			// Predictions 0,1,2. Class 0: P 1, R 1/2, F1 2/3; class 1: 1,1,1;
			// class 2: P 0 (1 FP), R 0 (no support), F1 0.
			macroP: 2.0 / 3, macroR: 0.5, macroF1: (2.0/3 + 1) / 3,
			mAP: 2.0 / 3, macroAUC: ptr(1),
			classAP:   []float64{1, 1, 0},
			classAUC:  []*float64{ptr(1), ptr(1), nil},
			confusion: [][]int{{1, 0, 1}, {0, 1, 0}, {0, 0, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compute(tc.yTrue, tc.probs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d := maxDiff{}
			d.check(t, "accuracy", r.Accuracy, tc.accuracy)
			d.check(t, "macro precision", r.MacroPrecision, tc.macroP)
			d.check(t, "macro recall", r.MacroRecall, tc.macroR)
			d.check(t, "macro F1", r.MacroF1, tc.macroF1)
			d.check(t, "mAP", r.MAP, tc.mAP)
			d.checkOpt(t, "macro AUC", r.MacroAUC, tc.macroAUC)
			for c, m := range r.PerClass {
				d.check(t, "class AP", m.AP, tc.classAP[c])
				d.checkOpt(t, "class AUC", m.AUC, tc.classAUC[c])
				for p, v := range r.Confusion[c] {
					if v != tc.confusion[c][p] {
						t.Errorf("confusion[%d][%d] = %d, want %d", c, p, v, tc.confusion[c][p])
					}
				}
			}
		})
	}
}

func TestBinaryFunctions(t *testing.T) {
	tests := []struct {
		name    string
		scores  []float64
		pos     []bool
		ap, auc float64
		aucErr  error
	}{
		{"perfect", []float64{0.9, 0.8, 0.1}, []bool{true, true, false}, 1, 1, nil},
		{"reversed", []float64{0.1, 0.2, 0.9}, []bool{true, true, false}, (1.0/2 + 2.0/3) / 2, 0, nil},
		// Positive tied with one negative at the top: AP = P at that threshold = 1/2.
		{"tie at top", []float64{0.5, 0.5, 0.1}, []bool{true, false, false}, 0.5, 0.75, nil},
		{"no positives", []float64{0.3, 0.2}, []bool{false, false}, 0, 0, ErrAUCUndefined},
		{"no negatives", []float64{0.3, 0.2}, []bool{true, true}, 1, 0, ErrAUCUndefined},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := AveragePrecision(tc.scores, tc.pos)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ap-tc.ap) > 1e-12 {
				t.Errorf("AP = %v, want %v", ap, tc.ap)
			}
			auc, err := ROCAUC(tc.scores, tc.pos)
			if !errors.Is(err, tc.aucErr) {
				t.Fatalf("AUC error = %v, want %v", err, tc.aucErr)
			}
			if err == nil && math.Abs(auc-tc.auc) > 1e-12 {
				t.Errorf("AUC = %v, want %v", auc, tc.auc)
			}
		})
	}
}

func TestComputeRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		yTrue []int
		probs [][]float64
		opts  Options
		want  string
	}{
		{"empty", nil, nil, Options{}, "no samples"},
		{"row count", []int{0, 1}, [][]float64{{1, 0}}, Options{}, "2 true labels but 1"},
		{"ragged", []int{0, 1}, [][]float64{{1, 0}, {1}}, Options{}, "row 1 has 1 classes"},
		{"zero width", []int{0}, [][]float64{{}}, Options{}, "empty"},
		{"nan", []int{0}, [][]float64{{math.NaN(), 0}}, Options{}, "NaN"},
		{"inf", []int{0}, [][]float64{{math.Inf(1), 0}}, Options{}, "+Inf"},
		{"label range", []int{2}, [][]float64{{1, 0}}, Options{}, "true label 2"},
		{"negative label", []int{-1}, [][]float64{{1, 0}}, Options{}, "true label -1"},
		{"names", []int{0}, [][]float64{{1, 0}}, Options{ClassNames: []string{"a"}}, "1 class names for 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(tc.yTrue, tc.probs, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReportJSONAndMarkdown(t *testing.T) {
	r, err := Compute([]int{0, 1, 0}, [][]float64{{0.7, 0.2, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.1, 0.6}},
		Options{ClassNames: []string{"Painting", "Sculpture", "Other | misc"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.PerClass[2].AUC != nil || back.PerClass[0].AUC == nil || *back.MacroAUC != 1 {
		t.Errorf("AUC round trip: %s", b)
	}
	if !strings.Contains(string(b), `"auc":null`) {
		t.Errorf("undefined AUC should encode as null: %s", b)
	}
	if s := r.Scalars(); len(s) != 6 || s["macro_f1"] != r.MacroF1 {
		t.Errorf("Scalars() = %v", s)
	}

	md := r.Markdown()
	for _, want := range []string{
		"| Accuracy | 0.6667 |",
		"| Macro AUC-ROC (one-vs-rest) | 1.0000 (over 2 of 3 classes) |",
		"| Painting | 1.0000 | 0.5000 | 0.6667 | 2 | 1 | 1.0000 | 1.0000 |",
		`| Other \| misc | 0.0000 | 0.0000 | 0.0000 | 0 | 1 | 0.0000 | n/a |`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

// randomPredictions returns n samples over k classes with noisy softmax rows.
func randomPredictions(n, k int, seed uint64) ([]int, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	y := make([]int, n)
	probs := make([][]float64, n)
	for i := range n {
		y[i] = rng.IntN(k)
		row := make([]float64, k)
		var sum float64
		for c := range row {
			logit := rng.NormFloat64()
			if c == y[i] {
				logit += 2
			}
			row[c] = math.Exp(logit)
			sum += row[c]
		}
		for c := range row {
			row[c] /= sum
		}
		probs[i] = row
	}
	return y, probs
}

// BenchmarkCompute times every metric for N=10000 samples and K=50 classes.
func BenchmarkCompute(b *testing.B) {
	y, probs := randomPredictions(10000, 50, 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(y, probs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
