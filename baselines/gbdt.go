package baselines

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
)

// GBDTParams are the gradient-boosting settings (config.GBDT).
type GBDTParams struct {
	Rounds       int
	Depth        int
	LearningRate float64
	Bins         int
	MinLeaf      int
	Workers      int // goroutines for split finding; 0 = 2
}

// Tree is one regression tree in flat arrays; node 0 is the root. A node
// is a leaf when Feature is -1; otherwise samples with x[Feature] <=
// Threshold go to Left.
type Tree struct {
	Feature   []int32   `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Left      []int32   `json:"left"`
	Right     []int32   `json:"right"`
	Value     []float64 `json:"value"`
}

// leaf returns the leaf node of x.
func (t *Tree) leaf(x []float32) int {
	n := 0
	for t.Feature[n] >= 0 {
		if float64(x[t.Feature[n]]) <= t.Threshold[n] {
			n = int(t.Left[n])
		} else {
			n = int(t.Right[n])
		}
	}
	return n
}

// GBDT is a multiclass gradient-boosted tree ensemble (Friedman's
// multinomial deviance boosting, as scikit-learn's GradientBoostingClassifier):
// raw scores start at the log class priors; each round fits one regression
// tree per class to the negative gradient y_k − p_k (split gain: Friedman's
// MSE criterion), sets each leaf to the Newton step
// (K−1)/K · Σ(y_k − p_k) / Σ p_k(1 − p_k), and adds it times the learning
// rate. Features are bucketed into at most Bins histogram bins; a feature
// with at most Bins distinct training values is split exactly (at midpoints
// of adjacent values present in the node, as scikit-learn does), others at
// bin edges placed at evenly spaced ranks of their distinct values (in the
// spirit of XGBoost's and LightGBM's histogram methods). Split-gain ties go
// to the lower feature index (scikit-learn draws a random feature order).
type GBDT struct {
	Classes      int       `json:"classes"`
	Init         []float64 `json:"init"`
	LearningRate float64   `json:"learning_rate"`
	Trees        [][]Tree  `json:"trees"` // [round][class]
}

// binned is the training matrix bucketed per feature.
type binned struct {
	n, f   int
	bins   [][]uint16  // [feature][sample]
	edges  [][]float64 // [feature] threshold after bin b (len = bins-1)
	values [][]float64 // [feature] the value of each bin when exact, else nil
}

func binFeatures(X [][]float32, maxBins int) *binned {
	n, f := len(X), len(X[0])
	b := &binned{n: n, f: f, bins: make([][]uint16, f), edges: make([][]float64, f), values: make([][]float64, f)}
	col := make([]float32, n)
	for j := 0; j < f; j++ {
		for i := range X {
			col[i] = X[i][j]
		}
		d := slices.Clone(col)
		slices.Sort(d)
		d = slices.Compact(d)
		var edges []float64
		if len(d) <= maxBins {
			vals := make([]float64, len(d))
			for i, v := range d {
				vals[i] = float64(v)
			}
			for i := 1; i < len(d); i++ {
				edges = append(edges, float64(d[i-1])/2+float64(d[i])/2)
			}
			b.values[j] = vals
		} else {
			for q := 1; q < maxBins; q++ {
				i := q * len(d) / maxBins
				e := float64(d[i-1])/2 + float64(d[i])/2
				if len(edges) == 0 || e > edges[len(edges)-1] {
					edges = append(edges, e)
				}
			}
		}
		b.edges[j] = edges
		bins := make([]uint16, n)
		for i, v := range col {
			bins[i] = uint16(sort.SearchFloat64s(edges, float64(v))) // first edge >= v: v <= edge -> that bin
		}
		b.bins[j] = bins
	}
	return b
}

// split is the best split of a node.
type split struct {
	feature int
	bin     int     // samples with bin <= bin go left
	thr     float64 // threshold on raw values
	proxy   float64
	ok      bool
}

// FitGBDT fits the ensemble to rows X (equal lengths, no NaN) and labels y
// in [0, classes).
func FitGBDT(X [][]float32, y []int, classes int, p GBDTParams) (*GBDT, error) {
	if err := checkGBDTInput(X, y, classes, &p); err != nil {
		return nil, err
	}
	n := len(X)
	m := &GBDT{Classes: classes, LearningRate: p.LearningRate, Init: make([]float64, classes)}
	counts := make([]float64, classes)
	for _, c := range y {
		counts[c]++
	}
	// scikit-learn clips the prior to [eps, 1-eps] and takes the symmetric
	// multinomial logit; softmax ignores the shift, so log(prior) is enough.
	eps := math.Nextafter(1, 2) - 1
	for k := range counts {
		m.Init[k] = math.Log(min(max(counts[k]/float64(n), eps), 1-eps))
	}
	bx := binFeatures(X, p.Bins)
	raw := make([][]float64, n)
	for i := range raw {
		raw[i] = slices.Clone(m.Init)
	}
	prob := make([][]float64, n)
	resid := make([]float64, n)
	for round := 0; round < p.Rounds; round++ {
		for i := range raw {
			prob[i] = softmax(raw[i])
		}
		trees := make([]Tree, classes)
		for k := 0; k < classes; k++ {
			for i := range resid {
				yk := 0.0
				if y[i] == k {
					yk = 1
				}
				resid[i] = yk - prob[i][k]
			}
			tree, leafOf := fitClassTree(bx, resid, prob, k, classes, p)
			for i, l := range leafOf {
				raw[i][k] += p.LearningRate * tree.Value[l]
			}
			trees[k] = tree
		}
		m.Trees = append(m.Trees, trees)
	}
	return m, nil
}

// checkGBDTInput validates the data and parameters and fills p's defaults.
func checkGBDTInput(X [][]float32, y []int, classes int, p *GBDTParams) error {
	if len(X) == 0 || len(X) != len(y) {
		return fmt.Errorf("gbdt: %d rows and %d labels", len(X), len(y))
	}
	if classes < 2 || p.Rounds < 1 || p.Depth < 1 || p.Bins < 2 || p.Bins > 65535 || !(p.LearningRate > 0) {
		return fmt.Errorf("gbdt: bad parameters %+v for %d classes", *p, classes)
	}
	if p.MinLeaf < 1 {
		p.MinLeaf = 1
	}
	if p.Workers <= 0 {
		p.Workers = 2
	}
	for i, row := range X {
		if len(row) != len(X[0]) {
			return fmt.Errorf("gbdt: row %d has %d features, want %d", i, len(row), len(X[0]))
		}
		for _, v := range row {
			if math.IsNaN(float64(v)) {
				return errors.New("gbdt: NaN feature")
			}
		}
		if y[i] < 0 || y[i] >= classes {
			return fmt.Errorf("gbdt: label %d of row %d outside [0, %d)", y[i], i, classes)
		}
	}
	return nil
}

// fitClassTree grows class k's tree on the residuals and sets each leaf
// to its Newton step, (K-1)/K · Σ resid / Σ p(1-p) over its samples; it
// returns the tree and each sample's leaf.
func fitClassTree(bx *binned, resid []float64, prob [][]float64, k, classes int, p GBDTParams) (Tree, []int) {
	tree, leafOf := growTree(bx, resid, p)
	num := make([]float64, len(tree.Value))
	den := make([]float64, len(tree.Value))
	for i, l := range leafOf {
		num[l] += resid[i]
		pk := prob[i][k]
		den[l] += pk * (1 - pk)
	}
	for l := range tree.Value {
		if tree.Feature[l] >= 0 {
			continue
		}
		v := 0.0
		if math.Abs(den[l]) >= 1e-150 {
			v = num[l] * float64(classes-1) / float64(classes) / den[l]
		}
		tree.Value[l] = v
	}
	return tree, leafOf
}

// growTree grows a depth-limited regression tree on resid and returns it
// with each training sample's leaf.
func growTree(bx *binned, resid []float64, p GBDTParams) (Tree, []int) {
	var t Tree
	leafOf := make([]int, bx.n)
	newNode := func() int {
		t.Feature = append(t.Feature, -1)
		t.Threshold = append(t.Threshold, 0)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, 0)
		return len(t.Feature) - 1
	}
	all := make([]int, bx.n)
	for i := range all {
		all[i] = i
	}
	var grow func(idx []int, depth int) int
	grow = func(idx []int, depth int) int {
		node := newNode()
		leaf := func() int {
			for _, i := range idx {
				leafOf[i] = node
			}
			return node
		}
		if depth >= p.Depth || len(idx) < 2 || len(idx) < 2*p.MinLeaf {
			return leaf()
		}
		var s, sq float64
		for _, i := range idx {
			s += resid[i]
			sq += resid[i] * resid[i]
		}
		nn := float64(len(idx))
		if sq/nn-(s/nn)*(s/nn) <= math.Nextafter(1, 2)-1 {
			return leaf()
		}
		best := bestSplit(bx, resid, idx, s, p)
		if !best.ok {
			return leaf()
		}
		var left, right []int
		bins := bx.bins[best.feature]
		for _, i := range idx {
			if int(bins[i]) <= best.bin {
				left = append(left, i)
			} else {
				right = append(right, i)
			}
		}
		t.Feature[node] = int32(best.feature)
		t.Threshold[node] = best.thr
		l := grow(left, depth+1)
		r := grow(right, depth+1)
		t.Left[node], t.Right[node] = int32(l), int32(r)
		return node
	}
	grow(all, 0)
	return t, leafOf
}

// bestSplit scans every feature's histogram over the node's samples and
// returns the split with the largest Friedman improvement proxy
// (n_R·S_L − n_L·S_R)² / (n_L·n_R); ties keep the lower feature and bin.
func bestSplit(bx *binned, resid []float64, idx []int, total float64, p GBDTParams) split {
	results := make([]split, p.Workers)
	var wg sync.WaitGroup
	for w := 0; w < p.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			best := split{}
			var sum []float64
			var cnt []int
			for f := w; f < bx.f; f += p.Workers {
				nb := len(bx.edges[f]) + 1
				if nb < 2 {
					continue
				}
				if cap(sum) < nb {
					sum, cnt = make([]float64, nb), make([]int, nb)
				}
				sum, cnt = sum[:nb], cnt[:nb]
				clear(sum)
				clear(cnt)
				bins := bx.bins[f]
				for _, i := range idx {
					b := bins[i]
					sum[b] += resid[i]
					cnt[b]++
				}
				n := len(idx)
				var sl float64
				nl := 0
				lastLeft := -1
				for b := 0; b < nb-1; b++ {
					if cnt[b] == 0 {
						continue
					}
					sl += sum[b]
					nl += cnt[b]
					lastLeft = b
					// the next non-empty bin starts the right side
					nxt := b + 1
					for nxt < nb && cnt[nxt] == 0 {
						nxt++
					}
					if nxt == nb {
						break
					}
					nr := n - nl
					if nl < p.MinLeaf || nr < p.MinLeaf {
						continue
					}
					sr := total - sl
					diff := float64(nr)*sl - float64(nl)*sr
					proxy := diff * diff / (float64(nl) * float64(nr))
					if !best.ok || proxy > best.proxy {
						thr := bx.edges[f][b]
						if vals := bx.values[f]; vals != nil {
							thr = vals[lastLeft]/2 + vals[nxt]/2
							if thr == vals[nxt] {
								thr = vals[lastLeft]
							}
						}
						best = split{feature: f, bin: b, thr: thr, proxy: proxy, ok: true}
					}
				}
			}
			results[w] = best
		}(w)
	}
	wg.Wait()
	best := split{}
	for _, r := range results {
		if r.ok && (!best.ok || r.proxy > best.proxy || (r.proxy == best.proxy && r.feature < best.feature)) {
			best = r
		}
	}
	return best
}

// softmax of a row.
func softmax(z []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, v)
	}
	out := make([]float64, len(z))
	var s float64
	for i, v := range z {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// Raw returns the raw scores of x.
func (m *GBDT) Raw(x []float32) []float64 {
	raw := slices.Clone(m.Init)
	for _, round := range m.Trees {
		for k := range round {
			raw[k] += m.LearningRate * round[k].Value[round[k].leaf(x)]
		}
	}
	return raw
}

// PredictProba returns the class probabilities of each row.
func (m *GBDT) PredictProba(X [][]float32) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		out[i] = softmax(m.Raw(x))
	}
	return out
}

// Size is the number of stored values: a feature and a threshold per split,
// a value per leaf.
func (m *GBDT) Size() int64 {
	var n int64
	for _, round := range m.Trees {
		for _, t := range round {
			for i := range t.Feature {
				if t.Feature[i] >= 0 {
					n += 2
				} else {
					n++
				}
			}
		}
	}
	return n + int64(len(m.Init))
}
