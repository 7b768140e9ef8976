package report

import (
	"errors"
	"math"
	"math/rand/v2"
)

// TSNEOptions adjusts TSNE. Zero values take the defaults in brackets.
type TSNEOptions struct {
	Perplexity float64 // effective number of neighbours [30]
	Iterations int     // gradient steps [500]
	Seed       uint64  // of the initial layout
}

// TSNE embeds the rows of x in two dimensions with exact t-SNE (van der
// Maaten & Hinton, 2008): Gaussian affinities with a per-point bandwidth
// matched to the perplexity, symmetrised; a Student-t kernel in the map;
// gradient descent with momentum (0.5, then 0.8), per-parameter gains and
// early exaggeration (×12 for the first quarter of the steps). It is
// O(n²) per step: meant for a few hundred to a few thousand points.
func TSNE(x [][]float64, o TSNEOptions) ([][2]float64, error) {
	n := len(x)
	if n < 4 {
		return nil, errors.New("tsne: need at least 4 points")
	}
	if o.Perplexity <= 0 {
		o.Perplexity = 30
	}
	o.Perplexity = math.Min(o.Perplexity, float64(n-1)/3)
	if o.Iterations <= 0 {
		o.Iterations = 500
	}
	p := jointAffinities(squaredDistances(x), n, o.Perplexity)
	m := newTSNEMap(n, o.Seed)
	exaggerate := o.Iterations / 4
	for it := 0; it < o.Iterations; it++ {
		ex, mom := 1.0, 0.8
		if it < exaggerate {
			ex, mom = 12, 0.5
		}
		m.step(p, ex, mom)
	}
	return m.y, nil
}

// squaredDistances is the n×n matrix of squared Euclidean distances
// between the rows of x, row-major.
func squaredDistances(x [][]float64) []float64 {
	n := len(x)
	d := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			var s float64
			for k := range x[i] {
				v := x[i][k] - x[j][k]
				s += v * v
			}
			d[i*n+j], d[j*n+i] = s, s
		}
	}
	return d
}

// jointAffinities is P of t-SNE: each row's conditional affinities (with
// the bandwidth matched to the perplexity), symmetrised as
// (p_j|i + p_i|j) / 2n and floored at 1e-12.
func jointAffinities(d []float64, n int, perplexity float64) []float64 {
	p := make([]float64, n*n)
	logU := math.Log(perplexity)
	for i := 0; i < n; i++ {
		conditionalRow(p[i*n:(i+1)*n], d[i*n:(i+1)*n], i, logU)
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			v := math.Max((p[i*n+j]+p[j*n+i])/(2*float64(n)), 1e-12)
			p[i*n+j], p[j*n+i] = v, v
		}
	}
	return p
}

// conditionalRow sets row to point i's conditional affinities
// exp(-β·d_ij) / Σ, finding the precision β by binary search so that the
// row's entropy is logU (at most 60 steps, to 1e-5).
func conditionalRow(row, d []float64, i int, logU float64) {
	n := len(row)
	beta, lo, hi := 1.0, 0.0, math.Inf(1)
	// Scale by the mean distance so β starts in a sensible range.
	var mean float64
	for j := 0; j < n; j++ {
		mean += d[j]
	}
	mean /= float64(n - 1)
	if mean > 0 {
		beta = 1 / mean
	}
	for it := 0; it < 60; it++ {
		var sum, sumDP float64
		for j := 0; j < n; j++ {
			if j == i {
				row[j] = 0
				continue
			}
			row[j] = math.Exp(-d[j] * beta)
			sum += row[j]
			sumDP += d[j] * row[j]
		}
		if sum == 0 {
			sum = 1e-300
		}
		h := math.Log(sum) + beta*sumDP/sum
		for j := range row {
			row[j] /= sum
		}
		diff := h - logU
		if math.Abs(diff) < 1e-5 {
			break
		}
		if diff > 0 {
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			beta = (beta + lo) / 2
		}
	}
}

// tsneMap is the state of t-SNE's gradient descent: the layout y, its
// velocity and per-parameter gains, and scratch space.
type tsneMap struct {
	y, vel, gains, grad [][2]float64
	num                 []float64 // Student-t kernel (1 + |y_i - y_j|²)⁻¹
	eta                 float64   // learning rate
}

