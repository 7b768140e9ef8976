package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vbg-museum/vbg/explain"
)

// ExplainCommand returns "vbg explain": the visual decision report of one
// prediction, or the attention and feature-space figures of a run.
func ExplainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "explain a trained run's predictions: attention heatmaps, token weights, top-k classes (paper Fig. 7, 8)",
		ArgsUsage: "RUN_DIR",
		Description: `With --image and/or --text: the "visual decision report" of one prediction, written to
RUN_DIR/explain/NAME-HASH/explain.md (or --out): the top-k classes with their
probabilities, the ViT's attention rollout and the fusion layer's text-to-image
attention overlaid on the image, and the attention each text token receives.

Without them: the run's figures, added to RUN_DIR/report.md: figures/attention.png
(Fig. 7: attention maps of test examples, one per class first, with the most attended
tokens) and figures/features.png (Fig. 8: t-SNE of the image, text and fused features
of test examples, coloured by class). Attention maps need a VBG run.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "image", Usage: "image file to classify"},
			&cli.StringFlag{Name: "text", Usage: "its description"},
			&cli.IntFlag{Name: "top-k", Value: 5, Usage: "classes to list"},
			&cli.StringFlag{Name: "out", Usage: "folder of the report (default RUN_DIR/explain/NAME-HASH)"},
			&cli.IntFlag{Name: "examples", Value: 6, Usage: "figures: test examples with attention maps"},
			&cli.IntFlag{Name: "points", Value: 240, Usage: "figures: test examples in the feature-space plot"},
			&cli.StringFlag{Name: "method", Value: "tsne", Usage: "figures: tsne or pca"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: vbg explain RUN_DIR [--image FILE] [--text TEXT] (see vbg explain --help)")
			}
			dir := c.Args().First()
			if c.String("image") == "" && c.String("text") == "" {
				md, err := explain.RunFigures(dir, explain.FigureOptions{Examples: c.Int("examples"), Points: c.Int("points"), Method: c.String("method")}, c.App.ErrWriter)
				if err != nil {
					return fmt.Errorf("explain %s: %w", dir, err)
				}
				if md == "" {
					return fmt.Errorf("explain %s: figures need a VBG run (model.arch vbg)", dir)
				}
				fmt.Fprintf(c.App.Writer, "%s/report.md\n", dir)
				return nil
			}
			page, err := explain.One(dir, explain.Input{Image: c.String("image"), Text: c.String("text"), TopK: c.Int("top-k"), Out: c.String("out")})
			if err != nil {
				return fmt.Errorf("explain %s: %w", dir, err)
			}
			fmt.Fprintf(c.App.ErrWriter, "vbg: predicted %s (p = %.3f)\n", page.Predicted, page.Probability)
			fmt.Fprintln(c.App.Writer, page.Markdown)
			return nil
		},
	}
}
