package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/train"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "train and evaluate an experiment, writing a run folder",
		ArgsUsage: "EXPERIMENT.yaml",
		Description: `Reads the experiment (with its includes), applies --set overrides, trains on the
train split, validates every epoch, and tests the best checkpoint. The run folder
(output.dir/NAME-YYYYMMDD-HHMMSS) receives:

   config.yaml     the resolved experiment, enough to rebuild the model
   metrics.jsonl   one line per epoch: losses, validation metrics, learning rate, time
   summary.json    test metrics of the best checkpoint, sizes and timings
   checkpoints/    best.safetensors and last.safetensors (checksummed, written atomically)
   report.md       loss and accuracy curves and the confusion matrix (PNG), tables

A bad experiment file is reported as FILE:LINE: KEY: problem, and nothing is written.
--resume RUN_DIR continues an interrupted run from its last checkpoint with the
config stored in the folder; the result matches an uninterrupted run.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "set", Usage: "override a config key, e.g. --set train.lr=3e-4 (repeatable)"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch intra-op threads (default: threads in the YAML; 0 there = one per core)"},
			&cli.StringFlag{Name: "device", Usage: "cpu, cuda or cuda:N (default: device in the YAML)"},
			&cli.StringFlag{Name: "out", Usage: "parent folder for the run folder (default: output.dir in the YAML)"},
			&cli.StringFlag{Name: "resume", Usage: "continue the run in `RUN_DIR` from its last checkpoint"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars"},
		},
		Action: func(c *cli.Context) error {
			sets := c.StringSlice("set")
			if c.IsSet("threads") {
				sets = append(sets, "threads="+strconv.Itoa(c.Int("threads")))
			}
			if c.IsSet("device") {
				sets = append(sets, "device="+c.String("device"))
			}
			if c.IsSet("out") {
				sets = append(sets, "output.dir="+c.String("out"))
			}
			resume := c.String("resume")
			var path string
			switch {
			case resume != "" && c.NArg() == 0:
				path = filepath.Join(resume, runfolder.ConfigFile)
				for _, s := range c.StringSlice("set") {
					return fmt.Errorf("--resume takes no --set (%s): the run's config is fixed; threads and device may change", s)
				}
			case resume == "" && c.NArg() == 1:
				path = c.Args().First()
			default:
				return errors.New("usage: vbg run EXPERIMENT.yaml [flags]  or  vbg run --resume RUN_DIR (see vbg run --help)")
			}
			cfg, err := experiment.Load(path, sets)
			if err != nil {
				return err
			}
			if err := experiment.Preflight(cfg); err != nil {
				return err
			}
			dir := resume
			if dir == "" {
				if dir, err = runfolder.New(cfg, time.Now()); err != nil {
					return err
				}
			}
			sum, err := train.Run(cfg, dir, train.Options{Resume: resume, Quiet: c.Bool("quiet"), Progress: os.Stderr, Log: os.Stderr})
			if err != nil {
				return fmt.Errorf("run %s: %w", dir, err)
			}
			fmt.Fprintf(c.App.Writer, "%s\n", filepath.Join(sum.Dir, runfolder.SummaryFile))
			return nil
		},
	}
}
