package train

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/data"
)

// ganFeedback runs the generation-feedback-optimization loop's work due at
// the start of epoch: when a GAN round is due it trains the GAN, generates
// image-text pairs for scarce classes, filters them, and returns the
// generated records to train on from this epoch on (changed = true).
// Otherwise it returns changed = false and the training set stays as it is.
// On resume it must return the records that were in use at that epoch.
func (t *trainer) ganFeedback(epoch int) (generated []data.Record, changed bool, err error) {
	if !t.cfg.GAN.Enabled {
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("gan: the feedback loop is not built yet")
}

// ganState returns the GAN's tensors to store in checkpoints under names
// starting with "gan.". The tensors stay owned by the GAN.
func (t *trainer) ganState() map[string]*ts.Tensor { return nil }

// restoreGAN loads the GAN's tensors from a checkpoint.
func (t *trainer) restoreGAN(saved map[string]*ts.Tensor) error { return nil }
