package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/pretrained"
)

// PretrainedCommand is `vbg pretrained`: download, locate and inspect
// pretrained weights and tokenizers.
func PretrainedCommand() *cli.Command {
	return &cli.Command{
		Name:  "pretrained",
		Usage: "download, locate and inspect pretrained weights (Hugging Face hub and model folders)",
		Description: `Experiments name pretrained encoders (model.text.pretrained, model.image.pretrained)
either by a local model folder or by a Hugging Face repository id such as
sentence-transformers/all-MiniLM-L6-v2. A repository is fetched once with
"vbg pretrained download" into the standard Hugging Face cache (shared with
transformers), after which runs find it without the network.

A model folder holds config.json, the weights (model.safetensors, a sharded
model.safetensors.index.json, or pytorch_model.bin) and the tokenizer
(tokenizer.json or vocab.txt).

Environment:
   HF_ENDPOINT     hub URL (default https://huggingface.co), e.g. a mirror
   HF_HOME         cache root (the hub cache is HF_HOME/hub); HF_HUB_CACHE sets it directly
   HF_TOKEN        access token for private or gated repositories
   HF_HUB_OFFLINE  1: never use the network, only the cache`,
		Subcommands: []*cli.Command{
			pretrainedDownloadCommand(),
			pretrainedResolveCommand(),
			pretrainedInspectCommand(),
		},
	}
}

func pretrainedDownloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "download",
		Usage:     "fetch a model's config, weights and tokenizer from the hub into the cache",
		ArgsUsage: "REPO_ID[@REVISION]",
		Description: `Downloads config.json, the tokenizer files (tokenizer.json, vocab.txt,
tokenizer_config.json, special_tokens_map.json), sentence-transformers and image
processor settings when present, and one copy of the weights in the order
transformers prefers: model.safetensors, model.safetensors.index.json with its
shards, pytorch_model.bin, pytorch_model.bin.index.json with its shards. Other
files only with --include or --all.

Files go to the Hugging Face cache layout
(models--ORG--NAME/{blobs,refs,snapshots/COMMIT}); a file already there is not
fetched again, an interrupted download resumes where it stopped, and every
file is checked against the size and hash the hub announces (sha256 for LFS
files). The snapshot folder is printed on stdout; progress goes to stderr.

Examples:
   vbg pretrained download sentence-transformers/all-MiniLM-L6-v2
   vbg pretrained download --revision main google/vit-base-patch16-224-in21k
   vbg pretrained download --include '*.md' --include '1_Pooling/*' bert-base-uncased
   HF_ENDPOINT=https://hf-mirror.example vbg pretrained download org/model

Options go before REPO_ID.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "revision", Aliases: []string{"r"}, Usage: "branch, tag or commit hash (default: main, or the @REVISION of the argument)"},
			&cli.StringSliceFlag{Name: "include", Aliases: []string{"i"}, Usage: "also fetch files matching this pattern (path.Match syntax; repeatable)"},
			&cli.BoolFlag{Name: "all", Usage: "fetch every file of the repository"},
			&cli.StringFlag{Name: "cache-dir", Usage: "hub cache folder (default: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub)"},
			&cli.StringFlag{Name: "endpoint", Usage: "hub URL (default: HF_ENDPOINT or https://huggingface.co)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars"},
		},
		Action: func(c *cli.Context) error {
			if err := oneArg(c, "vbg pretrained download [--revision R] [--include GLOB] REPO_ID[@REVISION]"); err != nil {
				return err
			}
			repo, rev, _ := strings.Cut(c.Args().First(), "@")
			if c.IsSet("revision") {
				rev = c.String("revision")
			}
			h := pretrained.NewHub()
			if c.IsSet("cache-dir") {
				h.CacheDir = c.String("cache-dir")
			}
			if c.IsSet("endpoint") {
				h.Endpoint = strings.TrimRight(c.String("endpoint"), "/")
			}
			if !c.Bool("quiet") {
				h.Progress = c.App.ErrWriter
				if h.Progress == nil {
					h.Progress = os.Stderr
				}
			}
			snap, err := h.Download(c.Context, repo, pretrained.DownloadOptions{
				Revision: rev, Include: c.StringSlice("include"), All: c.Bool("all"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, snap)
			return nil
		},
	}
}

func pretrainedResolveCommand() *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "print the local model folder of a folder or a downloaded repository id",
		ArgsUsage: "NAME_OR_FOLDER",
		Description: `Resolves a name as experiments do, without the network: an existing folder is
printed as is; a repository id (optionally REPO_ID@REVISION) is looked up in the
Hugging Face cache and its snapshot folder printed. Fails when the repository has
not been downloaded.

