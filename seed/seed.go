// Package seed derives the seeds of a run's random streams from its one
// configured seed, so that every stream (a data order, a split, dropout
// masks at a step, a GAN round's noise) is reproducible on its own, also
// after a resume, and independent of the others.
package seed

// Mix hashes base and the counters vals (a step, a round, a stream tag)
// into a new 64-bit seed by chaining splitmix64 (Steele, Lea and Flood,
// 2014): h = next(base), then h = next(h ^ v) for each value. Equal inputs
// give equal seeds; any change gives an unrelated one. Its output is fixed
// on every Go version and machine, which splits and data orders need.
func Mix(base uint64, vals ...uint64) uint64 {
	h := next(base)
	for _, v := range vals {
		h = next(h ^ v)
	}
	return h
}

// Torch is Mix as a non-negative int64, the form libtorch's manual_seed
// takes.
func Torch(base uint64, vals ...uint64) int64 {
	return int64(Mix(base, vals...) >> 1)
}

// next is one step of splitmix64 from state s.
func next(s uint64) uint64 {
	z := s + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
