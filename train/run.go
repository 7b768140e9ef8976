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
}

// ErrStopped is returned when Options.StopAfterSteps ended the run early.
var ErrStopped = errors.New("train: stopped after the requested number of steps")

// Run trains (or fits) and evaluates cfg in dir, a folder made by
// runfolder.New or the folder of a run to resume, and returns its summary.
func Run(cfg *config.Config, dir string, opts Options) (*runfolder.Summary, error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	a, ok := experiment.Lookup(cfg.Model.Arch)
	if !ok {
		return nil, fmt.Errorf("model.arch: unknown %q", cfg.Model.Arch)
	}
	if opts.Resume == "" {
		y, err := cfg.Marshal()
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Write(filepath.Join(dir, runfolder.ConfigFile), y); err != nil {
			return nil, err
		}
	}
	ds, err := experiment.LoadDataset(cfg, dir)
	if err != nil {
		return nil, err
	}
	if err := runfolder.WriteLabels(dir, ds.Labels); err != nil {
		return nil, err
	}
	if a.Fitted {
		return runFitted(cfg, dir, a, ds, opts)
	}
	return runNetwork(cfg, dir, ds, opts)
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
