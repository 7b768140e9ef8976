package compare

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/train"
)

// Options control Run.
type Options struct {
	// Sets are extra overrides for every run, after the spec's own.
	Sets []string
	// Seeds and Out replace the spec's when set.
	Seeds []int64
	Out   string
	// Log receives one line per run; nil means stderr.
	Log io.Writer
	// Exec runs one prepared run folder (its config.yaml is written) and
	// returns when it has finished; resume says the folder holds a
	// checkpoint to continue from. Nil runs it in this process
	// (train.Run, logging to the folder's run.log).
	Exec func(dir string, resume bool) error
	// Figures, when set and the spec asks for figures, is called with the
	// folder of the first finished run of each VBG entry with both encoders
	// and that folder relative to the table; it returns Markdown to put
	// under the table.
	Figures func(dir, link string) (string, error)
	// FailFast stops at the first failed run instead of going on.
	FailFast bool
}

// RunLog is the file that receives a run's own log.
const RunLog = "run.log"

// Status of a planned run.
const (
	Done    = "done"
	Failed  = "failed"
	Pending = "not run (budget)"
)

// Outcome is what happened to one plan.
type Outcome struct {
	*Plan
	Status  string
	Err     string
	Summary *runfolder.Summary
}

// Result is a finished comparison.
type Result struct {
	Spec     *Spec
	Outcomes []*Outcome
	Out      string
	Markdown string // compare.md
	Figures  string // Markdown of the figures, if any
}

// Run runs every plan that has not finished yet, in order, then writes
// out/<name>.md and out/<name>.csv (name "compare" or "ablate") and
// returns the result. A failed run is recorded (error.txt in its folder)
// and the comparison goes on, unless FailFast.
func Run(s *Spec, name string, opts Options) (*Result, error) {
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	out := opts.Out
	if out == "" {
		out = s.Out
	}
	plans, err := s.Plans(opts.Sets, opts.Seeds, out)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(out, "runs"), 0o755); err != nil {
		return nil, fmt.Errorf("comparison: %w", err)
	}
	finished := finishedRuns(filepath.Join(out, "runs"))
	start := time.Now()
	res := &Result{Spec: s, Out: out}
	outcomes := make([]*Outcome, len(plans))
	for i, p := range plans {
		o := &Outcome{Plan: p}
		outcomes[i] = o
		label := fmt.Sprintf("[%d/%d] %s seed %d", i+1, len(plans), s.Models[p.Entry].Name, p.Seed)
		if p.SameAs >= 0 {
			src := outcomes[p.SameAs]
			p.Dir = src.Dir // the source may have reused a finished run elsewhere
			o.Status, o.Err, o.Summary = src.Status, src.Err, src.Summary
			fmt.Fprintf(logw, "%s: same config as %s, shares %s\n", label, s.Models[src.Entry].Name, p.Dir)
			continue
		}
		if key, _ := configKey(p.Config); finished[key] != "" && finished[key] != p.Dir {
			if sum, err := runfolder.ReadSummary(finished[key]); err == nil {
				p.Dir = finished[key]
				o.Status, o.Summary = Done, sum
				fmt.Fprintf(logw, "%s: same config as the finished run %s\n", label, p.Dir)
				continue
			}
		}
		if sum, err := runfolder.ReadSummary(p.Dir); err == nil {
			if err := sameConfig(p); err != nil {
				return nil, err
			}
			o.Status, o.Summary = Done, sum
			fmt.Fprintf(logw, "%s: finished earlier (%s)\n", label, p.Dir)
			continue
		}
		if s.MaxMinutes > 0 && time.Since(start).Minutes() >= s.MaxMinutes {
			o.Status = Pending
			continue
		}
		t0 := time.Now()
		fmt.Fprintf(logw, "%s: %s -> %s\n", label, p.Config.Model.Arch, p.Dir)
		sum, err := runOne(p, opts)
		if err != nil {
			o.Status, o.Err = Failed, err.Error()
			_ = atomicfile.Write(filepath.Join(p.Dir, "error.txt"), []byte(err.Error()+"\n"))
			fmt.Fprintf(logw, "%s: FAILED after %s: %v\n", label, time.Since(t0).Round(time.Second), err)
			if opts.FailFast {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			continue
		}
		o.Status, o.Summary = Done, sum
		fmt.Fprintf(logw, "%s: test acc %.4f, macro-F1 %.4f in %s\n", label, sum.Test.Accuracy, sum.Test.MacroF1, time.Since(t0).Round(time.Second))
	}
	res.Outcomes = outcomes
	if s.Figures && opts.Figures != nil {
		res.Figures = figures(s, outcomes, opts, out, logw)
	}
	if err := res.write(name); err != nil {
		return nil, err
	}
	return res, nil
}

