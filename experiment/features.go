package experiment

import (
	"fmt"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/vbg"
)

// TextEncoderFeatures returns, for each text, the mean-pooled last hidden
// states (over the attention mask) of the pretrained text encoder named in
// model.text.pretrained: the fixed "encoder" features of the fitted
// baselines. It starts a device worker of its own.
func TextEncoderFeatures(cfg *config.Config, texts []string) ([][]float32, error) {
	if cfg.Model.Text.Pretrained == "" {
		return nil, fmt.Errorf("model.baseline.features: text encoder features need model.text.pretrained (a randomly initialised BERT gives no useful features)")
	}
	c := *cfg
	c.Model.Arch, c.Model.Fusion.Type = "vbg", "text"
	tok, err := PretrainedTokenizer(&c)
	if err != nil {
		return nil, err
	}
	bc, err := bertConfig(&c, tok.VocabSize())
	if err != nil {
		return nil, err
	}
	w, err := device.Start(device.Config{Device: cfg.Device, Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	var out [][]float32
	err = w.Do(func() error {
		vs := nn.NewVarStore(w.Device)
		bert, err := vbg.NewBertModel(vs.Root().Sub("bert"), bc)
		if err != nil {
			return err
		}
		if err := LoadPretrained(vs, &c, nil); err != nil {
			return err
		}
		const batch = 64
		for start := 0; start < len(texts); start += batch {
			rows, err := pooledText(bert, tok, texts[start:min(start+batch, len(texts))], cfg.Data.MaxTextLen, w)
			if err != nil {
				return err
			}
			out = append(out, rows...)
		}
		return nil
	})
	return out, err
}

// pooledText encodes one batch of texts and returns their mean-pooled
// features.
func pooledText(bert *vbg.BertModel, tok vbg.Tokenizer, texts []string, maxLen int, w *device.Worker) ([][]float32, error) {
	var rows [][]float32
	err := tensor.NoGrad(func() error {
		ids, mask, err := vbg.EncodeTexts(tok, texts, maxLen, w.Device)
		if err != nil {
			return err
		}
		defer tensor.Drop(ids, mask)
		o, err := bert.Forward(ids, nil, mask, false)
		if err != nil {
			return err
		}
		defer o.Drop()
		pooled, err := vbg.MeanPool(o.LastHiddenState, mask)
		if err != nil {
			return err
		}
		defer tensor.Drop(pooled)
		flat, err := tensor.Values[float32](pooled)
		if err != nil {
			return err
		}
		d := len(flat) / len(texts)
		for i := range texts {
			rows = append(rows, flat[i*d:(i+1)*d])
		}
		return nil
	})
	return rows, err
}
