package train

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/vbg"
)

// TextEncoderFeatures returns the mean-pooled last hidden states (over the
// attention mask) of the pretrained text encoder named in
// model.text.pretrained for each text: the fixed "encoder" features of the
// gbdt and logreg baselines. It starts its own worker.
func TextEncoderFeatures(cfg *config.Config, texts []string) ([][]float32, error) {
	if cfg.Model.Text.Pretrained == "" {
		return nil, fmt.Errorf("model.baseline.features: text encoder features need model.text.pretrained (a randomly initialised BERT gives no useful features)")
	}
	c := *cfg
	c.Model.Fusion.Type = "text"
	tok, err := loadPretrainedTokenizer(&c)
	if err != nil {
		return nil, err
	}
	enc, err := encoderConfigs(&c, tok.VocabSize())
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
		bert, err := vbg.NewBertModel(vs.Root().Sub("bert"), *enc.Bert)
		if err != nil {
			return err
		}
		dir, err := ModelFolder("model.text.pretrained", cfg.Model.Text.Pretrained)
		if err != nil {
			return err
		}
		src, _, err := pretrained.OpenFolderWeights(dir)
		if err != nil {
			return err
		}
		rep, err := pretrained.LoadIntoVarStore(vs, src, pretrained.LoadOptions{ModelPrefix: "bert."})
		src.Close()
		if err != nil {
			return err
		}
		if len(rep.Missing) > 0 || len(rep.Mismatched) > 0 {
			return fmt.Errorf("model.text.pretrained: %s does not fit: %s", dir, rep.String())
		}
		const batch = 64
		maxLen := cfg.Data.MaxTextLen
		for start := 0; start < len(texts); start += batch {
			end := min(start+batch, len(texts))
			ids, mask, err := tok.Encode(texts[start:end], maxLen)
			if err != nil {
				return err
			}
			n := end - start
			ids, mask, l := trimPadding(ids, mask, n, maxLen)
			var rows [][]float32
			ts.NoGrad(func() {
				var it, mt *ts.Tensor
				if it, err = toDevice(ids, []int64{int64(n), int64(l)}, w.Device); err != nil {
					return
				}
				defer it.Drop()
				if mt, err = toDevice(mask, []int64{int64(n), int64(l)}, w.Device); err != nil {
					return
				}
				defer mt.Drop()
				var o *vbg.EncoderOutput
				if o, err = bert.Forward(it, nil, mt, false); err != nil {
					return
				}
				defer o.Drop()
				var pooled *ts.Tensor
				if pooled, err = vbg.MeanPool(o.LastHiddenState, mt); err != nil {
					return
				}
				defer pooled.Drop()
				d := pooled.MustSize()[1]
				flat := pooled.Float64Values()
				for i := 0; i < n; i++ {
					row := make([]float32, d)
					for j := range row {
						row[j] = float32(flat[i*int(d)+j])
					}
					rows = append(rows, row)
				}
			})
			if err != nil {
				return err
			}
			out = append(out, rows...)
		}
		return nil
	})
	return out, err
}
