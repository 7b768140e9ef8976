package data

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchPhoto draws a photo-like w x h image (smooth shapes plus sensor-like noise), so JPEG
// sizes and decode times are realistic rather than those of a flat gradient.
func benchPhoto(w, h int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := newRNG(seed)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := r.intn(24)
			img.SetNRGBA(x, y, color.NRGBA{
				uint8((x*255/w + n) % 256), uint8((y*200/h + (x*y)%37 + n) % 256), uint8((128 + (x-y)/4 + n) % 256), 255})
		}
	}
	return img
}

// benchFiles writes n images of the given size and kind ("jpeg" or "png").
func benchFiles(b *testing.B, n, w, h int, kind string) []string {
	b.Helper()
	dir := b.TempDir()
	paths := make([]string, n)
	for i := range paths {
		img := benchPhoto(w, h, uint64(i))
		if kind == "jpeg" {
			paths[i] = writeFile(b, filepath.Join(dir, fmt.Sprintf("%d.jpg", i)), encodeJPEG(b, img))
		} else {
			paths[i] = writeFile(b, filepath.Join(dir, fmt.Sprintf("%d.png", i)), encodePNG(b, img))
		}
	}
	return paths
}

// BenchmarkDecodeResize measures decode + resize (shorter side 256) + centre crop 224 +
// normalise, on all cores (b.RunParallel): images per second.
//
//	go test ./data -run '^$' -bench DecodeResize -benchtime 3s
func BenchmarkDecodeResize(b *testing.B) {
	for _, tc := range []struct {
		name string
		w, h int
		kind string
	}{
		{"jpeg1024x768", 1024, 768, "jpeg"},
		{"png64", 64, 64, "png"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			paths := benchFiles(b, 16, tc.w, tc.h, tc.kind)
			cfg := DefaultLoaderConfig(false)
			cfg.ResizeSize = 256
			tf, err := newTransform(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu := time.Now(), cpuSeconds()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]float32, 3*224*224)
				i := 0
				for pb.Next() {
					base, err := decodeBase(paths[i%len(paths)], 256, tf.bg)
					if err != nil {
						b.Error(err)
						return
					}
					tf.apply(base, false, nil, dst)
					i++
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
			reportCPU(b, b.N, cpu)
		})
	}
}

// BenchmarkLoader measures the loader's batch rate (batch 8, 224x224, all cores), evaluation
// transform and training augmentation.
//
//	go test ./data -run '^$' -bench Loader -benchtime 3s
func BenchmarkLoader(b *testing.B) {
	for _, tc := range []struct {
		name  string
		w, h  int
		kind  string
		train bool
	}{
		{"jpeg1024/eval", 1024, 768, "jpeg", false},
		{"jpeg1024/train", 1024, 768, "jpeg", true},
		{"png64/eval", 64, 64, "png", false},
		{"png64/train", 64, 64, "png", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			paths := benchFiles(b, 32, tc.w, tc.h, tc.kind)
			recs := make([]Record, len(paths))
			for i, p := range paths {
				recs[i] = Record{ID: fmt.Sprint(i), Image: p, Texts: []string{"t"}, LabelID: 0}
			}
			cfg := DefaultLoaderConfig(tc.train)
			cfg.BatchSize = 8
			l, err := NewLoader(recs, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu := time.Now(), cpuSeconds()
			batches := 0
			for epoch := 0; batches < b.N; epoch++ {
				for _, err := range l.Epoch(epoch) {
					if err != nil {
						b.Fatal(err)
					}
					batches++
					if batches == b.N {
						break
					}
				}
			}
			s := time.Since(start).Seconds()
			b.ReportMetric(float64(batches)/s, "batches/s")
			b.ReportMetric(float64(batches*8)/s, "images/s")
			reportCPU(b, batches*8, cpu)
		})
	}
}

// BenchmarkLoaderEmoji measures the batch rate (batch 8, 224x224) on the real prepared emoji
// dataset, when it exists (scripts/fetch-emoji.sh, then
// vbg data prepare emoji --out .deps/data/emoji-category; or set VBG_EMOJI_DIR).
//
//	go test ./data -run '^$' -bench LoaderEmoji -benchtime 3s
func BenchmarkLoaderEmoji(b *testing.B) {
	dir := os.Getenv("VBG_EMOJI_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".deps", "data", "emoji-category")
	}
	p, err := Open(dir)
	if err != nil {
		b.Skipf("no prepared emoji dataset: %v", err)
	}
	for _, train := range []bool{false, true} {
		b.Run(map[bool]string{false: "eval", true: "train"}[train], func(b *testing.B) {
			cfg := DefaultLoaderConfig(train)
			cfg.BatchSize = 8
			l, err := NewLoader(p.Split(Train), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu := time.Now(), cpuSeconds()
			batches := 0
			for epoch := 0; batches < b.N; epoch++ {
				for _, err := range l.Epoch(epoch) {
					if err != nil {
						b.Fatal(err)
					}
					batches++
					if batches == b.N {
						break
					}
				}
			}
			s := time.Since(start).Seconds()
			b.ReportMetric(float64(batches)/s, "batches/s")
			b.ReportMetric(float64(batches*8)/s, "images/s")
			reportCPU(b, batches*8, cpu)
		})
	}
}

// reportCPU reports images per CPU second (all goroutines together) since cpu0.
func reportCPU(b *testing.B, images int, cpu0 float64) {
	if d := cpuSeconds() - cpu0; d > 0 && cpu0 > 0 {
		b.ReportMetric(float64(images)/d, "images/cpu-s")
	}
}
