package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/compare"
	"github.com/vbg-museum/vbg/explain"
)

// CompareCommand returns "vbg compare": baselines × seeds (Table 3).
func CompareCommand() *cli.Command {
	return comparisonCommand("compare", "compare VBG with the baselines over several seeds (paper Table 3)",
		`FILE is a comparison file (see experiments/compare.yaml): a base experiment, the overrides
every run shares (the budget), the seeds and the models, each with its own overrides.
FILE may also be a plain experiment: it is then compared, as it is, with every baseline
(model.arch swin_t, resnet18, resnet50, densenet121, squeezenet, inception_v3, vgg16,
textcnn, gbdt, logreg) over seeds 1, 2, 3.

Each model × seed is a run folder OUT/runs/NAME-sSEED, trained in a child process; a
finished run is skipped, so rerunning the command after an interruption continues where
it stopped. OUT/compare.md and OUT/compare.csv hold the table (mean ± std over seeds of
accuracy, mAP, F1, recall, AUC-ROC, training time, parameters); with figures: true the
first VBG run gets attention and feature-space figures (paper Fig. 7 and 8).`,
		compare.DefaultComparison)
}

// AblateCommand returns "vbg ablate": VBG without ViT, BERT, GAN (Table 4).
func AblateCommand() *cli.Command {
	return comparisonCommand("ablate", "VBG with ViT, BERT and the GAN removed one at a time and in pairs (paper Table 4)",
		`FILE is a comparison file (see experiments/ablate.yaml) or a plain experiment, whose
ablations are then: full; − ViT (text-only fusion); − BERT (image-only fusion); − GAN
(gan.enabled false); − ViT − GAN; − BERT − GAN; − ViT − BERT (nothing reads the inputs:
the majority-class baseline), over seeds 1, 2, 3. Rows whose resolved configs are equal
(e.g. − GAN when the base has the GAN off) share one run. Output: OUT/ablate.md and
OUT/ablate.csv, resumable as vbg compare.`,
		func(base, out string) *compare.Spec { return compare.DefaultAblation(base, out) })
}

func comparisonCommand(name, usage, desc string, fromExperiment func(base, out string) *compare.Spec) *cli.Command {
	return &cli.Command{
		Name:        name,
		Usage:       usage,
		ArgsUsage:   "FILE.yaml",
		Description: desc,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "set", Usage: "override a config key in every run, e.g. --set train.epochs=2 (repeatable)"},
			&cli.StringFlag{Name: "seeds", Usage: "comma-separated seeds (default: the file's, or 1,2,3)"},
			&cli.StringFlag{Name: "out", Usage: "comparison folder (default: the file's out, or runs/" + name + ")"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch intra-op threads of every run (0 = one per core)"},
			&cli.BoolFlag{Name: "in-process", Usage: "train in this process instead of one child process per run"},
			&cli.BoolFlag{Name: "fail-fast", Usage: "stop at the first failed run"},
		},
		Subcommands: []*cli.Command{runOneCommand()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: vbg %s FILE.yaml [flags] (see vbg %s --help)", name, name)
			}
			path := c.Args().First()
			isSpec, err := compare.IsSpec(path)
			if err != nil {
				return err
			}
			var spec *compare.Spec
			if isSpec {
				if spec, err = compare.LoadSpec(path); err != nil {
					return err
				}
			} else {
				spec = fromExperiment(path, filepath.Join("runs", name))
			}
			opts := compare.Options{Sets: c.StringSlice("set"), Out: c.String("out"), Log: c.App.ErrWriter, FailFast: c.Bool("fail-fast")}
			if c.IsSet("threads") {
				opts.Sets = append(opts.Sets, "threads="+strconv.Itoa(c.Int("threads")))
			}
			if s := c.String("seeds"); s != "" {
				for _, f := range strings.Split(s, ",") {
					v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
					if err != nil {
						return fmt.Errorf("--seeds: %q is not a seed", f)
					}
					opts.Seeds = append(opts.Seeds, v)
				}
			}
			if !c.Bool("in-process") {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				opts.Exec = func(dir string, resume bool) error { return childRun(exe, dir, resume) }
			}
			opts.Figures = func(dir, link string) (string, error) {
				return explain.RunFigures(dir, explain.FigureOptions{Link: link}, c.App.ErrWriter)
			}
			res, err := compare.Run(spec, name, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, filepath.Join(res.Out, name+".md"))
			return nil
		},
	}
}

// childRun trains one prepared run folder in a child process, so that each
// run has its own memory and libtorch state; its output goes to the
// folder's run.log.
func childRun(exe, dir string, resume bool) error {
	args := []string{"compare", "run-one"}
	if resume {
		args = append(args, "--resume")
	}
	args = append(args, dir)
	cmd := exec.Command(exe, args...)
	f, err := os.OpenFile(filepath.Join(dir, compare.RunLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("run exited with %v (see %s)", ee, filepath.Join(dir, compare.RunLog))
		}
		return err
	}
	return nil
}

func runOneCommand() *cli.Command {
	return &cli.Command{
		Name:      "run-one",
		Usage:     "train one prepared run folder of a comparison (used by compare and ablate)",
		ArgsUsage: "RUN_DIR",
		Hidden:    true,
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "resume", Usage: "continue from the folder's last checkpoint"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: vbg compare run-one [--resume] RUN_DIR")
			}
			return compare.RunFolder(c.Args().First(), c.Bool("resume"))
		},
	}
}
