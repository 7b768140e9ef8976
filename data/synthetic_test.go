package data

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSynthetic(t *testing.T) {
	s, err := NewSynthetic(SyntheticOptions{Seed: 1, Classes: 6, PerClass: 10, ImageSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	if s.Colors != 3 || s.Words != 2 || len(s.Records) != 60 || len(s.Labels) != 6 {
		t.Fatalf("colors %d words %d records %d labels %v", s.Colors, s.Words, len(s.Records), s.Labels)
	}
	again, _ := NewSynthetic(SyntheticOptions{Seed: 1, Classes: 6, PerClass: 10, ImageSize: 24})
	other, _ := NewSynthetic(SyntheticOptions{Seed: 2, Classes: 6, PerClass: 10, ImageSize: 24})
	if !bytes.Equal(s.Images[5].Pix, again.Images[5].Pix) || s.Records[5].Texts[0] != again.Records[5].Texts[0] {
		t.Error("same seed, different data")
	}
	if bytes.Equal(s.Images[5].Pix, other.Images[5].Pix) {
		t.Error("different seed, same image")
	}
	// The image tells the colour (the saturated pixels' mean is nearest the class colour)
	// and the text tells the word; neither tells both.
	for i, r := range s.Records {
		word, col := r.Attrs["word"], r.Attrs["color"]
		if r.Label != col+"-"+word || r.LabelID != s.indexOf(r.Label) {
			t.Fatalf("record %d: label %q id %d", i, r.Label, r.LabelID)
		}
		words := 0
		fields := strings.Fields(r.Texts[0])
		for _, w := range synthWords {
			if slices.Contains(fields, w) {
				words++
				if w != word {
					t.Errorf("text %q has the word of another class", r.Texts[0])
				}
			}
		}
		for _, c := range synthColors {
			if slices.Contains(fields, c.name) {
				t.Errorf("text %q names a colour", r.Texts[0])
			}
		}
		if words != 1 {
			t.Errorf("text %q: %d class words", r.Texts[0], words)
		}
		if got := dominantColor(s.Images[i].Pix); got != col {
			t.Errorf("record %d: image colour %s, want %s", i, got, col)
		}
	}
	for _, bad := range []int{5, 7, 1, 81} {
		if _, err := NewSynthetic(SyntheticOptions{Seed: 1, Classes: bad, PerClass: 1, ImageSize: 16}); err == nil {
			t.Errorf("%d classes: no error", bad)
		}
	}
}

func (s *SyntheticSet) indexOf(label string) int {
	for i, l := range s.Labels {
		if l == label {
			return i
		}
	}
	return -1
}

// dominantColor names the synthetic colour nearest the mean of the saturated pixels.
func dominantColor(pix []uint8) string {
	var sum [3]float64
	n := 0.0
	for i := 0; i < len(pix); i += 4 {
		r, g, b := pix[i], pix[i+1], pix[i+2]
		if max(r, g, b)-min(r, g, b) > 60 {
			sum[0] += float64(r)
			sum[1] += float64(g)
			sum[2] += float64(b)
			n++
		}
	}
	best, bestD := "", 1e18
	for _, c := range synthColors {
		d := 0.0
		for k := 0; k < 3; k++ {
			x := sum[k]/n - float64(c.c[k])
			d += x * x
		}
		if d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}

func TestSyntheticDatasetLoads(t *testing.T) {
	dir := t.TempDir()
	recs, labels, err := Synthetic(filepath.Join(dir, "png"), SyntheticOptions{Seed: 3, Classes: 4, PerClass: 5, ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 20 || len(labels) != 4 || !filepath.IsAbs(recs[0].Image) {
		t.Fatalf("records %d labels %v image %q", len(recs), labels, recs[0].Image)
	}
	s, _ := NewSynthetic(SyntheticOptions{Seed: 3, Classes: 4, PerClass: 10, ImageSize: 16})
	p, err := s.WriteDataset(filepath.Join(dir, "set"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Split(Train)) != 32 || len(p.Split(Val)) != 4 || len(p.Split(Test)) != 4 {
		t.Errorf("splits %d/%d/%d", len(p.Split(Train)), len(p.Split(Val)), len(p.Split(Test)))
	}
	c := DefaultLoaderConfig(true)
	c.ImageSize, c.BatchSize = 16, 8
	l, err := NewLoader(p.Split(Train), c)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, err := range l.Epoch(0) {
		if err != nil {
			t.Fatal(err)
		}
		n += b.Len()
	}
	if n != 32 {
		t.Errorf("loaded %d records", n)
	}
}
