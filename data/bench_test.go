package data

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
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
					base, err := decodeBase(paths[i%len(paths)], 256, tf.bg, imageCheck{})
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

// photoFiles returns real photographs for the base-image benchmarks: the two that
// scikit-learn ships (in .venv, see scripts/setup-pyenv.sh), else nil.
func photoFiles() []string {
	var out []string
	for _, n := range []string{"china.jpg", "flower.jpg"} {
		matches, _ := filepath.Glob(filepath.Join("..", ".venv", "lib", "python3*", "site-packages", "sklearn", "datasets", "images", n))
		out = append(out, matches...)
	}
	return out
}

// baseDataset prepares a dataset of the given source images with base images of the given
// size and returns its records.
func baseDataset(b *testing.B, sources []string, size int) []Record {
	b.Helper()
	dir := b.TempDir()
	var rows []string
	for i, src := range sources {
		raw, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("img/%d%s", i, filepath.Ext(src))
		writeFile(b, filepath.Join(dir, filepath.FromSlash(name)), raw)
		rows = append(rows, fmt.Sprintf("%s,photo %d,%s", name, i, []string{"a", "b"}[i%2]))
	}
	file := writeFile(b, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	o := DefaultPrepareOptions(filepath.Join(dir, "out"))
	o.Quiet, o.BaseSize, o.MinCount = true, size, 1
	if _, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file}); err != nil {
		b.Fatal(err)
	}
	p, err := Open(o.Out)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range p.Records {
		if r.Base == "" {
			b.Fatalf("record %s has no base image", r.ID)
		}
	}
	return p.Records
}

// BenchmarkBaseImages measures decode + augment (random resized crop and flip, or the
// evaluation centre crop) to 224x224 on one core, from base images stored by prepare
// (JPEG quality 90) against decoding the full-size originals: images per second and per CPU
// second. "base256" is --base-size 256 read by DefaultLoaderConfig (shorter side 256, crop
// 224); "base224" is --base-size 224 read as vbg run does (data.image_size 224: the loader's
// base is the image size); "original" decodes the source files. "photo" uses real
// photographs (640x427; skipped without .venv), "synthetic" 1024x768 images of benchPhoto.
//
//	go test ./data -run '^$' -bench BaseImages -cpu 1 -benchtime 3s
func BenchmarkBaseImages(b *testing.B) {
	sets := map[string][]string{"photo": photoFiles(), "synthetic": benchFiles(b, 8, 1024, 768, "jpeg")}
	for _, set := range []string{"photo", "synthetic"} {
		for _, tc := range []struct {
			name        string
			store, base int // --base-size (0: read the originals) and the loader's base size
			train       bool
		}{
			{"base256/train", 256, 256, true}, {"base256/eval", 256, 256, false},
			{"base224/train", 224, 224, true}, {"base224/eval", 224, 224, false},
			{"original/train", 0, 256, true},
			{"base256/decode", 256, 256, false}, // the JPEG decode and RGB conversion alone
		} {
			b.Run(set+"/"+tc.name, func(b *testing.B) {
				if len(sets[set]) == 0 {
					b.Skip("no photographs (.venv)")
				}
				benchBaseImages(b, sets[set], tc.store, tc.base, tc.train)
			})
		}
	}
}

func benchBaseImages(b *testing.B, src []string, store, base int, train bool) {
	recs := baseDataset(b, src, max(store, 1))
	if store == 0 {
		for i := range recs {
			recs[i].Base = ""
		}
	}
	cfg := DefaultLoaderConfig(train)
	cfg.ResizeSize = base
	l, err := NewLoader(recs, cfg)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	decodeOnly := strings.HasSuffix(b.Name(), "/decode")
	b.ResetTimer()
	start, cpu := time.Now(), cpuSeconds()
	for i := 0; i < b.N; i++ {
		var err error
		if decodeOnly {
			_, err = l.base(recs[i%len(recs)])
		} else {
			err = l.load(i/len(recs), i%len(recs), dst)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
	reportCPU(b, b.N, cpu)
}
