package train

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/optim"
	"github.com/vbg-museum/vbg/vbg"
)

// benchThreads is VBG_THREADS or one per core.
func benchThreads() int {
	n, _ := strconv.Atoi(os.Getenv("VBG_THREADS"))
	return n
}

// stepper is one full training step of a model on fixed random inputs.
type stepper struct {
	model vbg.Network
	opt   *optim.AdamW
	in    vbg.Inputs
	y     *ts.Tensor
}

func newStepper(tb testing.TB, cfg *config.Config, batch, tokens, vocab, classes int64) *stepper {
	if tb == nil {
		tb = &testing.B{}
	}
	vs := nn.NewVarStore(gotch.CPU)
	m, err := experiment.Build(vs.Root(), cfg, int(vocab), int(classes))
	if err != nil {
		tb.Fatal(err)
	}
	var params []optim.Param
	for name, v := range vs.Variables() {
		v := v
		params = append(params, optim.Param{Name: name, Tensor: &v, LRMul: 1})
	}
	opt, err := optim.New(params, optim.Defaults(0.01))
	if err != nil {
		tb.Fatal(err)
	}
	s := int64(cfg.Data.ImageSize)
	mask := ts.MustOnes([]int64{batch, tokens}, gotch.Int64, gotch.CPU)
	return &stepper{
		model: m, opt: opt,
		in: vbg.Inputs{
			Pixels:        ts.MustRandn([]int64{batch, 3, s, s}, gotch.Float, gotch.CPU),
			InputIDs:      ts.MustRandint(vocab, []int64{batch, tokens}, gotch.Int64, gotch.CPU),
			AttentionMask: mask,
		},
		y: ts.MustRandint(classes, []int64{batch}, gotch.Int64, gotch.CPU),
	}
}

// step runs forward, loss, backward, clipping and an AdamW update.
func (s *stepper) step() error {
	out, err := s.model.Forward(s.in, true)
	if err != nil {
		return err
	}
	loss, err := s.model.Loss(out.Logits, s.y, nil)
	out.Drop()
	if err != nil {
		return err
	}
	err = loss.Backward()
	loss.Drop()
	if err != nil {
		return err
	}
	if _, err := s.opt.ClipGradNorm(1); err != nil {
		return err
	}
	if err := s.opt.Update(1e-4); err != nil {
		return err
	}
	return s.opt.ZeroGrad()
}

func maxRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

// BenchmarkTrainStepBase times a full training step of ViT-B/16 + BERT-Base
// + bidirectional fusion + head, batch 8, 224×224 images, 64 tokens, on the
// CPU; bench/train_step.py times the same step in PyTorch eager.
//
//	VBG_THREADS=2 go test ./train -run '^$' -bench TrainStepBase -benchtime 3x -timeout 30m
func BenchmarkTrainStepBase(b *testing.B) {
	cfg := config.Default()
	cfg.Model.Text.Tokenizer = "words"
	cfg.Model.Head.Dropout = 0.5
	w, err := device.Start(device.Config{Threads: benchThreads(), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	err = w.Do(func() error {
		s := newStepper(b, cfg, 8, 64, 30522, 8)
		if err := s.step(); err != nil { // warm-up
			return err
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.step(); err != nil {
				return err
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		b.ReportMetric(maxRSSMB(), "peak-RSS-MB")
		b.ReportMetric(float64(w.Threads), "threads")
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrainRSSFlat trains the smoke-sized model for 1,000 steps and
// reports RSS after 100 and after 1,000 steps: memory must stay flat.
//
//	go test ./train -run '^$' -bench TrainRSSFlat -benchtime 1x
func BenchmarkTrainRSSFlat(b *testing.B) {
	cfg, err := experiment.Load("../experiments/smoke.yaml", nil)
	if err != nil {
		b.Fatal(err)
	}
	w, err := device.Start(device.Config{Threads: benchThreads(), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	err = w.Do(func() error {
		s := newStepper(b, cfg, 16, 16, 200, 4)
		var at100 float64
		start := time.Now()
		settled := func() float64 {
			runtime.GC()
			debug.FreeOSMemory()
			return currentRSSMB()
		}
		for i := 1; i <= 1000; i++ {
			if err := s.step(); err != nil {
				return err
			}
			if i == 100 {
				at100 = settled()
			}
			if i%100 == 0 {
				fmt.Fprintf(os.Stderr, "step %4d: RSS %.1f MB, %d live tensors\n", i, settled(), len(ts.ExistingTensors))
			}
		}
		at1000 := settled()
		b.ReportMetric(at100, "RSS@100-MB")
		b.ReportMetric(at1000, "RSS@1000-MB")
		b.ReportMetric(100*(at1000-at100)/at100, "growth-%")
		fmt.Fprintf(os.Stderr, "1000 steps in %.1fs\n", time.Since(start).Seconds())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func currentRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss int64
	fmt.Sscanf(string(b), "%d %d", &size, &rss)
	return float64(rss*int64(os.Getpagesize())) / (1 << 20)
}
