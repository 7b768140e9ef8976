package train

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/runfolder"
)

// prepareTiny writes a small prepared dataset (the synthetic images as a
// manifest CSV) into root/prep and returns its folder.
func prepareTiny(t *testing.T, root string, seed uint64) string {
	t.Helper()
	recs, _, err := data.Synthetic(filepath.Join(root, "images"), data.SyntheticOptions{Classes: 4, PerClass: 20, ImageSize: 32, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(root, "images", "manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"id", "image", "text", "label"})
	for _, r := range recs {
		rel, _ := filepath.Rel(filepath.Join(root, "images"), r.Image)
		w.Write([]string{r.ID, rel, r.Texts[0], r.Label})
	}
	w.Flush()
	f.Close()
	o := data.ManifestOptions{File: filepath.Join(root, "images", "manifest.csv"), PrepareOptions: data.DefaultPrepareOptions(filepath.Join(root, "prep"))}
	o.Quiet, o.Seed = true, seed
	if _, err := data.PrepareManifest(o); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "prep")
}

// TestRunFolderIsSelfContained trains on a dataset named by a relative
// data.dir, then resumes and evaluates from another directory: both use the
// recorded data and give the same metrics. A second process is kept out of
// the folder while one trains in it, and a dataset that changed since the
// run started is refused by resume and eval.
func TestRunFolderIsSelfContained(t *testing.T) {
	root := t.TempDir()
	prepareTiny(t, root, 42)
	smoke := mustAbs(t, "../experiments/smoke.yaml")
	t.Chdir(root)
	cfg, err := experiment.Load(smoke, []string{
		"data.source=prepared", "data.dir=prep", "output.dir=runs", "train.epochs=1", "threads=1"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(cfg, dir, Options{Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	abs := mustAbs(t, dir)
	other := t.TempDir()
	t.Chdir(other)
	if err := os.MkdirAll("prep", 0o755); err != nil { // a decoy with the same relative name
		t.Fatal(err)
	}
	again, err := Run(cfg, abs, Options{Resume: abs, Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatalf("resume from another directory: %v", err)
	}
	if !reflect.DeepEqual(again.Test, sum.Test) {
		t.Errorf("test metrics after resuming elsewhere %+v, want %+v", again.Test, sum.Test)
	}
	evalRun := func() error {
		w, err := device.Start(device.Config{Threads: 1})
		if err != nil {
			return err
		}
		defer w.Close()
		return w.Do(func() error {
			l, err := infer.Open(abs, w, "best")
			if err != nil {
				return err
			}
			rep, _, err := l.EvaluateRun(infer.EvalOptions{Split: "test", Checkpoint: "best", Out: filepath.Join(other, "eval")})
			if err == nil && rep.Accuracy != sum.Test.Accuracy {
				t.Errorf("eval from another directory: acc %v, want %v", rep.Accuracy, sum.Test.Accuracy)
			}
			return err
		})
	}
	if err := evalRun(); err != nil {
		t.Fatalf("eval from another directory: %v", err)
	}

	lock, err := runfolder.Acquire(abs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(cfg, abs, Options{Resume: abs, Quiet: true, Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "in use by another vbg process") {
		t.Errorf("a second process in the run folder: %v", err)
	}
	lock.Release()

	prepareTiny(t, root, 7) // another split: the dataset changed
	for name, f := range map[string]func() error{
		"resume": func() error { _, err := Run(cfg, abs, Options{Resume: abs, Quiet: true, Log: io.Discard}); return err },
		"eval":   evalRun,
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "changed since the run") {
			t.Errorf("%s on a changed dataset: %v", name, err)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
