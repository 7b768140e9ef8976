package gan

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/vbg-museum/vbg/device"
)

// benchConfigs are the default GAN (64 px, 64 channels) and the
// CPU-sized one of experiments/scarce-gan.yaml (32 px, 32 channels).
var benchConfigs = []struct {
	size, channels int
}{{64, 64}, {32, 32}}

func benchTrainer(b *testing.B, size, channels int) *Trainer {
	c := smallGAN(size)
	c.GenChannels, c.DiscChannels, c.NoiseDim, c.EmbedDim = channels, channels, 100, 32
	c.BatchSize = 64
	c.Loss.StyleChannels = 32
	return newTestTrainer(b, c, 1)
}

// BenchmarkGANTrainStep measures GAN training throughput: one step is a D
// update on 64 real and 64 generated images and a G update with the style
// and attribute losses. Reported as real images per second.
//
//	go test ./gan -run '^$' -bench GANTrainStep -benchtime 5x
func BenchmarkGANTrainStep(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := device.SetThreads(benchThreads()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range benchConfigs {
		b.Run(fmt.Sprintf("%dpx-%dch", bc.size, bc.channels), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tr := benchTrainer(b, bc.size, bc.channels)
			src := constSource(bc.size, 64, 3, int(tr.Model.Attributes))
			var batch RealBatch
			for rb := range src(0) {
				batch = rb
				break
			}
			if _, err := tr.Step(batch); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkGANSample measures generation throughput (generator and
// discriminator score, evaluation mode, batches of 64), in images per
// second.
//
//	go test ./gan -run '^$' -bench GANSample -benchtime 5x
func BenchmarkGANSample(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := device.SetThreads(benchThreads()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range benchConfigs {
		b.Run(fmt.Sprintf("%dpx-%dch", bc.size, bc.channels), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tr := benchTrainer(b, bc.size, bc.channels)
			classes := make([]int64, 256)
			for i := range classes {
				classes[i] = int64(i % 3)
			}
			if _, _, err := tr.Sample(classes[:64], 0); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := tr.Sample(classes, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(classes))/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// benchThreads is VBG_BENCH_THREADS (libtorch threads), default 0: one per core.
func benchThreads() int {
	n, _ := strconv.Atoi(os.Getenv("VBG_BENCH_THREADS"))
	return n
}
