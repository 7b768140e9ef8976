package optim

import "math"

// Schedule is linear warmup to the base rate over Warmup steps, then cosine
// decay to zero at Total steps.
type Schedule struct {
	Base   float64
	Warmup int64
	Total  int64
}

// At returns the learning rate for optimizer step step (0-based).
func (s Schedule) At(step int64) float64 {
	if s.Warmup > 0 && step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	span := s.Total - s.Warmup
	if span <= 0 {
		return s.Base
	}
	p := float64(step-s.Warmup) / float64(span)
	if p > 1 {
		p = 1
	}
	return s.Base * 0.5 * (1 + math.Cos(math.Pi*p))
}
