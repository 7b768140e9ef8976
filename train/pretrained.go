package train

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/vbg"
)

// ModelFolder resolves an experiment's pretrained name: a local folder, or
// a hub repo id already in the Hugging Face cache (`vbg pretrained
// download` puts it there).
func ModelFolder(key, name string) (string, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, nil
	}
	dir, err := resolveHub(name)
	if err != nil {
		return "", fmt.Errorf("%s: %q is neither a folder nor a downloaded hub model (`vbg pretrained download %s` fetches it): %w", key, name, name, err)
	}
	return dir, nil
}

// resolveHub finds a hub repo id in the local Hugging Face cache.
var resolveHub = pretrained.Resolve

// wordPiece adapts a pretrained WordPiece tokenizer to vbg.Tokenizer.
type wordPiece struct{ t *pretrained.Tokenizer }

func (w wordPiece) VocabSize() int { return w.t.VocabSize() }

func (w wordPiece) Encode(texts []string, maxLen int) (ids, mask []int64, err error) {
	b := w.t.EncodeBatch(texts, pretrained.EncodeOptions{MaxLength: maxLen, Padding: pretrained.PadMaxLength})
	ids = make([]int64, 0, len(texts)*maxLen)
	mask = make([]int64, 0, len(texts)*maxLen)
	for i, e := range b.Encodings {
		if e.Len() != maxLen {
			return nil, nil, fmt.Errorf("tokenizer: text %d encoded to %d tokens, want %d", i, e.Len(), maxLen)
		}
		for j := range e.IDs {
			ids = append(ids, int64(e.IDs[j]))
			mask = append(mask, int64(e.AttentionMask[j]))
		}
	}
	return ids, mask, nil
}

func loadPretrainedTokenizer(cfg *config.Config) (vbg.Tokenizer, error) {
	dir, err := ModelFolder("model.text.pretrained", cfg.Model.Text.Pretrained)
	if err != nil {
		return nil, err
	}
	f, err := pretrained.InspectFolder(dir)
	if err != nil {
		return nil, err
	}
	t, err := f.LoadTokenizer()
	if err != nil {
		return nil, fmt.Errorf("model.text.pretrained: %w", err)
	}
	return wordPiece{t}, nil
}

// encoderConfigs resolves the encoders of a VBG model: from the pretrained
// folder's config.json where one is named (the YAML's sizes must then be
// left out), else from the YAML.
func encoderConfigs(c *config.Config, vocab int) (vbg.Encoders, error) {
	var enc vbg.Encoders
	kind := vbg.FusionKind(c.Model.Fusion.Type)
	if kind != vbg.TextOnly {
		vc, err := vbg.ViTFromConfig(c.Model.Image, c.Data.ImageSize)
		if err != nil {
			return enc, err
		}
		if name := c.Model.Image.Pretrained; name != "" {
			if err := fromFolderConfig("model.image.pretrained", name, &vc); err != nil {
				return enc, err
			}
			vc.ImageSize = int64(c.Data.ImageSize)
			if d := c.Model.Image.Dropout; d > 0 {
				vc.HiddenDropoutProb, vc.AttentionProbsDropoutProb = d, d
			}
			if err := vc.Validate(); err != nil {
				return enc, fmt.Errorf("model.image.pretrained: %w", err)
			}
		}
		enc.ViT = &vc
	}
	if kind != vbg.ImageOnly {
		bc, err := vbg.BertFromConfig(c.Model.Text, vocab, c.Data.MaxTextLen)
		if err != nil {
			return enc, err
		}
		if name := c.Model.Text.Pretrained; name != "" {
			if err := fromFolderConfig("model.text.pretrained", name, &bc); err != nil {
				return enc, err
			}
			bc.AddPoolingLayer = false
			if d := c.Model.Text.Dropout; d > 0 {
				bc.HiddenDropoutProb, bc.AttentionProbsDropoutProb = d, d
			}
			if err := bc.Validate(); err != nil {
				return enc, fmt.Errorf("model.text.pretrained: %w", err)
			}
		}
		enc.Bert = &bc
	}
	return enc, nil
}

// fromFolderConfig decodes a model folder's config.json over v.
func fromFolderConfig(key, name string, v any) error {
	dir, err := ModelFolder(key, name)
	if err != nil {
		return err
	}
	f, err := pretrained.InspectFolder(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if f.Config == nil {
		return fmt.Errorf("%s: %s has no config.json", key, dir)
	}
	if err := f.Config.Decode(v); err != nil {
		return fmt.Errorf("%s: %s: %w", key, dir, err)
	}
	return nil
}

// loadPretrainedWeights copies the named pretrained encoders into vs and
// reports what did not match. A missing or mis-shaped encoder weight is an
// error; checkpoint tensors the model does not use (a pooler, a task head)
// are listed.
func loadPretrainedWeights(vs *nn.VarStore, cfg *config.Config, log io.Writer) error {
	for _, e := range []struct {
		key, name, prefix string
	}{
		{"model.image.pretrained", cfg.Model.Image.Pretrained, "vit."},
		{"model.text.pretrained", cfg.Model.Text.Pretrained, "bert."},
	} {
		if e.name == "" {
			continue
		}
		if (e.prefix == "vit." && cfg.Model.Fusion.Type == "text") || (e.prefix == "bert." && cfg.Model.Fusion.Type == "image") {
			continue
		}
		dir, err := ModelFolder(e.key, e.name)
		if err != nil {
			return err
		}
		src, _, err := pretrained.OpenFolderWeights(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", e.key, err)
		}
		rep, err := pretrained.LoadIntoVarStore(vs, src, pretrained.LoadOptions{ModelPrefix: e.prefix})
		src.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.key, err)
		}
		if len(rep.Missing) > 0 || len(rep.Mismatched) > 0 {
			return fmt.Errorf("%s: %s does not fit the model: %s", e.key, dir, strings.ReplaceAll(rep.String(), "\n", "; "))
		}
		fmt.Fprintf(log, "vbg: loaded %s from %s (%d tensors; unused in the checkpoint: %d)\n", e.key, dir, len(rep.Loaded), len(rep.Unexpected))
	}
	return nil
}
