package train

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/tensor"
)

// TestStepsFreeEveryTensor runs training steps and checks that no Go tensor
// handle outlives its step: the number of live gotch tensors is the same
// after 30 more steps. (RSS over 1,000 steps is measured by
// BenchmarkTrainRSSFlat.)
func TestStepsFreeEveryTensor(t *testing.T) {
	cfg, err := experiment.Load("../experiments/smoke.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := device.Start(device.Config{Threads: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Do(func() error {
		s := newStepper(t, cfg, 8, 12, 100, 4)
		for i := 0; i < 3; i++ {
			if err := s.step(); err != nil {
				return err
			}
		}
		// With the GC off no finalizer frees a forgotten tensor behind our
		// back, so the count is exact.
		defer tensor.Settle()()
		before := len(ts.ExistingTensors)
		seen := map[string]bool{}
		for n := range ts.ExistingTensors {
			seen[n] = true
		}
		for i := 0; i < 30; i++ {
			if err := s.step(); err != nil {
				return err
			}
		}
		if after := len(ts.ExistingTensors); after != before {
			t.Errorf("live tensors %d -> %d over 30 steps; new ones by creating op: %s", before, after, newTensorNames(seen))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newTensorNames counts live tensors not in seen by the op that made them.
func newTensorNames(seen map[string]bool) string {
	counts := map[string]int{}
	for n := range ts.ExistingTensors {
		if !seen[n] {
			counts[strings.TrimRight(n, "0123456789_")]++
		}
	}
	var out []string
	for k, c := range counts {
		out = append(out, fmt.Sprintf("%s×%d", k, c))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