Example:
   vbg pretrained resolve sentence-transformers/all-MiniLM-L6-v2`,
		Action: func(c *cli.Context) error {
			if err := oneArg(c, "vbg pretrained resolve NAME_OR_FOLDER"); err != nil {
				return err
			}
			dir, err := pretrained.Resolve(c.Args().First())
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, dir)
			return nil
		},
	}
}

func pretrainedInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "describe a model folder, repository id or weights file: config, tensors, tokenizer",
		ArgsUsage: "NAME_OR_PATH",
		Description: `Prints the model type and sizes from config.json, the weights file, the number of
tensors and parameters by dtype, the detected naming layout (hf, timm-vit,
torchvision-vit) and the tokenizer. NAME_OR_PATH is a model folder, a downloaded
repository id, or a single weights file (.safetensors, .index.json, .bin, .pt).
Tensor data is not read (pytorch_model.bin files are parsed whole).

Examples:
   vbg pretrained inspect sentence-transformers/all-MiniLM-L6-v2
   vbg pretrained inspect --tensors ./my-vit/model.safetensors`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "tensors", Aliases: []string{"t"}, Usage: "list every tensor with its shape"},
		},
		Action: func(c *cli.Context) error {
			if err := oneArg(c, "vbg pretrained inspect [--tensors] NAME_OR_PATH"); err != nil {
				return err
			}
			return inspectPretrained(c.App.Writer, c.Args().First(), c.Bool("tensors"))
		},
	}
}

// oneArg checks for exactly one positional argument, and explains that
// options must come before it (urfave/cli stops parsing options there).
func oneArg(c *cli.Context, usage string) error {
	for _, a := range c.Args().Tail() {
		if strings.HasPrefix(a, "-") {
			return fmt.Errorf("option %s after the argument: options go first (usage: %s)", a, usage)
		}
	}
	if c.NArg() != 1 {
		return errors.New("usage: " + usage)
	}
	return nil
}

func inspectPretrained(w io.Writer, name string, listTensors bool) error {
	path := name
	if st, err := os.Stat(name); err != nil || st.IsDir() {
		dir, err := pretrained.Resolve(name)
		if err != nil {
			return err
		}
		path = dir
	}
	var src pretrained.Source
	if st, _ := os.Stat(path); st.IsDir() {
		f, err := pretrained.InspectFolder(path)
		if err != nil {
			return err
		}
		printFolder(w, f)
		if f.Weights == "" {
			fmt.Fprintln(w, "weights:    none")
			return nil
		}
		fmt.Fprintf(w, "weights:    %s\n", f.Weights)
		if src, err = f.OpenWeights(); err != nil {
			return err
		}
	} else {
		var err error
		fmt.Fprintf(w, "weights:    %s\n", path)
		if src, err = pretrained.OpenWeights(path); err != nil {
			return err
		}
	}
	defer src.Close()
	printWeights(w, src, listTensors)
	return nil
}

// printFolder prints a model folder's config and tokenizer.
func printFolder(w io.Writer, f *pretrained.Folder) {
	fmt.Fprintf(w, "folder:     %s\n", f.Dir)
	if f.Config != nil {
		fmt.Fprintf(w, "model type: %s %v\n", f.Config.ModelType(), f.Config.Architectures())
		for _, k := range []string{"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
			"vocab_size", "max_position_embeddings", "image_size", "patch_size", "layer_norm_eps"} {
			if v, ok := f.Config.Values[k]; ok {
				fmt.Fprintf(w, "  %s: %v\n", k, v)
			}
		}
	} else {
		fmt.Fprintln(w, "config:     none")
	}
	if f.Tokenizer != "" {
		fmt.Fprintf(w, "tokenizer:  %s\n", f.Tokenizer)
		if tok, err := f.LoadTokenizer(); err != nil {
			fmt.Fprintf(w, "  (cannot load: %v)\n", err)
		} else {
			fmt.Fprintf(w, "  vocabulary: %d, model max length: %d\n", tok.VocabSize(), tok.ModelMaxLength)
		}
	}
}

// printWeights prints a weights file's tensor count, values, layout and metadata, and
// with list every tensor.
func printWeights(w io.Writer, src pretrained.Source, list bool) {
	names := src.Names()
	params := int64(0)
	for _, n := range names {
		s, _ := src.Shape(n)
		p := int64(1)
		for _, d := range s {
			p *= d
		}
		params += p
	}
	fmt.Fprintf(w, "tensors:    %d, %d values, layout %s\n", len(names), params, pretrained.DetectLayout(names))
	sf, isST := src.(*pretrained.SafetensorsFile)
	if isST && len(sf.Metadata()) > 0 {
		keys := make([]string, 0, len(sf.Metadata()))
		for k := range sf.Metadata() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  metadata %s: %s\n", k, sf.Metadata()[k])
		}
	}
	if !list {
		return
	}
	for _, n := range names {
		s, _ := src.Shape(n)
		dt := ""
		if isST {
			info, _ := sf.Info(n)
			dt = " " + string(info.DType)
		}
		fmt.Fprintf(w, "  %s %v%s\n", n, s, dt)
	}
}
