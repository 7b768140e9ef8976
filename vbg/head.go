package vbg

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// Classifier is the paper's head: dropout, then a fully connected layer to
// class logits; softmax gives the class distribution. L2 is the weight of
// the L2 penalty on the head's weight matrix that Loss adds (paper: 0.001).
type Classifier struct {
	Dense   *layers.Linear
	Dropout float64
	L2      float64
}

// NewClassifier builds the head at p (key "dense").
func NewClassifier(p *nn.Path, in, classes int64, dropout, l2 float64) (*Classifier, error) {
	if classes < 2 {
		return nil, fmt.Errorf("classifier: need at least 2 classes, got %d", classes)
	}
	d, err := layers.NewLinear(p.Sub("dense"), in, classes, true)
	if err != nil {
		return nil, err
	}
	return &Classifier{Dense: d, Dropout: dropout, L2: l2}, nil
}

// Forward maps fused features [B, D] to logits [B, K].
func (c *Classifier) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	h, err := ts.Dropout(x, c.Dropout, train)
	if err != nil {
		return nil, fmt.Errorf("classifier dropout: %w", err)
	}
	defer h.Drop()
	return c.Dense.Forward(h)
}

// noTensor is an absent optional tensor (None). It is made once: each
// ts.FromCtensor call registers a Go tensor that is never freed.
var noTensor = ts.FromCtensor(nil)

// Loss is the softmax cross-entropy of logits [B, K] against labels [B]
// (int64), optionally weighted per class (weights [K], or nil), plus
// L2·‖W‖² of the head's weights.
func (c *Classifier) Loss(logits, labels, weights *ts.Tensor) (*ts.Tensor, error) {
	w := weights
	if w == nil {
		w = noTensor
	}
	ce, err := logits.CrossEntropyLoss(labels, w, 1 /* mean */, -100, 0, false)
	if err != nil {
		return nil, fmt.Errorf("cross entropy: %w", err)
	}
	if c.L2 == 0 {
		return ce, nil
	}
	defer ce.Drop()
	sq, err := c.Dense.Weight.Square(false)
	if err != nil {
		return nil, err
	}
	defer sq.Drop()
	l2, err := sq.Sum(sq.DType(), false)
	if err != nil {
		return nil, err
	}
	defer l2.Drop()
	if err := l2.MulScalar_(ts.FloatScalar(c.L2)); err != nil {
		return nil, err
	}
	return ce.Add(l2, false)
}

// Probabilities returns softmax(logits) [B, K] as Go rows.
func Probabilities(logits *ts.Tensor) ([][]float64, error) {
	p, err := logits.Softmax(-1, gotch.Double, false)
	if err != nil {
		return nil, err
	}
	defer p.Drop()
	size := p.MustSize()
	flat := p.Float64Values()
	out := make([][]float64, size[0])
	for i := range out {
		out[i] = flat[i*int(size[1]) : (i+1)*int(size[1])]
	}
	return out, nil
}
