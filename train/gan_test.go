package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/gan"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/runfolder"
)

// ganSets is a test-sized GAN loop on the smoke experiment: rounds at the
// start of epochs 1 and 3.
var ganSets = []string{
	"threads=1", "data.synthetic.per_class=12", "train.epochs=3",
	"gan.enabled=true", "gan.image_size=32", "gan.noise_dim=16", "gan.embed_dim=8",
	"gan.g_channels=4", "gan.d_channels=4", "gan.batch_size=8", "gan.min_steps=4", "gan.max_steps=6",
	"gan.stability.window=2", "gan.loss.style_channels=4", "gan.generate.count=24",
	"gan.rounds=2", "gan.start_epoch=1", "gan.every=2", "gan.filter.min_confidence=0.01",
}

func TestRoundAt(t *testing.T) {
	g := config.Default().GAN
	g.Rounds, g.StartEpoch, g.Every = 3, 2, 3
	want := map[int]int{1: 0, 2: 1, 3: 0, 5: 2, 8: 3, 11: 0}
	for epoch, r := range want {
		if got := roundAt(g, epoch); got != r {
			t.Errorf("roundAt(epoch %d) = %d, want %d", epoch, got, r)
		}
	}
}

func ganTensors(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := pretrained.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	for _, n := range f.Names() {
		if len(n) > 4 && n[:4] == "gan." {
			b, err := f.Raw(n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = append([]byte(nil), b...)
		}
	}
	return out
}

// TestGANLoopResumes runs the loop uninterrupted, then again killed in
// epoch 2 (after round 1) and in epoch 3 (after round 2 ran but before
// the checkpoint that records it), resuming each time; the rounds' pairs,
// the GAN state and the test metrics must match the uninterrupted run.
func TestGANLoopResumes(t *testing.T) {
	cfg := smokeConfig(t, ganSets...)
	full, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var logA bytes.Buffer
	sumA, err := Run(cfg, full, Options{Quiet: true, Log: &logA})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(logA.String())
	perEpoch := sumA.Steps / 3

	cut := filepath.Join(t.TempDir(), "cut")
	if err := os.Mkdir(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(cfg, cut, Options{Quiet: true, Log: io.Discard, StopAfterSteps: perEpoch + 1}); !errors.Is(err, ErrStopped) {
		t.Fatalf("first stop: %v", err)
	}
	if _, err := Run(cfg, cut, Options{Resume: cut, Quiet: true, Log: io.Discard, StopAfterSteps: 2*perEpoch + 1}); !errors.Is(err, ErrStopped) {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cut, GANDir, "round-2", roundInfoFile)); err != nil {
		t.Fatalf("round 2 should have run before the second stop: %v", err)
	}
	sumB, err := Run(cfg, cut, Options{Resume: cut, Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range []string{"round-1", "round-2"} {
		a, err := os.ReadFile(filepath.Join(full, GANDir, r, recordsFile))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(cut, GANDir, r, recordsFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the resumed run kept other pairs", r)
		}
		recs, err := readRound(filepath.Join(full, GANDir, r))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			t.Fatalf("%s kept no pairs", r)
		}
		for _, f := range []string{samplesFile, candidatesFile} {
			if _, err := os.Stat(filepath.Join(full, GANDir, r, f)); err != nil {
				t.Errorf("%s lacks %s", r, f)
			}
		}
		checkGenerated(t, full, recs)
	}
	ga, gb := ganTensors(t, filepath.Join(full, runfolder.CheckDir, runfolder.LastFile)), ganTensors(t, filepath.Join(cut, runfolder.CheckDir, runfolder.LastFile))
	if len(ga) == 0 || len(ga) != len(gb) {
		t.Fatalf("%d and %d gan tensors in the checkpoints", len(ga), len(gb))
	}
	for n, a := range ga {
		if !bytes.Equal(a, gb[n]) {
			t.Errorf("%s differs after resuming", n)
		}
	}
	if sumA.Test.Accuracy != sumB.Test.Accuracy || sumA.Test.MacroF1 != sumB.Test.MacroF1 {
		t.Errorf("test accuracy %.4f / macro-F1 %.4f uninterrupted, %.4f / %.4f resumed",
			sumA.Test.Accuracy, sumA.Test.MacroF1, sumB.Test.Accuracy, sumB.Test.MacroF1)
	}

	// The sample command reads the run folder back.
	out, err := SampleGAN(full, SampleOptions{Class: cfgLabel(t, full, 1), N: 6, Seed: 3, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	if _, err := SampleGAN(full, SampleOptions{Class: "no such class", N: 2}); err == nil {
		t.Error("want an error for an unknown class")
	}
}

func cfgLabel(t *testing.T, dir string, i int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, runfolder.LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	return labels[i]
}

// checkGenerated checks generated records: image on disk, label, the
// generated marker, and a text free of other classes' attributes.
func checkGenerated(t *testing.T, dir string, recs []data.Record) {
	t.Helper()
	tab, err := gan.LoadAttributeTable(filepath.Join(dir, GANDir, AttributesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := os.Stat(r.Image); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		if r.Attrs["generated"] == "" || r.Label != tab.Classes[r.LabelID] || len(r.Texts) != 1 {
			t.Fatalf("generated record %+v", r)
		}
		if f := tab.Foreign(r.LabelID, r.Texts[0]); len(f) > 0 {
			t.Fatalf("%s: text %q carries %q of other classes", r.ID, r.Texts[0], f)
		}
	}
}
