package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDuplicateKeys: issue 12 found duplicate keys accepted silently (the last won). Each
// is now an error naming both lines, in nested mappings and in included files too.
func TestDuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		want       []string
	}{
		{"top level", "name: a\ndata:\n  source: synthetic\nname: b\n", []string{"dup.yaml:4: name: duplicate key: already defined on line 1"}},
		{"nested", "data:\n  source: synthetic\n  image_size: 32\n  image_size: 64\n", []string{"dup.yaml:4: data.image_size: duplicate key: already defined on line 3"}},
		{"section twice", "train:\n  lr: 0.1\ndata:\n  source: synthetic\ntrain:\n  epochs: 2\n", []string{"dup.yaml:5: train: duplicate key: already defined on line 1"}},
		{"two of them", "a: 1\na: 2\nb: 1\nb: 2\n", []string{"dup.yaml:2: a:", "dup.yaml:4: b:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, dir, "dup.yaml", tc.body)
			_, err := Load(p, nil)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
		})
	}
	base := write(t, dir, "base.yaml", "train:\n  lr: 0.1\n  lr: 0.2\n")
	child := write(t, dir, "child.yaml", "includes: ["+filepath.Base(base)+"]\n")
	if _, err := Load(child, nil); err == nil || !strings.Contains(err.Error(), "base.yaml:3: train.lr: duplicate key: already defined on line 2") {
		t.Errorf("included file: %v", err)
	}
}

// TestManyKeys: 100k keys took 43 s and printed one line per key; 1M did not finish in 90 s.
// Loading is now linear and the message lists MaxShownProblems problems plus a count.
func TestManyKeys(t *testing.T) {
	for _, n := range []int{100_000, 1_000_000} {
		if n > 100_000 && testing.Short() {
			continue
		}
		var b strings.Builder
		b.WriteString("data:\n  source: synthetic\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "k%x: 1\n", i)
		}
		p := write(t, t.TempDir(), "many.yaml", b.String())
		start := time.Now()
		_, err := Load(p, nil)
		took := time.Since(start)
		var ps Problems
		if !errors.As(err, &ps) || len(ps) != n {
			t.Fatalf("%d keys: want %d problems, got %v", n, n, err)
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != MaxShownProblems+1 || !strings.Contains(lines[MaxShownProblems], fmt.Sprintf("and %d more problems (%d in all)", n-MaxShownProblems, n)) {
			t.Errorf("%d keys: %d lines, last %q", n, len(lines), lines[len(lines)-1])
		}
		// Generous bounds for a shared machine; the quadratic loader took 43 s for 100k.
		if limit := time.Duration(n/1000) * 200 * time.Millisecond; took > limit {
			t.Errorf("%d keys took %v, more than %v", n, took, limit)
		}
		t.Logf("%d keys: %v", n, took)
	}
}

// TestSetFlowSequence: --set takes any YAML value, including flow sequences and mappings.
func TestSetFlowSequence(t *testing.T) {
	p := write(t, t.TempDir(), "good.yaml", good)
	c, err := Load(p, []string{"data.mean=[0.4,0.4,0.4]", "data.std=[0.2, 0.3, 0.4]", "data.augment={flip: false, crop_scale: 0.5}"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Data.Mean, c.Data.Std) != "[0.4 0.4 0.4] [0.2 0.3 0.4]" || c.Data.Augment.Flip || c.Data.Augment.CropScale != 0.5 {
		t.Errorf("mean %v std %v augment %+v", c.Data.Mean, c.Data.Std, c.Data.Augment)
	}
	if _, err := Load(p, []string{"data.mean=[0.4,0.4"}); err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("unclosed sequence: %v", err)
	}
}

// TestMemoryBounds: issue 12's data.image_size: 100000 and data.synthetic.per_class:
// 1000000000 passed validation and crashed; every number that sizes memory is bounded, and
// the message says the bound.
func TestMemoryBounds(t *testing.T) {
	tests := []struct {
		set  string
		want string
	}{
		{"data.image_size=100000", "data.image_size: must be in [1, 4096], got 100000"},
		{"data.synthetic.per_class=1000000000", "data.synthetic.per_class: must be in [10, 100000]"},
		{"data.synthetic.classes=1000", "data.synthetic.classes: must be an even number in [2, 64]"},
		{"data.max_text_len=100000", "data.max_text_len: must be in [3, 512]"},
		{"data.workers=100000", "data.workers: must be in [0, 1024]"},
		{"data.max_image_pixels=-1", "data.max_image_pixels: must be in [0, 2147483648]"},
		{"train.batch_size=1000000", "train.batch_size: must be in [1, 4096]"},
		{"train.accumulate=100000", "train.accumulate: must be in [1, 1024]"},
		{"model.image.hidden=1000000", "model.image.hidden: must be in [0, 16384]"},
		{"model.text.layers=100000", "model.text.layers: must be in [0, 256]"},
		{"model.fusion.heads=100000", "model.fusion.heads: must be in [1, 256]"},
		{"model.baseline.gbdt.depth=40", "model.baseline.gbdt.depth: must be in [1, 16]"},
		{"model.baseline.features.grid=100000", "model.baseline.features.grid: must be in [1, 64]"},
		{"gan.noise_dim=1000000", "gan.noise_dim: must be in [1, 4096]"},
		{"gan.max_steps=1000000000", "gan.max_steps: must be in [1, 10000000]"},
		{"gan.generate.count=1000000000", "gan.generate.count: must be in [1, 1000000]"},
		{"gan.generate.count=1000000", "GiB of images"},
		{"gan.g_channels=100000", "gan.g_channels: must be in [1, 512]"},
		{"train.weight_decay=.nan", "train.weight_decay: must be in [0, 1e+06], got NaN"},
		{"data.mean=[.nan, 0, 0]", "data.mean[0]: must be a finite number"},
	}
	p := write(t, t.TempDir(), "good.yaml", good)
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			_, err := Load(p, []string{tc.set})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A batch of 4096 images at 224 pixels is 2.3 GiB: allowed; at 1024 pixels it is not.
	if _, err := Load(p, []string{"train.batch_size=4096", "data.image_size=224"}); err != nil {
		t.Errorf("batch 4096 at 224: %v", err)
	}
	_, err := Load(p, []string{"train.batch_size=4096", "data.image_size=1024"})
	if err == nil || !strings.Contains(err.Error(), "a batch of 4096 images of 1024×1024 pixels takes 48 GiB, more than the 16 GiB allowed") {
		t.Errorf("batch 4096 at 1024: %v", err)
	}
}

// TestNotAFile: an experiment path that is a folder (or a FIFO) is refused, not read.
func TestNotAFile(t *testing.T) {
	if _, err := Load(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: %v", err)
	}
}
