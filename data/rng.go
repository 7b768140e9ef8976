package data

// rng is a small splitmix64 generator. Its output is fixed by its seed alone, on every Go
// version and machine, which is what splits and data order need (math/rand's algorithms are
// free to change between releases).
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform integer in [0, n) without modulo bias. n must be > 0.
func (r *rng) intn(n int) int {
	bound := uint64(n)
	limit := -bound % bound // (2^64 - bound) mod bound: values below it are rejected
	for {
		v := r.next()
		if v >= limit {
			return int(v % bound)
		}
	}
}

// float64 returns a uniform float in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// shuffle permutes [0, n) with Fisher-Yates, calling swap for each exchange.
func (r *rng) shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.intn(i+1))
	}
}

// hashString is FNV-1a, used to derive per-label seeds independent of other labels.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