// newTSNEMap starts n points at N(0, 1e-4²) drawn from seed.
func newTSNEMap(n int, seed uint64) *tsneMap {
	r := rand.New(rand.NewPCG(seed, 0x7453e))
	m := &tsneMap{
		y: make([][2]float64, n), vel: make([][2]float64, n), gains: make([][2]float64, n),
		grad: make([][2]float64, n), num: make([]float64, n*n), eta: math.Max(float64(n)/12, 50),
	}
	for i := range m.y {
		m.y[i] = [2]float64{r.NormFloat64() * 1e-4, r.NormFloat64() * 1e-4}
		m.gains[i] = [2]float64{1, 1}
	}
	return m
}

// step is one gradient step on KL(P‖Q) with P exaggerated by ex and
// momentum mom; the layout is re-centred afterwards.
func (m *tsneMap) step(p []float64, ex, mom float64) {
	y, n := m.y, len(m.y)
	var z float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx, dy := y[i][0]-y[j][0], y[i][1]-y[j][1]
			q := 1 / (1 + dx*dx + dy*dy)
			m.num[i*n+j], m.num[j*n+i] = q, q
			z += 2 * q
		}
	}
	for i := 0; i < n; i++ {
		var gx, gy float64
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			q := m.num[i*n+j]
			f := (ex*p[i*n+j] - q/z) * q
			gx += f * (y[i][0] - y[j][0])
			gy += f * (y[i][1] - y[j][1])
		}
		m.grad[i] = [2]float64{4 * gx, 4 * gy}
	}
	var mean [2]float64
	for i := 0; i < n; i++ {
		for k := 0; k < 2; k++ {
			if (m.grad[i][k] > 0) != (m.vel[i][k] > 0) {
				m.gains[i][k] += 0.2
			} else {
				m.gains[i][k] = math.Max(m.gains[i][k]*0.8, 0.01)
			}
			m.vel[i][k] = mom*m.vel[i][k] - m.eta*m.gains[i][k]*m.grad[i][k]
			y[i][k] += m.vel[i][k]
			mean[k] += y[i][k] / float64(n)
		}
	}
	for i := range y {
		y[i][0] -= mean[0]
		y[i][1] -= mean[1]
	}
}

// PCA2 projects the rows of x onto their first two principal components
// (power iteration with deflation on the covariance matrix).
func PCA2(x [][]float64) ([][2]float64, error) {
	n := len(x)
	if n < 2 {
		return nil, errors.New("pca: need at least 2 points")
	}
	d := len(x[0])
	mean := make([]float64, d)
	for _, row := range x {
		for k, v := range row {
			mean[k] += v / float64(n)
		}
	}
	cov := make([]float64, d*d)
	for _, row := range x {
		for a := 0; a < d; a++ {
			va := row[a] - mean[a]
			for b := a; b < d; b++ {
				cov[a*d+b] += va * (row[b] - mean[b])
			}
		}
	}
	for a := 0; a < d; a++ {
		for b := 0; b < a; b++ {
			cov[a*d+b] = cov[b*d+a]
		}
	}
	var comps [2][]float64
	for c := 0; c < 2; c++ {
		v := make([]float64, d)
		for k := range v {
			v[k] = 1 / math.Sqrt(float64(d)) * (1 + float64(k%7)*0.01)
		}
		var lambda float64
		for it := 0; it < 300; it++ {
			w := make([]float64, d)
			for a := 0; a < d; a++ {
				var s float64
				for b := 0; b < d; b++ {
					s += cov[a*d+b] * v[b]
				}
				w[a] = s
			}
			var norm float64
			for _, t := range w {
				norm += t * t
			}
			norm = math.Sqrt(norm)
			if norm == 0 {
				break
			}
			for k := range w {
				w[k] /= norm
			}
			v, lambda = w, norm
		}
		comps[c] = v
		for a := 0; a < d; a++ {
			for b := 0; b < d; b++ {
				cov[a*d+b] -= lambda * v[a] * v[b]
			}
		}
	}
	out := make([][2]float64, n)
	for i, row := range x {
		for c := 0; c < 2; c++ {
			var s float64
			for k, v := range row {
				s += (v - mean[k]) * comps[c][k]
			}
			out[i][c] = s
		}
	}
	return out, nil
}
