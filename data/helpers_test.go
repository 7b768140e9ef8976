package data

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// testImage draws a w x h gradient with a seed-dependent tint, so images differ.
func testImage(w, h int, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), uint8(seed * 37), 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writePNG(t testing.TB, path string, w, h, seed int) string {
	return writeFile(t, path, encodePNG(t, testImage(w, h, seed)))
}

func writeJPEG(t testing.TB, path string, w, h, seed int) string {
	return writeFile(t, path, encodeJPEG(t, testImage(w, h, seed)))
}

// quietOptions are DefaultPrepareOptions without progress bars.
func quietOptions(out string) PrepareOptions {
	o := DefaultPrepareOptions(out)
	o.Quiet = true
	return o
}

func countKinds(ps []Problem) map[Kind]int {
	m := map[Kind]int{}
	for _, p := range ps {
		m[p.Kind]++
	}
	return m
}

func readProblems(t *testing.T, dir string) []Problem {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ProblemsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []Problem
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var p Problem
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
