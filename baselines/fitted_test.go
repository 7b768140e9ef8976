package baselines

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// sklearnRef is testdata/sklearn_ref.json (scripts/make-baseline-fixtures.py).
type sklearnRef struct {
	Classes int         `json:"classes"`
	XTrain  [][]float64 `json:"x_train"`
	YTrain  []int       `json:"y_train"`
	XTest   [][]float64 `json:"x_test"`
	GBDT    struct {
		Rounds       int         `json:"rounds"`
		LearningRate float64     `json:"learning_rate"`
		Depth        int         `json:"depth"`
		MinLeaf      int         `json:"min_leaf"`
		ProbaTrain   [][]float64 `json:"proba_train"`
		ProbaTest    [][]float64 `json:"proba_test"`
	} `json:"gbdt"`
	LogReg struct {
		C         float64     `json:"c"`
		ProbaTest [][]float64 `json:"proba_test"`
	} `json:"logreg"`
}

func loadRef(t *testing.T) (*sklearnRef, [][]float32, [][]float32) {
	t.Helper()
	b, err := os.ReadFile("testdata/sklearn_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	r := &sklearnRef{}
	if err := json.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	f32 := func(x [][]float64) [][]float32 {
		out := make([][]float32, len(x))
		for i, row := range x {
			out[i] = make([]float32, len(row))
			for j, v := range row {
				out[i][j] = float32(v)
			}
		}
		return out
	}
	return r, f32(r.XTrain), f32(r.XTest)
}

func maxDiff(a, b [][]float64) float64 {
	var m float64
	for i := range a {
		for j := range a[i] {
			m = math.Max(m, math.Abs(a[i][j]-b[i][j]))
		}
	}
	return m
}

// TestGBDTMatchesSklearn fits the same data as scikit-learn's
// GradientBoostingClassifier (exact splits: fewer distinct values than
// bins) and compares the probabilities. Leaves hold at least 10 samples (depth 2, 200 rows) so
// that no two features tie on a node (scikit-learn breaks ties in a random
// feature order, this package by the lower feature index).
func TestGBDTMatchesSklearn(t *testing.T) {
	r, xtr, xte := loadRef(t)
	for _, workers := range []int{1, 2} {
		m, err := FitGBDT(xtr, r.YTrain, r.Classes, GBDTParams{Rounds: r.GBDT.Rounds, Depth: r.GBDT.Depth, LearningRate: r.GBDT.LearningRate, Bins: 255, MinLeaf: r.GBDT.MinLeaf, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(m.PredictProba(xtr), r.GBDT.ProbaTrain); d > 1e-9 {
			t.Errorf("workers %d: train probabilities differ from scikit-learn by %g", workers, d)
		}
		if d := maxDiff(m.PredictProba(xte), r.GBDT.ProbaTest); d > 1e-9 {
			t.Errorf("workers %d: test probabilities differ from scikit-learn by %g", workers, d)
		}
	}
}

// TestGBDTBinned checks the quantile-bin mode (fewer bins than values)
// still learns the training data.
func TestGBDTBinned(t *testing.T) {
	r, xtr, _ := loadRef(t)
	m, err := FitGBDT(xtr, r.YTrain, r.Classes, GBDTParams{Rounds: 30, Depth: 3, LearningRate: 0.3, Bins: 8})
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, p := range m.PredictProba(xtr) {
		if argmaxF(p) == r.YTrain[i] {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(xtr)); acc < 0.9 {
		t.Errorf("train accuracy %.3f with 8 bins; want >= 0.9", acc)
	}
	if m.Size() <= int64(r.Classes) {
		t.Errorf("size %d", m.Size())
	}
}

func argmaxF(p []float64) int {
	b := 0
	for i := range p {
		if p[i] > p[b] {
			b = i
		}
	}
	return b
}

// TestLogRegMatchesSklearn compares the L-BFGS fit with scikit-learn's
// LogisticRegression (same C, converged tightly).
func TestLogRegMatchesSklearn(t *testing.T) {
	r, xtr, xte := loadRef(t)
	m, err := FitLogReg(xtr, r.YTrain, r.Classes, r.LogReg.C, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(m.PredictProba(xte), r.LogReg.ProbaTest); d > 1e-4 {
		t.Errorf("test probabilities differ from scikit-learn by %g (after %d iterations)", d, m.Iters)
	}
}

func TestFitErrors(t *testing.T) {
	x := [][]float32{{1}, {2}}
	cases := []struct {
		name string
		err  error
	}{
		{"gbdt label", func() error {
			_, err := FitGBDT(x, []int{0, 5}, 2, GBDTParams{Rounds: 1, Depth: 1, LearningRate: 0.1, Bins: 4})
			return err
		}()},
		{"gbdt rows", func() error {
			_, err := FitGBDT(x, []int{0}, 2, GBDTParams{Rounds: 1, Depth: 1, LearningRate: 0.1, Bins: 4})
			return err
		}()},
		{"gbdt nan", func() error {
			_, err := FitGBDT([][]float32{{float32(math.NaN())}, {1}}, []int{0, 1}, 2, GBDTParams{Rounds: 1, Depth: 1, LearningRate: 0.1, Bins: 4})
			return err
		}()},
		{"logreg C", func() error { _, err := FitLogReg(x, []int{0, 1}, 2, 0, 10); return err }()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
