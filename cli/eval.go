package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/export"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/runfolder"
)

// withRun opens the run in dir on a fresh worker and calls fn on the
// worker's thread.
func withRun(c *cli.Context, dir, which string, fn func(l *infer.Run) error) error {
	if _, err := os.Stat(filepath.Join(dir, runfolder.ConfigFile)); err != nil {
		return fmt.Errorf("%s is not a run folder (no %s)", dir, runfolder.ConfigFile)
	}
	if which != "best" && which != "last" {
		return fmt.Errorf("--checkpoint %q: want best or last", which)
	}
	w, err := device.Start(device.Config{Device: c.String("device"), Threads: c.Int("threads")})
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Do(func() error {
		l, err := infer.Open(dir, w, which)
		if err != nil {
			return err
		}
		return fn(l)
	})
}

var runFlags = []cli.Flag{
	&cli.StringFlag{Name: "checkpoint", Value: "best", Usage: "which checkpoint: best or last"},
	&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, cuda or cuda:N"},
	&cli.IntFlag{Name: "threads", Usage: "libtorch threads (0: one per core)"},
}

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate a trained run on a split: the paper's metrics, per-class table, confusion matrix",
		ArgsUsage: "RUN_DIR",
		Description: `Rebuilds the run's model from RUN_DIR/config.yaml, loads a checkpoint, and evaluates
it on the run's dataset (or --data, a prepared folder with the same classes). Writes
RUN_DIR/eval-SPLIT-CHECKPOINT/ (or --out): metrics.json (accuracy, macro precision,
recall and F1, mAP, macro one-vs-rest AUC-ROC, per class, confusion matrix),
metrics.md, confusion.png and predictions.csv (every sample's probabilities).`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "split", Value: "test", Usage: "train, val or test"},
			&cli.StringFlag{Name: "data", Usage: "evaluate on this prepared dataset folder instead"},
			&cli.StringFlag{Name: "out", Usage: "output folder"},
		}, runFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: vbg eval RUN_DIR [flags]")
			}
			return withRun(c, c.Args().First(), c.String("checkpoint"), func(l *infer.Run) error {
				rep, out, err := l.EvaluateRun(infer.EvalOptions{Split: c.String("split"), Checkpoint: c.String("checkpoint"), DataDir: c.String("data"), Out: c.String("out")})
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, rep.SummaryMarkdown())
				fmt.Fprintf(c.App.Writer, "\nwritten to %s\n", out)
				return nil
			})
		},
	}
}

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:      "predict",
		Usage:     "classify an image and a text, or a CSV of them, with a trained run",
		ArgsUsage: "RUN_DIR",
		Description: `Prints the top-k classes with their probabilities, as JSON lines (one per input).
Give one pair with --image and --text, or many with --csv FILE: a CSV with a header
that has the columns image and text (image paths relative to the CSV's folder).`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "image", Usage: "image file (JPEG or PNG)"},
			&cli.StringFlag{Name: "text", Usage: "the object's description"},
			&cli.StringFlag{Name: "csv", Usage: "CSV file with image and text columns"},
			&cli.IntFlag{Name: "top", Aliases: []string{"k"}, Value: 3, Usage: "how many classes to print"},
		}, runFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: vbg predict RUN_DIR (--image X --text Y | --csv FILE)")
			}
			var images, texts []string
			switch {
			case c.String("csv") != "":
				var err error
				if images, texts, err = readPairs(c.String("csv")); err != nil {
					return err
				}
			case c.String("image") != "" || c.String("text") != "":
				images, texts = []string{c.String("image")}, []string{c.String("text")}
			default:
				return fmt.Errorf("give --image and --text, or --csv")
			}
			if k := c.Int("top"); k < 1 {
				return fmt.Errorf("--top %d: want at least 1 class", k)
			}
			return withRun(c, c.Args().First(), c.String("checkpoint"), func(l *infer.Run) error {
				if k := c.Int("top"); k > len(l.Labels) {
					return fmt.Errorf("--top %d: the run has only %d classes", k, len(l.Labels))
				}
				preds, err := l.Predict(images, texts, c.Int("top"))
				if err != nil {
					return err
				}
				enc := json.NewEncoder(c.App.Writer)
				for _, p := range preds {
					if err := enc.Encode(map[string]any{"image": p.Image, "text": p.Text, "top": p.Top}); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
}

// readPairs reads the image and text columns of a CSV.
func readPairs(path string) (images, texts []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	ic, ok1 := col["image"]
	tc, ok2 := col["text"]
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%s:1: the header needs columns image and text, has %v", path, head)
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		img := rec[ic]
		if img != "" && !filepath.IsAbs(img) {
			img = filepath.Join(filepath.Dir(path), img)
		}
		images, texts = append(images, img), append(texts, rec[tc])
	}
	if len(images) == 0 {
		return nil, nil, fmt.Errorf("%s: no rows", path)
	}
	return images, texts, nil
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "export a trained run for Hugging Face transformers and safetensors",
		ArgsUsage: "RUN_DIR",
		Description: `Writes --out (default RUN_DIR/export):
   vit/       config.json + model.safetensors: a transformers ViTModel (no pooler)
   bert/      config.json + model.safetensors + tokenizer files: a transformers BertModel
   head.safetensors   the fusion layer (fusion.*) and classifier (classifier.*)
   labels.json, vbg.json   class names; fusion type and sizes, image size and normalisation
scripts/check-export.py reloads such a folder with transformers alone and checks
that it reproduces VBG's logits.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output folder (default RUN_DIR/export)"},
		}, runFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: vbg export RUN_DIR [--out DIR]")
			}
			dir := c.Args().First()
			out := c.String("out")
			if out == "" {
				out = filepath.Join(dir, "export")
			}
			return withRun(c, dir, c.String("checkpoint"), func(l *infer.Run) error {
				if err := export.Export(l, out); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, out)
				return nil
			})
		},
	}
}
