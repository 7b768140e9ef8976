package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// loaderRecords writes n images (JPEG and PNG alternating, various sizes) with records.
func loaderRecords(t *testing.T, n int) []Record {
	t.Helper()
	dir := t.TempDir()
	recs := make([]Record, n)
	for i := range recs {
		var p string
		if i%2 == 0 {
			p = writeJPEG(t, filepath.Join(dir, fmt.Sprintf("%d.jpg", i)), 40+i, 30, i)
		} else {
			p = writePNG(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), 24, 36+i, i)
		}
		recs[i] = Record{ID: fmt.Sprint(i), Image: p, Texts: []string{fmt.Sprintf("first %d", i), fmt.Sprintf("second %d", i)},
			Label: fmt.Sprint(i % 3), LabelID: i % 3}
	}
	return recs
}

func collect(t *testing.T, l *Loader, epoch, start int) []Batch {
	t.Helper()
	var out []Batch
	for b, err := range l.EpochFrom(epoch, start) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func testConfig(train bool, workers int) LoaderConfig {
	c := DefaultLoaderConfig(train)
	c.ImageSize = 16
	c.BatchSize = 4
	c.Workers = workers
	c.Seed = 7
	return c
}

func TestLoaderBatches(t *testing.T) {
	recs := loaderRecords(t, 10)
	for _, tc := range []struct {
		name     string
		train    bool
		dropLast bool
		sizes    []int
	}{
		{"eval", false, false, []int{4, 4, 2}},
		{"train drop last", true, true, []int{4, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(tc.train, 3)
			c.DropLast = tc.dropLast
			l, err := NewLoader(recs, c)
			if err != nil {
				t.Fatal(err)
			}
			bs := collect(t, l, 0, 0)
			if len(bs) != len(tc.sizes) || l.Len() != len(tc.sizes) {
				t.Fatalf("%d batches (Len %d), want %d", len(bs), l.Len(), len(tc.sizes))
			}
			var ids []string
			for i, b := range bs {
				n := tc.sizes[i]
				if b.Len() != n || len(b.Images) != n*3*16*16 || len(b.Labels) != n || len(b.Texts) != n || b.Size != 16 || b.Index != i {
					t.Fatalf("batch %d: len %d images %d labels %d size %d", i, b.Len(), len(b.Images), len(b.Labels), b.Size)
				}
				for k, id := range b.IDs {
					var r Record
					for _, x := range recs {
						if x.ID == id {
							r = x
						}
					}
					if b.Labels[k] != int64(r.LabelID) || !slices.Contains(r.Texts, b.Texts[k]) {
						t.Errorf("batch %d item %d: label %d text %q for record %+v", i, k, b.Labels[k], b.Texts[k], r)
					}
					if !tc.train && b.Texts[k] != r.Texts[0] {
						t.Errorf("eval text %q, want the first", b.Texts[k])
					}
				}
				ids = append(ids, b.IDs...)
			}
			if !tc.train && !slices.Equal(ids, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}) {
				t.Errorf("eval order %v", ids)
			}
			for _, v := range bs[0].Images {
				if v < -2.2 || v > 2.7 { // ImageNet-normalised range
					t.Fatalf("value %v out of range", v)
				}
			}
		})
	}
}

func TestLoaderDeterministic(t *testing.T) {
	recs := loaderRecords(t, 11)
	l1, err := NewLoader(recs, testConfig(true, 1))
	if err != nil {
		t.Fatal(err)
	}
	l4, err := NewLoader(recs, testConfig(true, 4))
	if err != nil {
		t.Fatal(err)
	}
	a, b := collect(t, l1, 3, 0), collect(t, l4, 3, 0)
	for i := range a {
		if !slices.Equal(a[i].IDs, b[i].IDs) || !slices.Equal(a[i].Images, b[i].Images) || !slices.Equal(a[i].Texts, b[i].Texts) {
			t.Fatalf("batch %d differs between 1 and 4 workers", i)
		}
	}
	// Resuming at batch 1 gives the same batches as the full epoch from batch 1.
	r := collect(t, l4, 3, 1)
	if len(r) != len(a)-1 || !slices.Equal(r[0].IDs, a[1].IDs) || !slices.Equal(r[1].Images, a[2].Images) {
		t.Fatal("EpochFrom(3, 1) differs from Epoch(3)[1:]")
	}
	// Another epoch: another order and other augmentations.
	if slices.Equal(l1.Order(3), l1.Order(4)) {
		t.Error("epochs 3 and 4 have the same order")
	}
	if !slices.Equal(l1.Order(3), l4.Order(3)) {
		t.Error("order depends on the worker count")
	}
	for _, bad := range []int{-1, 4} {
		for _, err := range l1.EpochFrom(0, bad) {
			if err == nil {
				t.Errorf("start %d: no error", bad)
			}
		}
	}
}

