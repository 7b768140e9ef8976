package experiment

import (
	"fmt"
	"path/filepath"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/vbg"
)

// VocabFile is where a word vocabulary built from the training texts is
// kept in the run folder.
const VocabFile = "vocab.json"

// Tokenizer returns the experiment's tokenizer, or nil when its network
// reads no text. A word vocabulary (model.text.tokenizer: words) is built
// from the texts of train and saved in runDir; with train nil it is read
// back from runDir (a resumed or finished run), so ids never change within
// a run.
func Tokenizer(cfg *config.Config, runDir string, train []data.Record) (vbg.Tokenizer, error) {
	if _, text := Uses(cfg); !text {
		return nil, nil
	}
	switch cfg.Model.Text.Tokenizer {
	case "words":
		path := filepath.Join(runDir, VocabFile)
		if train == nil {
			return vbg.LoadWordVocab(path)
		}
		var texts []string
		for _, r := range train {
			texts = append(texts, r.Texts...)
		}
		v := vbg.BuildWordVocab(texts, 1)
		if err := v.Save(path); err != nil {
			return nil, err
		}
		return v, nil
	case "pretrained":
		return PretrainedTokenizer(cfg)
	}
	return nil, fmt.Errorf("model.text.tokenizer: unknown %q", cfg.Model.Text.Tokenizer)
}

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

// PretrainedTokenizer loads the WordPiece tokenizer of model.text.pretrained.
func PretrainedTokenizer(cfg *config.Config) (vbg.Tokenizer, error) {
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
