package cli

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataFixture writes n small PNG images and a manifest CSV naming them, and returns the CSV.
func dataFixture(t *testing.T, dir string, n int) string {
	t.Helper()
	var rows []string
	for i := 0; i < n; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 6, 6))
		img.Set(i%6, 0, color.NRGBA{R: uint8(i), A: 255})
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		rows = append(rows, fmt.Sprintf("%d.png,thing %d,%s", i, i, []string{"a", "b"}[i%2]))
	}
	p := filepath.Join(dir, "m.csv")
	if err := os.WriteFile(p, []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDataPrepareRefuses: issue 12 found --ratios 0:0:0 and --workers -5 accepted; they are
// refused with one line, as are other impossible settings.
func TestDataPrepareRefuses(t *testing.T) {
	dir := t.TempDir()
	csv := dataFixture(t, dir, 20)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--ratios", "0:0:0"}, `--ratios "0:0:0": at least one share must be positive`},
		{[]string{"--ratios", "8:1:-1"}, "is not a non-negative number"},
		{[]string{"--ratios", "8:1:NaN"}, "is not a non-negative number"},
		{[]string{"--workers", "-5"}, "--workers -5: want 0 (all cores) to 1024"},
		{[]string{"--max-image-pixels", "0"}, "--max-image-pixels 0: must be positive"},
		{[]string{"--base-size", "100000"}, "--base-size 100000: want 0 (off) to 4096"},
		{[]string{"--max-bad", "2"}, "max bad share 2: must be in [0, 1]"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			args := append([]string{"data", "prepare", "manifest", "--file", csv, "--out", out, "-q"}, tc.flags...)
			_, stderr, code := runCLI(t, args...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q, want one line with %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(out, "dataset.json")); err == nil {
				t.Error("a refused prepare wrote a dataset")
			}
		})
	}
	// The output folder may not overwrite the input.
	jsonl := filepath.Join(dir, "manifest.jsonl")
	os.WriteFile(jsonl, []byte(`{"image":"0.png","text":"x","label":"a"}`+"\n"), 0o644)
	_, stderr, code := runCLI(t, "data", "prepare", "manifest", "--file", jsonl, "--out", dir, "-q")
	if code == 0 || !strings.Contains(stderr, "would overwrite the input") {
		t.Errorf("--out over the input: exit %d, %q", code, stderr)
	}
}

// TestDataPrepareBaseSize: --base-size stores shrunk images and records the setting.
func TestDataPrepareBaseSize(t *testing.T) {
	dir := t.TempDir()
	csv := dataFixture(t, dir, 20)
	out := filepath.Join(dir, "out")
	stdout, stderr, code := runCLI(t, "data", "prepare", "manifest", "--file", csv, "--out", out, "-q", "--base-size", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	meta, err := os.ReadFile(filepath.Join(out, "dataset.json"))
	if err != nil || !strings.Contains(string(meta), `"dir": "base-4"`) || !strings.Contains(stdout, "prepared manifest") {
		t.Errorf("dataset.json %s (%v), stdout %s", meta, err, stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "base-4", "0.png.jpg")); err != nil {
		t.Error(err)
	}
}
