package train

import (
	"fmt"
	"io"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/vbg"
)

func loadPretrainedTokenizer(cfg *config.Config) (vbg.Tokenizer, error) {
	return nil, fmt.Errorf("model.text.tokenizer: pretrained tokenizers are wired in with package pretrained")
}

func loadPretrainedWeights(vs *nn.VarStore, cfg *config.Config, log io.Writer) error {
	if cfg.Model.Image.Pretrained != "" || cfg.Model.Text.Pretrained != "" {
		return fmt.Errorf("model.*.pretrained: loading is wired in with package pretrained")
	}
	return nil
}
