// Package export writes a trained VBG run as a folder that Hugging Face
// transformers and safetensors read: the encoders as ViTModel and
// BertModel folders, the fusion and classifier weights, the labels and a
// manifest (vbg.json) that says how the parts fit together.
package export

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/vbg"
)

// Format names the layout Export writes (in vbg.json).
const Format = "vbg-export/1"

// Manifest is vbg.json: what a downstream tool needs besides the
// weights to run an exported model.
type Manifest struct {
	Format string   `json:"format"`
	Labels []string `json:"labels"`
	Fusion struct {
		Type  string `json:"type"`
		Dim   int64  `json:"dim"`
		Heads int64  `json:"heads"`
		// LayerNormEps of the fusion layer's LayerNorms.
		LayerNormEps float64 `json:"layer_norm_eps"`
	} `json:"fusion"`
	Image *struct {
		Folder string     `json:"folder"` // "vit": a Hugging Face ViTModel folder
		Size   int        `json:"size"`
		Mean   [3]float64 `json:"mean"`
		Std    [3]float64 `json:"std"`
	} `json:"image,omitempty"`
	Text *struct {
		Folder    string `json:"folder"` // "bert": a Hugging Face BertModel folder with tokenizer files
		MaxLength int    `json:"max_length"`
		Tokenizer string `json:"tokenizer"` // "pretrained" (WordPiece) or "words" (vocab.txt of whole words)
	} `json:"text,omitempty"`
	// Head is the safetensors file with the fusion ("fusion.*") and
	// classifier ("classifier.*") weights.
	Head string `json:"head"`
	// Pooling: image tokens are averaged; text tokens are averaged over the
	// attention mask.
	Pooling string `json:"pooling"`
}

// Export writes the loaded run as a folder that Hugging Face transformers
// and safetensors can read: vit/ and bert/ (config.json and
// model.safetensors with Hugging Face names; bert/ also has the tokenizer
// files), head.safetensors (fusion and classifier), labels.json and
// vbg.json. Call it on the run's worker goroutine.
func Export(l *infer.Run, out string) error {
	m, ok := l.Net.(*vbg.Model)
	if !ok {
		return fmt.Errorf("export: only VBG models export (model.arch %q)", l.Config.Model.Arch)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	c := l.Config
	vars := l.VS.Variables()
	group := func(prefix string, strip bool) map[string]*ts.Tensor {
		g := map[string]*ts.Tensor{}
		for name, v := range vars {
			if strings.HasPrefix(name, prefix) {
				v := v
				key := name
				if strip {
					key = strings.TrimPrefix(name, prefix)
				}
				g[key] = &v
			}
		}
		return g
	}
	man := Manifest{Format: Format, Labels: l.Labels, Head: "head.safetensors", Pooling: "mean"}
	man.Fusion.Type, man.Fusion.Dim, man.Fusion.Heads, man.Fusion.LayerNormEps = c.Model.Fusion.Type, m.Fusion.Dim(), int64(c.Model.Fusion.Heads), 1e-12
	if m.Image != nil {
		dir := filepath.Join(out, "vit")
		hf := map[string]any{"model_type": "vit", "architectures": []string{"ViTModel"}}
		if err := writeHFFolder(dir, group("vit.", true), m.Image.Config, hf); err != nil {
			return err
		}
		man.Image = &struct {
			Folder string     `json:"folder"`
			Size   int        `json:"size"`
			Mean   [3]float64 `json:"mean"`
			Std    [3]float64 `json:"std"`
		}{Folder: "vit", Size: c.Data.ImageSize}
		copy(man.Image.Mean[:], c.Data.Mean)
		copy(man.Image.Std[:], c.Data.Std)
	}
	if m.Text != nil {
		dir := filepath.Join(out, "bert")
		hf := map[string]any{"model_type": "bert", "architectures": []string{"BertModel"}, "position_embedding_type": "absolute"}
		if err := writeHFFolder(dir, group("bert.", true), m.Text.Config, hf); err != nil {
			return err
		}
		if err := exportTokenizer(l, dir); err != nil {
			return err
		}
		man.Text = &struct {
			Folder    string `json:"folder"`
			MaxLength int    `json:"max_length"`
			Tokenizer string `json:"tokenizer"`
		}{Folder: "bert", MaxLength: c.Data.MaxTextLen, Tokenizer: c.Model.Text.Tokenizer}
	}
	head := group("fusion.", false)
	for k, v := range group("classifier.", false) {
		head[k] = v
	}
	if err := pretrained.WriteSafetensors(filepath.Join(out, man.Head), head, map[string]string{"vbg.format": Format}); err != nil {
		return err
	}
	if err := runfolder.WriteLabels(out, l.Labels); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(out, "vbg.json"), man)
}

// writeHFFolder writes config.json (cfg's JSON fields plus extra) and
// model.safetensors.
func writeHFFolder(dir string, weights map[string]*ts.Tensor, cfg any, extra map[string]any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	delete(fields, "add_pooling_layer")
	for k, v := range extra {
		fields[k] = v
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "config.json"), fields); err != nil {
		return err
	}
	return pretrained.WriteSafetensors(filepath.Join(dir, "model.safetensors"), weights, nil)
}

// exportTokenizer copies a pretrained model's tokenizer files, or writes a
// word vocabulary as a WordPiece vocab.txt without sub-words (every id is
// the same as in training; unknown words become [UNK]).
func exportTokenizer(l *infer.Run, dir string) error {
	c := l.Config
	if c.Model.Text.Tokenizer == "pretrained" {
		src, err := experiment.ModelFolder("model.text.pretrained", c.Model.Text.Pretrained)
		if err != nil {
			return err
		}
		for _, f := range []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
			if err := copyFile(filepath.Join(src, f), filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("export tokenizer: %w", err)
			}
		}
		return nil
	}
	v, ok := l.Tokenizer.(*vbg.WordVocab)
	if !ok {
		return fmt.Errorf("export: unknown tokenizer %T", l.Tokenizer)
	}
	if err := atomicfile.Write(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(v.Words, "\n")+"\n")); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": c.Data.MaxTextLen,
		"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]",
	})
}

// copyFile copies src to dst through atomicfile.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteWith(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
