package vbg

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// benchThreads sets libtorch's intra-op threads from VBG_THREADS (default:
// one per core) and returns the count, so that bench/torch_encoders.py can be
// run with the same number.
func benchThreads(b *testing.B) int {
	n := runtime.NumCPU()
	if s := os.Getenv("VBG_THREADS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("VBG_THREADS=%q: want a positive integer", s)
		}
		n = v
	}
	if err := ts.SetNumThreads(n); err != nil {
		b.Fatal(err)
	}
	return n
}

// benchForward times fwd (one inference forward, outputs freed) under
// no-grad after one warm-up call. Besides ns/op (the mean) it reports the
// fastest iteration as min-ms, which is steadier on a shared machine, and
// the libtorch thread count.
func benchForward(b *testing.B, threads int, fwd func() (*EncoderOutput, error)) {
	best := time.Duration(math.MaxInt64)
	ts.NoGrad(func() {
		out, err := fwd()
		if err != nil {
			b.Fatal(err)
		}
		out.Drop()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			out, err := fwd()
			if err != nil {
				b.Fatal(err)
			}
			out.Drop()
			best = min(best, time.Since(t0))
		}
		b.StopTimer()
	})
	b.ReportMetric(float64(best.Microseconds())/1e3, "min-ms")
	b.ReportMetric(float64(threads), "threads")
}

// BenchmarkViTBase16Forward: ViT-B/16, batch 8, 224×224, CPU, inference.
// Compare with bench/torch_encoders.py (see bench/README.md).
func BenchmarkViTBase16Forward(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threads := benchThreads(b)
	vs := nn.NewVarStore(gotch.CPU)
	m, err := NewViTModel(vs.Root(), ViTBase16())
	if err != nil {
		b.Fatal(err)
	}
	x := ts.MustRandn([]int64{8, 3, 224, 224}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	benchForward(b, threads, func() (*EncoderOutput, error) { return m.Forward(x, false) })
	runtime.KeepAlive(vs)
}

// BenchmarkBertBaseForward: BERT-Base, batch 8, 128 tokens (no padding, with
// an all-ones attention mask), CPU, inference.
func BenchmarkBertBaseForward(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threads := benchThreads(b)
	vs := nn.NewVarStore(gotch.CPU)
	cfg := BertBase()
	m, err := NewBertModel(vs.Root(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ids := ts.MustRandint(cfg.VocabSize, []int64{8, 128}, gotch.Int64, gotch.CPU)
	mask := ts.MustOnes([]int64{8, 128}, gotch.Int64, gotch.CPU)
	defer func() { ids.MustDrop(); mask.MustDrop() }()
	benchForward(b, threads, func() (*EncoderOutput, error) { return m.Forward(ids, nil, mask, false) })
	runtime.KeepAlive(vs)
}
