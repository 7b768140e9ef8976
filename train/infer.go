package train

import (
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/vbg"
)

// EvalLoaderConfig is the loader configuration a run evaluates with (its
// image size and normalisation, no augmentation, no shuffling).
func EvalLoaderConfig(cfg *config.Config) data.LoaderConfig {
	lc := data.DefaultLoaderConfig(false)
	lc.ImageSize = cfg.Data.ImageSize
	lc.ResizeSize = cfg.Data.ImageSize
	lc.BatchSize = cfg.Train.BatchSize
	lc.Workers = cfg.Data.Workers
	lc.Seed = uint64(cfg.Seed)
	lc.Quiet = true
	for i := 0; i < 3; i++ {
		lc.Mean[i], lc.Std[i] = float32(cfg.Data.Mean[i]), float32(cfg.Data.Std[i])
	}
	return lc
}

// Inputs tokenizes and copies a loader batch onto the run's device as the
// network's inputs (only those it uses) with the labels; the caller frees
// them with the returned function. Call it on the worker's thread.
func (l *Loaded) Inputs(b data.Batch) (in vbg.Inputs, labels []int64, free func(), err error) {
	image, text := l.Net.Uses()
	tok := l.Tokenizer
	if !text {
		tok = nil
	}
	bt, err := makeBatch(b, tok, l.Config.Data.MaxTextLen, image, l.Worker.Device)
	if err != nil {
		return vbg.Inputs{}, nil, nil, err
	}
	return bt.in, b.Labels, bt.drop, nil
}
