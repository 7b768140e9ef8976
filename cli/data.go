package cli

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/data"
)

// DataCommand returns the "data" command: "vbg data prepare SOURCE [flags]" turns a raw
// source (met, coco, manifest, emoji) into a prepared dataset folder, and "vbg data card DIR"
// prints a prepared folder's data card.
func DataCommand() *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "prepare datasets and inspect prepared ones",
		Description: `A prepared dataset is a folder: manifest.jsonl (one record per line: id, image, texts,
label, attributes), labels.json, splits/{train,val,test}.txt, dataset.json, and a data card
(card.md, card.json) with counts per class and split and every skipped or bad input by kind
(all of them in problems.jsonl). Training and evaluation read only prepared folders.`,
		Subcommands: []*cli.Command{dataPrepareCommand(), dataCardCommand()},
	}
}

func dataPrepareCommand() *cli.Command {
	return &cli.Command{
		Name:      "prepare",
		Usage:     "turn a raw source into a prepared dataset folder",
		ArgsUsage: "SOURCE",
		Description: `SOURCE is one of:
  met       MetObjects.csv (as published) plus a folder of <Object ID>.jpg images
  coco      MS COCO captions_*.json + instances_*.json plus the image folder
  manifest  any CSV or JSON-lines file with image, text and label columns
  emoji     the npm emoji-datasource packages (run scripts/fetch-emoji.sh first)

Every source is split stratified by label into train/val/test (8:1:1, seed 42 by default),
grouped so that records sharing a group (an emoji's vendor styles, a MET object's images)
stay in one split. Bad records (missing or corrupt image, image larger than
--max-image-pixels, empty text, unknown label, duplicate id, path outside the root, even
through a symbolic link, unreadable row) are counted by kind; prepare fails when their share
exceeds --max-bad (a CSV quote left open counts every line it swallowed). With --base-size
the images are also stored shrunk (shorter side at most that many pixels) for fast loading.
Run "vbg data prepare SOURCE --help" for its flags.

Example:
  scripts/fetch-emoji.sh
  vbg data prepare emoji --out .deps/data/emoji-category`,
		Subcommands: []*cli.Command{dataMETCommand(), dataCOCOCommand(), dataManifestCommand(), dataEmojiCommand()},
	}
}

func dataMETCommand() *cli.Command {
	return &cli.Command{
		Name:  "met",
		Usage: "prepare The Met open-access MetObjects.csv plus an image folder",
		Description: `Reads MetObjects.csv as The Met publishes it (UTF-8 with BOM, 54 columns, "|"-joined
multi-values). Images are <Object ID>.jpg/.jpeg/.png files in --images, or <Object ID>/
folders of images (The Met Dataset layout). Objects without an image are skipped and listed.
The label is a column (--label-column) or, with --mapping, a coarse class: the mapping file
has "pattern,class" lines (case-insensitive globs, first match wins, class "-" drops):
  Paintings,Painting
  Sculpture*,Sculpture
  *,Other
The text joins Title, Object Name, Culture, Period, Dynasty, Medium and Tags, never the label
column. Each field is measured for label leakage (how well it alone predicts the label; see
the card): by default a field that nearly repeats the label is left out of the text; with
--text-fields it is kept and prepare warns.`,
		Flags: append(dataCommonFlags(),
			&cli.StringFlag{Name: "csv", Usage: "path of MetObjects.csv", Required: true},
			&cli.StringFlag{Name: "images", Usage: "folder of <Object ID>.jpg images", Required: true},
			&cli.StringFlag{Name: "label-column", Value: "Classification", Usage: "label column: Classification, Department or Object Name"},
			&cli.StringFlag{Name: "mapping", Usage: "file of pattern,class lines merging raw labels into coarse classes"},
			&cli.StringFlag{Name: "text-fields", Value: strings.Join(data.METTextFields, ","), Usage: "comma-separated columns joined into the text"},
			&cli.BoolFlag{Name: "all-images", Usage: "keep every image of an <Object ID>/ folder as its own record (grouped by object)"},
		),
		Action: func(c *cli.Context) error {
			o, err := dataPrepareOptions(c)
			if err != nil {
				return err
			}
			var fields []string // nil: the defaults, leaking ones left out
			if c.IsSet("text-fields") {
				fields = dataSplitList(c.String("text-fields"))
			}
			card, err := data.PrepareMET(data.METOptions{PrepareOptions: o,
				CSV: c.String("csv"), Images: c.String("images"), LabelColumn: c.String("label-column"),
				Mapping: c.String("mapping"), TextFields: fields, AllImages: c.Bool("all-images")})
			return dataReport(c, o.Out, card, err)
		},
	}
}

