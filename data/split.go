package data

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/vbg-museum/vbg/seed"
)

// Ratios are the train, val and test shares of a split. They need not sum to one; a zero
// share leaves that split empty.
type Ratios [3]float64

// DefaultRatios is the paper's 8:1:1 split.
var DefaultRatios = Ratios{8, 1, 1}

// DefaultSeed is the paper's split seed.
const DefaultSeed = 42

// SplitResult holds a split as indices into the records passed to Split, each ascending.
type SplitResult struct {
	Train, Val, Test []int
	// Small lists classes with fewer groups than splits with a positive share: they cannot
	// be present in every split. Their groups go to train first, then test, then val.
	Small []SmallClass
	// MixedGroups lists groups whose records carry different labels; such a group is
	// stratified under its most frequent label (ties: the smallest name).
	MixedGroups []string
}

// SmallClass is a class too small to appear in every split.
type SmallClass struct {
	Label   string `json:"label"`
	Groups  int    `json:"groups"`
	Records int    `json:"records"`
}

// Indices returns the indices of a split by name (Train, Val or Test).
func (s SplitResult) Indices(name string) []int {
	switch name {
	case Train:
		return s.Train
	case Val:
		return s.Val
	case Test:
		return s.Test
	}
	return nil
}

// Split assigns records to train, val and test, stratified by label and grouped by
// groupKey (nil means Record.GroupKey): all records of a group land in the same split, and
// each class's groups are divided in the given ratios (largest-remainder rounding), with at
// least one group in every split of positive share when the class has enough groups.
//
// The result depends only on the records' labels and group keys and on splitSeed: not on record
// order, map iteration order, machine or Go version.
func Split(recs []Record, ratios Ratios, splitSeed uint64, groupKey func(Record) string) (SplitResult, error) {
	var res SplitResult
	sum := 0.0
	for _, r := range ratios {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return res, fmt.Errorf("split: ratios %v: shares must be finite and non-negative", ratios)
		}
		sum += r
	}
	if sum == 0 {
		return res, fmt.Errorf("split: ratios %v: at least one share must be positive", ratios)
	}
	if groupKey == nil {
		groupKey = Record.GroupKey
	}
	byLabel, mixed := groupsByLabel(recs, groupKey)
	res.MixedGroups = mixed
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	out := [3][]int{}
	for _, label := range labels {
		gs := byLabel[label]
		sort.Slice(gs, func(a, b int) bool { return gs[a].key < gs[b].key })
		rg := newRNG(seed.Mix(splitSeed, hashString(label)))
		rg.shuffle(len(gs), func(a, b int) { gs[a], gs[b] = gs[b], gs[a] })
		counts, small := splitCounts(gs, ratios, sum)
		if small {
			nrec := 0
			for _, g := range gs {
				nrec += len(g.members)
			}
			res.Small = append(res.Small, SmallClass{Label: label, Groups: len(gs), Records: nrec})
		}
		pos := 0
		for s := 0; s < 3; s++ {
			for _, g := range gs[pos : pos+counts[s]] {
				out[s] = append(out[s], g.members...)
			}
			pos += counts[s]
		}
	}
	for s := range out {
		slices.Sort(out[s])
	}
	res.Train, res.Val, res.Test = out[0], out[1], out[2]
	return res, nil
}

// splitGroup is a split group: its key, its records and its (majority) label.
type splitGroup struct {
	key     string
	members []int
	label   string
}

// groupsByLabel collects the groups and files each under its majority label (ties: the
// smallest name); it also returns the keys of groups with mixed labels, sorted.
func groupsByLabel(recs []Record, groupKey func(Record) string) (map[string][]*splitGroup, []string) {
	groups := map[string]*splitGroup{}
	for i, r := range recs {
		k := groupKey(r)
		g := groups[k]
		if g == nil {
			g = &splitGroup{key: k}
			groups[k] = g
		}
		g.members = append(g.members, i)
	}
	byLabel := map[string][]*splitGroup{}
	var mixed []string
	for _, g := range groups {
		counts := map[string]int{}
		for _, i := range g.members {
			counts[recs[i].Label]++
		}
		best, bestN := "", -1
		for l, n := range counts {
			if n > bestN || (n == bestN && l < best) {
				best, bestN = l, n
			}
		}
		if len(counts) > 1 {
			mixed = append(mixed, g.key)
		}
		g.label = best
		byLabel[best] = append(byLabel[best], g)
	}
	slices.Sort(mixed)
	return byLabel, mixed
}

// splitCounts is the number of a class's groups per split. A class with fewer groups than
// splits of positive share is small: its groups go to train first, then test, then val (a
// class never seen in training is useless).
func splitCounts(gs []*splitGroup, ratios Ratios, sum float64) ([3]int, bool) {
	positive := 0
	for _, r := range ratios {
		if r > 0 {
			positive++
		}
	}
	n := len(gs)
	if n >= positive {
		return allocate(n, ratios, sum), false
	}
	var counts [3]int
	left := n
	for _, s := range []int{0, 2, 1} {
		if ratios[s] > 0 && left > 0 {
			counts[s]++
			left--
		}
	}
	return counts, true
}

// allocate divides n items in the given ratios by largest remainder, then moves items from
// the largest split so that every split with a positive share has at least one (n must be at
// least the number of positive shares).
func allocate(n int, ratios Ratios, sum float64) [3]int {
	var counts [3]int
	var frac [3]float64
	given := 0
	for s, r := range ratios {
		exact := float64(n) * r / sum
		counts[s] = int(math.Floor(exact))
		frac[s] = exact - float64(counts[s])
		given += counts[s]
	}
	for given < n {
		best := -1
		for s := range ratios {
			if ratios[s] > 0 && (best < 0 || frac[s] > frac[best]) {
				best = s
			}
		}
		counts[best]++
		frac[best] = -1
		given++
	}
	for s := range ratios {
		if ratios[s] > 0 && counts[s] == 0 {
			big := 0
			for t := range counts {
				if counts[t] > counts[big] {
					big = t
				}
			}
			counts[big]--
			counts[s]++
		}
	}
	return counts
}
