// Package infer runs trained networks: the forward pass under the run's
// precision, evaluation over a loader with the paper's metrics, prediction
// of new image-text pairs, and opening a finished run folder for all of
// these (vbg eval, vbg predict, export and explain build on it). The
// training loop validates through the same code.
package infer

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/vbg"
)

// Model is a network with what feeds it: its tokenizer, the text length,
// the device and the precision. All its tensor work runs on the device
// worker's goroutine.
type Model struct {
	Net       vbg.Network
	Tokenizer vbg.Tokenizer // nil when the network reads no text
	// MaxTextLen is data.max_text_len: tokens, [CLS] and [SEP] included.
	MaxTextLen int
	Device     gotch.Device
	// BF16 runs the forward pass under bfloat16 autocast (train.precision).
	BF16 bool
	// Labels are the class names in label-id order.
	Labels []string
}

// NewModel is the model of an experiment's network and tokenizer.
func NewModel(cfg *config.Config, net vbg.Network, tok vbg.Tokenizer, labels []string, dev gotch.Device) *Model {
	if _, text := net.Uses(); !text {
		tok = nil
	}
	return &Model{Net: net, Tokenizer: tok, MaxTextLen: cfg.Data.MaxTextLen, Device: dev, BF16: cfg.Train.Precision == "bf16", Labels: labels}
}

// LoaderConfig is the loader configuration an experiment evaluates with
// (its image size and normalisation, no augmentation, no shuffling).
func LoaderConfig(cfg *config.Config) data.LoaderConfig {
	lc := data.DefaultLoaderConfig(false)
	lc.ImageSize = cfg.Data.ImageSize
	lc.ResizeSize = cfg.Data.ImageSize
	lc.BatchSize = cfg.Train.BatchSize
	lc.Workers = cfg.Data.Workers
	lc.Seed = uint64(cfg.Seed)
	lc.Quiet = true
	lc.MaxImagePixels = cfg.Data.MaxImagePixels
	for i := 0; i < 3; i++ {
		lc.Mean[i], lc.Std[i] = float32(cfg.Data.Mean[i]), float32(cfg.Data.Std[i])
	}
	return lc
}

// Batch copies a loader batch onto the device as the network's inputs
// (only those it reads) with the labels. The caller frees it.
func (m *Model) Batch(b data.Batch) (*vbg.Batch, error) {
	image, _ := m.Net.Uses()
	return vbg.NewBatch(b, m.Tokenizer, m.MaxTextLen, image, m.Device)
}

// Forward runs the network, under bf16 autocast when the model says so;
// the logits and features come back as float32 either way.
func (m *Model) Forward(in vbg.Inputs, train bool) (*vbg.Output, error) {
	if !m.BF16 {
		return m.Net.Forward(in, train)
	}
	var out *vbg.Output
	var err error
	if aerr := ts.Autocast(m.Device.IsCuda(), true, func() { out, err = m.Net.Forward(in, train) }); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, err
	}
	for _, p := range []**ts.Tensor{&out.Logits, &out.Fused} {
		if *p != nil && (*p).DType() != gotch.Float {
			f, err := (*p).Totype(gotch.Float, true)
			if err != nil {
				out.Drop()
				return nil, err
			}
			*p = f
		}
	}
	return out, nil
}

// Evaluation is the outcome of Evaluate.
type Evaluation struct {
	Report *metrics.Report // nil from Predict
	Loss   float64         // mean cross-entropy (with the head's L2 term)
	Probs  [][]float64     // class probabilities per sample, in loader order
	Labels []int           // the samples' labels
}

// Evaluate runs the network in eval mode without gradients over one pass
// of l and returns the metrics, the mean loss and every sample's class
// probabilities.
func (m *Model) Evaluate(l *data.Loader) (*Evaluation, error) {
	ev, err := m.Predict(l)
	if err != nil {
		return nil, err
	}
	if ev.Report, err = metrics.Compute(ev.Labels, ev.Probs, metrics.Options{ClassNames: m.Labels}); err != nil {
		return nil, err
	}
	return ev, nil
}

// Predict is Evaluate without the metrics: the probabilities, labels and
// mean loss of one pass over l.
func (m *Model) Predict(l *data.Loader) (*Evaluation, error) {
	ev := &Evaluation{}
	var lossSum float64
	err := tensor.NoGrad(func() error {
		for b, err := range l.Epoch(0) {
			if err != nil {
				return err
			}
			probs, loss, err := m.predictBatch(b)
			if err != nil {
				return err
			}
			ev.Probs = append(ev.Probs, probs...)
			for _, y := range b.Labels {
				ev.Labels = append(ev.Labels, int(y))
			}
			lossSum += loss * float64(b.Len())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ev.Labels) == 0 {
		return nil, fmt.Errorf("evaluate: no samples")
	}
	ev.Loss = lossSum / float64(len(ev.Labels))
	return ev, nil
}

// predictBatch returns the softmax probabilities and the mean loss of one
// loader batch.
func (m *Model) predictBatch(b data.Batch) ([][]float64, float64, error) {
	bt, err := m.Batch(b)
	if err != nil {
		return nil, 0, err
	}
	defer bt.Drop()
	out, err := m.Forward(bt.In, false)
	if err != nil {
		return nil, 0, err
	}
	defer out.Drop()
	loss, err := m.Net.Loss(out.Logits, bt.Labels, nil)
	if err != nil {
		return nil, 0, err
	}
	lossVal, err := tensor.Scalar(loss)
	tensor.Drop(loss)
	if err != nil {
		return nil, 0, err
	}
	p, err := vbg.Probabilities(out.Logits)
	return p, lossVal, err
}
