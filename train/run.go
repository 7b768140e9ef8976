// Package train runs an experiment and writes its run folder: a network
// (VBG or a baseline) goes through the training loop, which trains with
// AdamW under a warmup-cosine schedule, validates every epoch, keeps the
// best and last checkpoints, runs the GAN's generation-feedback rounds
// between epochs and resumes after a crash exactly; a fitted baseline is
// fitted on fixed features. Either way the folder ends with the test
// metrics of the best model (see package runfolder for its files).
//
// All tensor work happens on one device.Worker.
package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/runfolder"
)

// Options control one call of Run.
type Options struct {
	// Resume continues the run in this folder from its last checkpoint; the
	// config must be the one in the folder.
	Resume string
	// Progress receives progress bars; nil means stderr. Quiet turns them off.
	Progress io.Writer
	Quiet    bool
	// Log receives one line per epoch; nil means stderr.
	Log io.Writer
	// StopAfterSteps, when positive, ends the process-level run after that
	// many optimizer steps (as if killed) without writing anything more:
	// used by tests of resume.
	StopAfterSteps int64
	// Probe, when set, is called where a crash would hurt most: after every
	// optimizer step (point "step") and halfway through writing every
	// checkpoint ("checkpoint"), with the optimizer steps taken. Tests of
	// crash safety kill the process there.
	Probe func(point string, step int64)
}

// ErrStopped is returned when Options.StopAfterSteps ended the run early.
var ErrStopped = errors.New("train: stopped after the requested number of steps")

// Run trains (or fits) and evaluates cfg in dir, a folder made by
// runfolder.New or the folder of a run to resume, and returns its summary.
// The folder is locked while Run works in it: a second process is refused
// with the holder's process id. Temporary files of writes a crash
// interrupted are removed first.
func Run(cfg *config.Config, dir string, opts Options) (*runfolder.Summary, error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	lock, err := runfolder.Acquire(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if err := removeStale(dir, opts.Log); err != nil {
		return nil, err
	}
	c := *cfg // the data folder is made absolute below; the caller's config stays as given
	ds, err := openData(&c, dir, opts.Resume != "")
	if err != nil {
		return nil, err
	}
	a, ok := experiment.Lookup(c.Model.Arch)
	if !ok {
		return nil, fmt.Errorf("model.arch: unknown %q", c.Model.Arch)
	}
	if a.Fitted {
		return runFitted(&c, dir, a, ds, opts)
	}
	return runNetwork(&c, dir, ds, opts)
}

// openData writes config.yaml (a new run) and reads the dataset: for a new
// run the one the config names, recorded with its digest in data.json; for
// a resumed run the recorded one, which must not have changed.
func openData(cfg *config.Config, dir string, resuming bool) (*experiment.Dataset, error) {
	var rec runfolder.Data
	var err error
	if resuming {
		err = experiment.UseRecordedData(cfg, dir)
	} else {
		var y []byte
		if y, err = cfg.Marshal(); err == nil {
			err = atomicfile.Write(filepath.Join(dir, runfolder.ConfigFile), y)
		}
		if err == nil {
			rec, err = experiment.RecordData(cfg, dir)
		}
	}
	if err != nil {
		return nil, err
	}
	ds, err := experiment.LoadDataset(cfg, dir)
	if err != nil {
		return nil, err
	}
	if !resuming {
		rec.Train, rec.Val, rec.Test = len(ds.Train), len(ds.Val), len(ds.Test)
		if err := runfolder.WriteData(dir, rec); err != nil {
			return nil, err
		}
	}
	return ds, runfolder.WriteLabels(dir, ds.Labels)
}

// removeStale deletes what interrupted writes left in the run folder and
// its checkpoints folder.
func removeStale(dir string, log io.Writer) error {
	for _, d := range []string{dir, filepath.Join(dir, runfolder.CheckDir)} {
		removed, err := atomicfile.RemoveStale(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, r := range removed {
			fmt.Fprintf(log, "vbg: removed %s, left by an interrupted write\n", filepath.Join(d, r))
		}
	}
	return nil
}

// runNetwork trains a network with the training loop.
func runNetwork(cfg *config.Config, dir string, ds *experiment.Dataset, opts Options) (*runfolder.Summary, error) {
	train := ds.Train
	if opts.Resume != "" {
		train = nil // read the run's vocabulary back
	}
	tok, err := experiment.Tokenizer(cfg, dir, train)
	if err != nil {
		return nil, err
	}
	w, err := device.Start(device.Config{Device: cfg.Device, Threads: cfg.Threads, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	fmt.Fprintf(opts.Log, "vbg: run %s: %d train / %d val / %d test samples, %d classes, device %s, %d threads\n",
		dir, len(ds.Train), len(ds.Val), len(ds.Test), len(ds.Labels), cfg.Device, w.Threads)
	var sum *runfolder.Summary
	err = w.Do(func() error {
		t := &trainer{cfg: cfg, dir: dir, ds: ds, tok: tok, w: w, opts: opts, log: opts.Log}
		var err error
		sum, err = t.run()
		return err
	})
	return sum, err
}
