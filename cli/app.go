// Package cli is the vbg command line: it parses flags and calls the
// packages that do the work (config, data, train, pretrained). It holds no
// logic of its own.
package cli

import (
	"github.com/urfave/cli/v2"
)

// Version is the vbg version, set at build time with -ldflags.
var Version = "dev"

// App returns the vbg application.
func App() *cli.App {
	return &cli.App{
		Name: "vbg",
		// --set values may hold commas (data.mean=[0.4,0.4,0.4]).
		DisableSliceFlagSeparator: true,
		Usage:   "train, evaluate and export multimodal (image + text) classifiers for museum artifacts",
		Version: Version,
		Description: `VBG follows the paper "VBG Model": a ViT image encoder and a BERT text encoder,
a bidirectional cross-attention fusion layer and a classifier head, with a GAN that
generates image-text pairs for scarce classes. Experiments are YAML files
(see experiments/); every run writes a folder with the resolved config, metrics per
epoch, checkpoints, a summary and a report.

Typical use:
   vbg data prepare emoji --out .deps/data/emoji      # make a dataset folder
   vbg run experiments/demo.yaml                      # train and evaluate
   vbg run experiments/demo.yaml --set train.epochs=2 # override any key
   vbg run --resume runs/demo-20261128-101500         # continue after a crash
   vbg eval runs/demo-20261128-101500                 # metrics of the best checkpoint
   vbg predict runs/demo-... --image x.png --text "a red vase"
   vbg export runs/demo-...                           # for transformers + safetensors`,
		Commands: []*cli.Command{
			runCommand(),
			evalCommand(),
			predictCommand(),
			exportCommand(),
			DataCommand(),
			PretrainedCommand(),
			GANCommand(),
			CompareCommand(),
			AblateCommand(),
			ExplainCommand(),
		},
		EnableBashCompletion: true,
		// Errors are printed once, by Run: urfave/cli does not pass this
		// handler on to the apps of nested commands (vbg data prepare emoji),
		// whose errors were otherwise silent.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}
