package gan

import (
	"fmt"
	"math"
)

// StepStats are the numbers of one GAN step.
type StepStats struct {
	LossD, LossG float64 // total losses minimised by D and G
	// Components of the losses (unweighted).
	AdvD, AdvG, Style, AttrD, AttrG float64
	DReal, DFake                    float64 // mean D(x) on real and on generated images
}

// Window is the mean of StepStats over a window of steps.
type Window struct {
	Steps               int
	LossD, LossG        float64
	DReal, DFake        float64
	Style, AttrD, AttrG float64
}

// Stability decides when a round's GAN training has settled. Every Window
// steps it compares the window's means with the previous window's. The
// GAN is stable when, at or after MinSteps:
//
//   - every loss of the window is finite;
//   - the mean D loss and the mean G loss each changed by at most
//     Tolerance relative to the previous window
//     (|m_t − m_{t−1}| <= Tolerance·max(|m_{t−1}|, 0.1));
//   - the discriminator has not won: mean D(x) − mean D(G(z)) <= MaxGap
//     (a saturated D starves G of gradient, and samples stop improving).
//
// The loss test detects the plateau of the adversarial game, the gap test
// rules out the plateau of a collapsed one.
type Stability struct {
	Window    int
	Tolerance float64
	MaxGap    float64
	MinSteps  int

	steps      int
	cur        Window
	prev       *Window
	lastReason string
}

// Add records one step and reports whether a window closed with this step
// and, if so, whether the GAN is stable now.
func (s *Stability) Add(st StepStats) (checked, stable bool) {
	s.steps++
	s.cur.Steps++
	s.cur.LossD += st.LossD
	s.cur.LossG += st.LossG
	s.cur.DReal += st.DReal
	s.cur.DFake += st.DFake
	s.cur.Style += st.Style
	s.cur.AttrD += st.AttrD
	s.cur.AttrG += st.AttrG
	w := max(s.Window, 1)
	if s.cur.Steps < w {
		return false, false
	}
	m := s.cur.mean()
	s.cur = Window{}
	stable, s.lastReason = s.judge(m)
	s.prev = &m
	return true, stable
}

func (w Window) mean() Window {
	n := float64(w.Steps)
	return Window{Steps: w.Steps, LossD: w.LossD / n, LossG: w.LossG / n, DReal: w.DReal / n, DFake: w.DFake / n,
		Style: w.Style / n, AttrD: w.AttrD / n, AttrG: w.AttrG / n}
}

func (s *Stability) judge(m Window) (bool, string) {
	for _, v := range []float64{m.LossD, m.LossG, m.DReal, m.DFake, m.Style, m.AttrD, m.AttrG} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false, "a loss is not finite"
		}
	}
	if s.prev == nil {
		return false, "first window"
	}
	if s.steps < s.MinSteps {
		return false, fmt.Sprintf("%d of %d minimum steps", s.steps, s.MinSteps)
	}
	rel := func(cur, prev float64) float64 { return math.Abs(cur-prev) / math.Max(math.Abs(prev), 0.1) }
	if r := rel(m.LossD, s.prev.LossD); r > s.Tolerance {
		return false, fmt.Sprintf("D loss moved %.0f%%", 100*r)
	}
	if r := rel(m.LossG, s.prev.LossG); r > s.Tolerance {
		return false, fmt.Sprintf("G loss moved %.0f%%", 100*r)
	}
	if gap := m.DReal - m.DFake; gap > s.MaxGap {
		return false, fmt.Sprintf("D wins: D(x) − D(G(z)) = %.2f", gap)
	}
	return true, "stable"
}

// Last returns the means of the last closed window (zero before one).
func (s *Stability) Last() Window {
	if s.prev == nil {
		return Window{}
	}
	return *s.prev
}

// Reason says why the last closed window was or was not stable.
func (s *Stability) Reason() string { return s.lastReason }
