package baselines

import (
	"fmt"
	"math"
	"sync"
)

// LogReg is multinomial logistic regression: p = softmax(W·x + b), fitted
// by minimising Σ_i −log p_{y_i}(x_i) + ‖W‖²/(2C) (the intercepts b are not
// penalised), scikit-learn's LogisticRegression objective, with L-BFGS.
type LogReg struct {
	Classes int         `json:"classes"`
	W       [][]float64 `json:"w"` // [K][F]
	B       []float64   `json:"b"` // [K]
	Iters   int         `json:"iters"`
}

// FitLogReg fits the model to rows X and labels y in [0, classes).
func FitLogReg(X [][]float32, y []int, classes int, c float64, maxIter int) (*LogReg, error) {
	if len(X) == 0 || len(X) != len(y) || classes < 2 || !(c > 0) || maxIter < 1 {
		return nil, fmt.Errorf("logreg: %d rows, %d labels, %d classes, C %g, max_iter %d", len(X), len(y), classes, c, maxIter)
	}
	F := len(X[0])
	K := classes
	dim := K * (F + 1) // W row-major, then b
	obj := func(theta, grad []float64) float64 { return logregObjective(X, y, K, F, c, theta, grad) }
	theta := make([]float64, dim)
	iters, err := lbfgs(obj, theta, maxIter, 1e-8)
	if err != nil {
		return nil, fmt.Errorf("logreg: %w", err)
	}
	m := &LogReg{Classes: K, W: make([][]float64, K), B: make([]float64, K), Iters: iters}
	for k := 0; k < K; k++ {
		m.W[k] = append([]float64(nil), theta[k*F:(k+1)*F]...)
		m.B[k] = theta[K*F+k]
	}
	return m, nil
}

// logregObjective returns the objective at theta and writes its gradient.
func logregObjective(X [][]float32, y []int, K, F int, c float64, theta, grad []float64) float64 {
	const workers = 2
	type part struct {
		loss float64
		g    []float64
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			g := make([]float64, len(theta))
			z := make([]float64, K)
			var loss float64
			for i := w; i < len(X); i += workers {
				x := X[i]
				for k := 0; k < K; k++ {
					s := theta[K*F+k]
					row := theta[k*F : (k+1)*F]
					for j, v := range x {
						s += row[j] * float64(v)
					}
					z[k] = s
				}
				m := math.Inf(-1)
				for _, v := range z {
					m = max(m, v)
				}
				var sum float64
				for k := range z {
					z[k] = math.Exp(z[k] - m)
					sum += z[k]
				}
				loss += -math.Log(z[y[i]]/sum + 1e-300)
				for k := 0; k < K; k++ {
					d := z[k] / sum
					if k == y[i] {
						d--
					}
					if d == 0 {
						continue
					}
					gr := g[k*F : (k+1)*F]
					for j, v := range x {
						gr[j] += d * float64(v)
					}
					g[K*F+k] += d
				}
			}
			parts[w] = part{loss, g}
		}(w)
	}
	wg.Wait()
	var loss float64
	clear(grad)
	for _, p := range parts {
		loss += p.loss
		for j, v := range p.g {
			grad[j] += v
		}
	}
	for j := 0; j < K*F; j++ {
		loss += theta[j] * theta[j] / (2 * c)
		grad[j] += theta[j] / c
	}
	return loss
}

// lbfgs minimises f (which writes its gradient into g) from x in place,
// with the two-loop recursion (memory 10) and a backtracking Armijo line
// search; it stops when the largest gradient component is below tol times
// max(1, |f|) or after maxIter iterations, and returns the iterations used.
func lbfgs(f func(x, g []float64) float64, x []float64, maxIter int, tol float64) (int, error) {
	const mem = 10
	n := len(x)
	g := make([]float64, n)
	fx := f(x, g)
	var S, Y [][]float64
	var rho []float64
	d := make([]float64, n)
	xn := make([]float64, n)
	gn := make([]float64, n)
	alpha := make([]float64, mem)
	for it := 1; it <= maxIter; it++ {
		if maxAbs(g) <= tol*max(1, math.Abs(fx)) {
			return it - 1, nil
		}
		// d = -H·g
		copy(d, g)
		for i := len(S) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(S[i], d)
			axpy(-alpha[i], Y[i], d)
		}
		if len(S) > 0 {
			last := len(S) - 1
			scale(dot(S[last], Y[last])/dot(Y[last], Y[last]), d)
		} else {
			scale(1/max(1, maxAbs(g)), d)
		}
		for i := range S {
			b := rho[i] * dot(Y[i], d)
			axpy(alpha[i]-b, S[i], d)
		}
		scale(-1, d)
		gd := dot(g, d)
		if gd >= 0 { // not a descent direction: restart with steepest descent
			S, Y, rho = nil, nil, nil
			copy(d, g)
			scale(-1/max(1, maxAbs(g)), d)
			gd = dot(g, d)
		}
		step := 1.0
		var fn float64
		for ls := 0; ; ls++ {
			for i := range x {
				xn[i] = x[i] + step*d[i]
			}
			fn = f(xn, gn)
			if fn <= fx+1e-4*step*gd {
				break
			}
			if ls == 40 {
				return it, nil // no progress possible at float precision
			}
			step /= 2
		}
		s := make([]float64, n)
		yv := make([]float64, n)
		for i := range x {
			s[i] = xn[i] - x[i]
			yv[i] = gn[i] - g[i]
		}
		if sy := dot(s, yv); sy > 1e-12 {
			S, Y, rho = append(S, s), append(Y, yv), append(rho, 1/sy)
			if len(S) > mem {
				S, Y, rho = S[1:], Y[1:], rho[1:]
			}
		}
		copy(x, xn)
		copy(g, gn)
		conv := math.Abs(fx-fn) <= 1e-14*max(1, math.Abs(fx))
		fx = fn
		if conv {
			return it, nil
		}
	}
	return maxIter, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func scale(a float64, x []float64) {
	for i := range x {
		x[i] *= a
	}
}

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// PredictProba returns the class probabilities of each row.
func (m *LogReg) PredictProba(X [][]float32) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		z := make([]float64, m.Classes)
		for k := range z {
			s := m.B[k]
			for j, v := range x {
				s += m.W[k][j] * float64(v)
			}
			z[k] = s
		}
		out[i] = softmax(z)
	}
	return out
}

// Size is the number of coefficients.
func (m *LogReg) Size() int64 {
	if len(m.W) == 0 {
		return 0
	}
	return int64(m.Classes * (len(m.W[0]) + 1))
}
