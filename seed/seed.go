// Package seed derives the seeds of a run's random streams from its one
// configured seed, so that every stream (dropout masks at a step, a GAN
// round's noise, a data order) is reproducible on its own, also after a
// resume, and independent of the others.
package seed

// Mix hashes base and the counters vals (a step, a round, a stream tag)
// into a new 64-bit seed with the splitmix64 finaliser. Equal inputs give
// equal seeds; any change gives an unrelated one.
func Mix(base uint64, vals ...uint64) uint64 {
	h := base
	for _, v := range vals {
		h += 0x9e3779b97f4a7c15 + v
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// Torch is Mix as a non-negative int64, the form libtorch's manual_seed
// takes.
func Torch(base uint64, vals ...uint64) int64 {
	return int64(Mix(base, vals...) >> 1)
}