func dataCOCOCommand() *cli.Command {
	return &cli.Command{
		Name:  "coco",
		Usage: "prepare an MS COCO split (captions + instances JSON)",
		Description: `The label is the supercategory (12 classes; --category: the category, 80 classes) of the
image's largest-area object, non-crowd annotations first. Every caption is kept as a text.
Images without any object annotation are skipped and listed.`,
		Flags: append(dataCommonFlags(),
			&cli.StringFlag{Name: "captions", Usage: "captions_*.json", Required: true},
			&cli.StringFlag{Name: "instances", Usage: "instances_*.json", Required: true},
			&cli.StringFlag{Name: "images", Usage: "folder holding the images (e.g. val2017/)", Required: true},
			&cli.BoolFlag{Name: "category", Usage: "label by category name instead of supercategory"},
		),
		Action: func(c *cli.Context) error {
			o, err := dataPrepareOptions(c)
			if err != nil {
				return err
			}
			card, err := data.PrepareCOCO(data.COCOOptions{PrepareOptions: o, Captions: c.String("captions"),
				Instances: c.String("instances"), Images: c.String("images"), UseCategory: c.Bool("category")})
			return dataReport(c, o.Out, card, err)
		},
	}
}

func dataManifestCommand() *cli.Command {
	return &cli.Command{
		Name:  "manifest",
		Usage: "prepare any CSV or JSON-lines file of image, text and label columns",
		Description: `The file is .csv/.tsv with a header row, or .jsonl/.ndjson, in UTF-8. Image paths are
relative to the file's folder and may not leave it. Other columns become record attributes.
Without an id column the image path is the id. With several text columns, each is measured
for label leakage and prepare warns about one that predicts the label almost perfectly.`,
		Flags: append(dataCommonFlags(),
			&cli.StringFlag{Name: "file", Usage: "the manifest (.csv, .tsv, .jsonl, .ndjson)", Required: true},
			&cli.StringFlag{Name: "image-column", Value: "image", Usage: "image path column"},
			&cli.StringSliceFlag{Name: "text-column", Value: cli.NewStringSlice("text"), Usage: "text column (repeat for several texts)"},
			&cli.StringFlag{Name: "label-column", Value: "label", Usage: "label column"},
			&cli.StringFlag{Name: "id-column", Usage: `id column (default "id" when present, else the image path)`},
			&cli.StringFlag{Name: "group-column", Usage: "column whose equal values must share a split"},
		),
		Action: func(c *cli.Context) error {
			o, err := dataPrepareOptions(c)
			if err != nil {
				return err
			}
			card, err := data.PrepareManifest(data.ManifestOptions{PrepareOptions: o, File: c.String("file"),
				ImageColumn: c.String("image-column"), TextColumns: c.StringSlice("text-column"),
				LabelColumn: c.String("label-column"), IDColumn: c.String("id-column"), GroupColumn: c.String("group-column")})
			return dataReport(c, o.Out, card, err)
		},
	}
}

func dataEmojiCommand() *cli.Command {
	return &cli.Command{
		Name:  "emoji",
		Usage: "prepare the npm emoji-datasource packages (the default experiment dataset)",
		Description: `Install the packages first with scripts/fetch-emoji.sh (into .deps/emoji/node_modules).
One record per emoji and vendor style; label = category (9 classes) or subcategory; text =
name plus short names; vendor is an attribute. The split is grouped by emoji (unified code),
so the same text never lands in two splits. --holdout-vendor puts one vendor's images into
test and the other vendors into train/val: a test of image style shift (most test texts
are seen in training).`,
		Flags: append(dataCommonFlags(),
			&cli.StringFlag{Name: "src", Value: filepath.Join(".deps", "emoji", "node_modules"), Usage: "node_modules folder with emoji-datasource*"},
			&cli.StringFlag{Name: "label", Value: "category", Usage: "category or subcategory"},
			&cli.StringFlag{Name: "vendors", Value: strings.Join(data.EmojiVendors, ","), Usage: "comma-separated image styles"},
			&cli.StringFlag{Name: "holdout-vendor", Usage: "vendor whose images form the test split"},
			&cli.BoolFlag{Name: "skin-tones", Usage: "add skin-tone variants (same text and group as the base emoji)"},
			&cli.StringFlag{Name: "exclude-categories", Value: "Component", Usage: `comma-separated categories to drop ("" keeps all)`},
		),
		Action: func(c *cli.Context) error {
			o, err := dataPrepareOptions(c)
			if err != nil {
				return err
			}
			exclude := dataSplitList(c.String("exclude-categories"))
			if exclude == nil {
				exclude = []string{}
			}
			card, err := data.PrepareEmoji(data.EmojiOptions{PrepareOptions: o, Src: c.String("src"),
				Vendors: dataSplitList(c.String("vendors")), LabelField: c.String("label"),
				HoldoutVendor: c.String("holdout-vendor"), SkinTones: c.Bool("skin-tones"), ExcludeCategories: exclude})
			return dataReport(c, o.Out, card, err)
		},
	}
}