func TestLoaderStopAndErrors(t *testing.T) {
	recs := loaderRecords(t, 12)
	before := runtime.NumGoroutine()
	l, err := NewLoader(recs, testConfig(true, 3))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		n := 0
		for _, err := range l.Epoch(0) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			break
		}
		if n != 1 {
			t.Fatal("no batch")
		}
	}
	// Every goroutine has called Done when the loop returns; give them a moment to exit.
	for i := 0; i < 10000 && runtime.NumGoroutine() > before; i++ {
		runtime.Gosched()
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before, %d after stopping early", before, after)
	}
	// A corrupt image ends the epoch with an ImageError naming the file.
	bad := slices.Clone(recs)
	bad[6].Image = writeFile(t, filepath.Join(t.TempDir(), "bad.jpg"), []byte("garbage"))
	l, err = NewLoader(bad, testConfig(false, 2))
	if err != nil {
		t.Fatal(err)
	}
	var got error
	batches := 0
	for _, err := range l.Epoch(0) {
		if err != nil {
			got = err
			break
		}
		batches++
	}
	var ie *ImageError
	if !errors.As(got, &ie) || ie.Kind != BadCorruptImage || batches != 1 {
		t.Errorf("after %d batches: %v", batches, got)
	}
	if _, err := NewLoader([]Record{{ID: "x", Image: "a.png", LabelID: -1}}, testConfig(false, 1)); err == nil {
		t.Error("record without label id accepted")
	}
	c := testConfig(false, 1)
	c.BatchSize = 0
	if _, err := NewLoader(recs, c); err == nil {
		t.Error("batch size 0 accepted")
	}
}

func TestLoaderCache(t *testing.T) {
	recs := loaderRecords(t, 6)
	big := writeJPEG(t, filepath.Join(t.TempDir(), "big.jpg"), 300, 200, 1)
	recs = append(recs, Record{ID: "big", Image: big, Texts: []string{"big"}, LabelID: 0})
	c := testConfig(true, 2)
	c.BaseSize = 24
	plain, err := NewLoader(recs, c)
	if err != nil {
		t.Fatal(err)
	}
	c.CacheDir = t.TempDir()
	c.Quiet = true
	cached, err := NewLoader(recs, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cached.FillCache(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(c.CacheDir, "*", "*.png"))
	if len(files) != len(recs) {
		t.Fatalf("%d cache files, want %d", len(files), len(recs))
	}
	a, b := collect(t, plain, 1, 0), collect(t, cached, 1, 0)
	for i := range a {
		if !slices.Equal(a[i].Images, b[i].Images) {
			t.Fatalf("batch %d: cached pixels differ", i)
		}
	}
	// The cache is really read: replace every entry with a red image.
	red := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for i := range red.Pix {
		red.Pix[i] = []uint8{255, 0, 0, 255}[i%4]
	}
	for _, f := range files {
		writeFile(t, f, encodePNG(t, red))
	}
	for _, bt := range collect(t, cached, 1, 0) {
		img := bt.Image(0)
		if img[0] < 2 || img[3*16*16-1] > -1 { // R high, B low after normalisation
			t.Fatalf("cache not used: %v %v", img[0], img[3*16*16-1])
		}
	}
	// A damaged entry is replaced by a fresh decode.
	writeFile(t, files[0], []byte("broken"))
	if err := cached.FillCache(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(files[0]); st.Size() < 20 {
		t.Error("damaged cache entry not rewritten")
	}
}

func TestLoadImage(t *testing.T) {
	recs := loaderRecords(t, 3)
	c := testConfig(false, 1)
	c.Background = color.Black
	l, err := NewLoader(recs, c)
	if err != nil {
		t.Fatal(err)
	}
	b := collect(t, l, 0, 0)[0]
	for i, r := range recs {
		one, err := LoadImage(r.Image, c)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one, b.Image(i)) {
			t.Errorf("LoadImage(%s) differs from the loader's image", r.ID)
		}
	}
	if _, err := LoadImage(filepath.Join(t.TempDir(), "none.png"), c); err == nil {
		t.Error("missing image: no error")
	}
}