// figures makes the figures of the first finished VBG run with both
// encoders of each entry.
func figures(s *Spec, outcomes []*Outcome, opts Options, out string, logw io.Writer) string {
	var md string
	done := map[int]bool{}
	for _, o := range outcomes {
		c := o.Config.Model
		if o.Status != Done || done[o.Entry] || c.Arch != "vbg" || c.Fusion.Type == "image" || c.Fusion.Type == "text" {
			continue
		}
		done[o.Entry] = true
		link, err := filepath.Rel(out, o.Dir)
		if err != nil {
			link = o.Dir
		}
		part, err := opts.Figures(o.Dir, link)
		if err != nil {
			fmt.Fprintf(logw, "figures for %s: %v\n", o.Dir, err)
			continue
		}
		md += part
	}
	return md
}

// finishedRuns maps the config key of every finished run folder under
// runsDir to its folder, so that comparisons sharing an out folder (vbg
// compare and vbg ablate both train the full VBG) reuse each other's runs.
func finishedRuns(runsDir string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(runsDir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		dir := filepath.Join(runsDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, runfolder.SummaryFile)); err != nil {
			continue
		}
		cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
		if err != nil {
			continue
		}
		if key, err := configKey(cfg); err == nil {
			out[key] = dir
		}
	}
	return out
}

// runOne prepares the run folder and runs (or resumes) the plan.
func runOne(p *Plan, opts Options) (*runfolder.Summary, error) {
	resume := false
	if _, err := os.Stat(filepath.Join(p.Dir, runfolder.CheckDir, runfolder.LastFile)); err == nil {
		if err := sameConfig(p); err != nil {
			return nil, err
		}
		resume = true
	} else {
		if err := os.RemoveAll(p.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(p.Dir, 0o755); err != nil {
			return nil, err
		}
		y, err := p.Config.Marshal()
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Write(filepath.Join(p.Dir, runfolder.ConfigFile), y); err != nil {
			return nil, err
		}
	}
	os.Remove(filepath.Join(p.Dir, "error.txt"))
	var err error
	if opts.Exec != nil {
		err = opts.Exec(p.Dir, resume)
	} else {
		err = RunFolder(p.Dir, resume)
	}
	if err != nil {
		return nil, err
	}
	sum, err := runfolder.ReadSummary(p.Dir)
	if err != nil {
		return nil, err
	}
	// A finished run never resumes: drop the last checkpoint (weights plus
	// optimizer moments, 12 bytes per parameter) and keep the best one.
	if err := os.Remove(filepath.Join(p.Dir, runfolder.CheckDir, runfolder.LastFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return sum, nil
}

// RunFolder runs the run folder dir from its config.yaml in this process,
// logging to dir/run.log: resume continues from its last checkpoint. It is
// what Exec runs in a child process.
func RunFolder(dir string, resume bool) error {
	cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, RunLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	o := train.Options{Quiet: true, Log: f, Progress: io.Discard}
	if resume {
		o.Resume = dir
	}
	_, err = train.Run(cfg, dir, o)
	// Tensors are freed by finalizers: collect before the next run.
	runtime.GC()
	debug.FreeOSMemory()
	return err
}

// sameConfig checks that an existing run folder was made with the plan's
// config, so a changed comparison file never mixes old and new runs.
func sameConfig(p *Plan) error {
	have, err := experiment.Load(filepath.Join(p.Dir, runfolder.ConfigFile), nil)
	if err != nil {
		return fmt.Errorf("%s: %w (remove the folder to rerun it)", p.Dir, err)
	}
	a, err := configKey(have)
	if err != nil {
		return err
	}
	b, err := configKey(p.Config)
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("%s was run with another config than the comparison now asks for: remove it, or use another out folder", p.Dir)
	}
	return nil
}
