package device

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// rssBytes reads the resident set size from /proc/self/status.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimPrefix(s.Text(), "VmRSS:"), "%d", &kb)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func settledRSS(t *testing.T) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes(t)
}

// TestOpsDoNotLeak runs a million small ops through the patched gotch and
// checks that RSS grows by less than 5 MB. Unpatched gotch v0.9.1 leaks its
// output slot on every op (about 84 MB per million ops) and its
// multi-output wrappers write past a zero-byte buffer; its in-place
// wrappers kept an extra reference to every tensor they changed, so the
// tensor was never freed.
func TestOpsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("one million ops take about half a minute; run without -short")
	}
	w, err := Start(Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const total = 1_000_000
	var before, after int64
	err = w.Do(func() error {
		x, err := ts.Ones([]int64{4}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.Drop()
		one := ts.FloatScalar(1)
		op := func(i int) error {
			if i%10 == 5 { // an in-place wrapper on a temporary
				y, err := x.AddScalar(one, false)
				if err != nil {
					return err
				}
				if err := y.MulScalar_(one); err != nil {
					return err
				}
				return y.Drop()
			}
			if i%10 == 0 { // a two-output wrapper
				a, b, err := x.MaxDim(0, false, false)
				if err != nil {
					return err
				}
				a.Drop()
				b.Drop()
				return nil
			}
			y, err := x.AddScalar(one, false)
			if err != nil {
				return err
			}
			return y.Drop()
		}
		for i := 0; i < 100_000; i++ { // warm up allocators and the GC
			if err := op(i); err != nil {
				return err
			}
		}
		before = settledRSS(t)
		for i := 0; i < total; i++ {
			if err := op(i); err != nil {
				return err
			}
		}
		after = settledRSS(t)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	growth := after - before
	t.Logf("RSS %.1f MB -> %.1f MB over %d ops: %+.2f MB", float64(before)/1e6, float64(after)/1e6, total, float64(growth)/1e6)
	if growth >= 5<<20 {
		t.Errorf("RSS grew by %.1f MB over %d ops; want < 5 MB", float64(growth)/1e6, total)
	}
}