func dataCardCommand() *cli.Command {
	return &cli.Command{
		Name:      "card",
		Usage:     "print the data card of a prepared dataset folder",
		ArgsUsage: "DIR",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("data card: want one prepared dataset folder")
			}
			b, err := os.ReadFile(filepath.Join(c.Args().First(), data.CardMDFile))
			if err != nil {
				return fmt.Errorf("data card: %w", err)
			}
			_, err = c.App.Writer.Write(b)
			return err
		},
	}
}

// dataCommonFlags are the flags every prepare source takes.
func dataCommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output folder of the prepared dataset", Required: true},
		&cli.IntFlag{Name: "min-count", Value: 1, Usage: "drop classes with fewer records (reported in the card)"},
		&cli.Float64Flag{Name: "max-bad", Value: 0.05, Usage: "fail when more than this share of records is bad"},
		&cli.StringFlag{Name: "ratios", Value: "8:1:1", Usage: "train:val:test shares"},
		&cli.Uint64Flag{Name: "seed", Value: data.DefaultSeed, Usage: "split seed"},
		&cli.BoolFlag{Name: "verify-images", Usage: "decode every image fully instead of reading only the headers"},
		&cli.Int64Flag{Name: "max-image-pixels", Value: data.DefaultMaxImagePixels,
			Usage: "largest image (width × height, read from its header before decoding) that is accepted"},
		&cli.IntFlag{Name: "base-size", Usage: fmt.Sprintf("also store every larger image shrunk to this shorter side (JPEG, in base-N/); "+
			"training and evaluation read these instead of the originals when data.image_size is at most N (0: off; at most %d)", data.MaxBaseSize)},
		&cli.IntFlag{Name: "workers", Usage: fmt.Sprintf("goroutines checking images (0: all cores; at most %d)", data.MaxWorkers)},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bars"},
	}
}

func dataPrepareOptions(c *cli.Context) (data.PrepareOptions, error) {
	if c.NArg() > 0 {
		return data.PrepareOptions{}, fmt.Errorf("unexpected argument %q: options are flags (see --help)", c.Args().First())
	}
	o := data.DefaultPrepareOptions(c.String("out"))
	o.MinCount = c.Int("min-count")
	o.MaxBadShare = c.Float64("max-bad")
	o.Seed = c.Uint64("seed")
	o.VerifyImages = c.Bool("verify-images")
	o.MaxImagePixels = c.Int64("max-image-pixels")
	o.BaseSize = c.Int("base-size")
	o.Workers = c.Int("workers")
	o.Quiet = c.Bool("quiet")
	if o.Workers < 0 || o.Workers > data.MaxWorkers {
		return o, fmt.Errorf("--workers %d: want 0 (all cores) to %d", o.Workers, data.MaxWorkers)
	}
	if o.MaxImagePixels <= 0 {
		return o, fmt.Errorf("--max-image-pixels %d: must be positive", o.MaxImagePixels)
	}
	if o.BaseSize < 0 || o.BaseSize > data.MaxBaseSize {
		return o, fmt.Errorf("--base-size %d: want 0 (off) to %d", o.BaseSize, data.MaxBaseSize)
	}
	r, err := dataParseRatios(c.String("ratios"))
	if err != nil {
		return o, err
	}
	o.Ratios = r
	return o, nil
}

func dataParseRatios(s string) (data.Ratios, error) {
	parts := strings.Split(s, ":")
	var r data.Ratios
	if len(parts) != 3 {
		return r, fmt.Errorf("--ratios %q: want train:val:test, e.g. 8:1:1", s)
	}
	sum := 0.0
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return r, fmt.Errorf("--ratios %q: %q is not a non-negative number", s, p)
		}
		r[i] = v
		sum += v
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return r, fmt.Errorf("--ratios %q: at least one share must be positive, e.g. 8:1:1", s)
	}
	return r, nil
}

func dataSplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// dataReport prints a short summary of a prepare run.
func dataReport(c *cli.Context, out string, card *data.Card, err error) error {
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "prepared %s", card.Summary())
	fmt.Fprintf(w, "  data card: %s\n", filepath.Join(out, data.CardMDFile))
	return nil
}
