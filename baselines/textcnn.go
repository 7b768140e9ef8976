package baselines

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/tensor"
)

// textBody is a text network: forward returns logits [B, K] and the features
// [B, D] the classifier reads, both recorded on s.
type textBody interface {
	forward(s scope, ids, mask *ts.Tensor, train bool) (logits, feats *ts.Tensor)
}

// textCNN is Kim's (2014) convolutional sentence classifier: word
// embeddings, one 1-D convolution per kernel width with ReLU and max-over-time
// pooling, concatenation, dropout and a linear layer. Names: "embedding",
// "convs.I", "fc".
type textCNN struct {
	embedding *ts.Tensor // [vocab, E], row 0 (padding) zero
	convs     []*ts.Tensor
	biases    []*ts.Tensor
	fc        *linear
	dropout   float64
	maxKernel int64
}

func buildTextCNN(r *registry, p *nn.Path, cfg *config.Config, vocab, classes int) (any, error) {
	c := cfg.Model.Baseline.TextCNN
	if vocab < 2 {
		return nil, fmt.Errorf("textcnn: needs a tokenizer vocabulary (got %d words)", vocab)
	}
	m := &textCNN{dropout: c.Dropout}
	E := int64(c.Embed)
	m.embedding = r.param(p.Sub("embedding"), "weight", []int64{int64(vocab), E}, normalInit(1), true)
	if m.embedding != nil {
		if err := zeroFirstRow(m.embedding); err != nil {
			return nil, fmt.Errorf("textcnn: %w", err)
		}
	}
	for i, k := range c.Kernels {
		cp := p.Sub("convs").Sub(strconv.Itoa(i))
		bound := 1 / math.Sqrt(float64(E)*float64(k))
		m.convs = append(m.convs, r.param(cp, "weight", []int64{int64(c.Filters), E, int64(k)}, uniformInit(bound), true))
		m.biases = append(m.biases, r.param(cp, "bias", []int64{int64(c.Filters)}, uniformInit(bound), true))
		m.maxKernel = max(m.maxKernel, int64(k))
	}
	m.fc = r.linear(p.Sub("fc"), int64(len(c.Kernels)*c.Filters), int64(classes), true, nil, nil)
	r.head = []string{"fc"}
	return m, nil
}

// zeroFirstRow zeroes the padding row of an embedding without autograd.
func zeroFirstRow(w *ts.Tensor) error {
	d, err := w.Detach(false)
	if err != nil {
		return err
	}
	defer tensor.Drop(d)
	row, err := d.Narrow(0, 0, 1, false)
	if err != nil {
		return err
	}
	defer tensor.Drop(row)
	return row.Zero_()
}

// forward is Kim's network: per kernel width, max over time of
// ReLU(conv1d(E(ids))); the maxima concatenated, dropout, linear.
func (m *textCNN) forward(s scope, ids, _ *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	size := s.Shape(ids, 2)
	if s.Failed() {
		return nil, nil
	}
	x := ids
	if size[1] < m.maxKernel {
		// Texts shorter than the widest kernel are padded with [PAD] (id 0).
		x = s.Do(func() (*ts.Tensor, error) { return ids.ConstantPadNd([]int64{0, m.maxKernel - size[1]}, false) })
	}
	e := s.Do(func() (*ts.Tensor, error) { return ts.Embedding(m.embedding, x, 0, false, false) })
	e = s.Permute(e, 0, 2, 1) // [B, E, L]
	pooled := make([]*ts.Tensor, len(m.convs))
	for i, w := range m.convs {
		c := s.Relu(s.Do(func() (*ts.Tensor, error) {
			return ts.Conv1d(e, w, m.biases[i], []int64{1}, []int64{0}, []int64{1}, 1)
		}))
		pooled[i] = s.Do(func() (*ts.Tensor, error) { return c.Amax([]int64{2}, false, false) })
	}
	feats := s.Cat(1, pooled...)
	return s.Apply(m.fc, s.Dropout(feats, m.dropout, train)), feats
}
