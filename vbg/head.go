package vbg

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Classifier is the paper's head: dropout, then a fully connected layer to
// class logits; softmax gives the class distribution. L2 is the weight of
// the L2 penalty on the head's weight matrix that Loss adds (paper: 0.001).
type Classifier struct {
	Dense   *layers.Linear
	Dropout float64
	L2      float64
	Name    string // checkpoint path ("classifier")
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
	return &Classifier{Dense: d, Dropout: dropout, L2: l2, Name: pathOr(p, "classifier")}, nil
}

// Forward maps fused features [B, D] to logits [B, K].
func (c *Classifier) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := layers.NewScope(c.Name)
	return s.Result(s.Apply(c.Dense, s.Dropout(x, c.Dropout, train)))
}

// Loss is the softmax cross-entropy of logits [B, K] against labels [B]
// (int64), optionally weighted per class (weights [K], or nil), plus
// L2·‖W‖² of the head's weights.
func (c *Classifier) Loss(logits, labels, weights *ts.Tensor) (*ts.Tensor, error) {
	s := layers.NewScope(c.Name + " loss")
	w := weights
	if w == nil {
		w = tensor.None
	}
	ce := s.Do(func() (*ts.Tensor, error) { return logits.CrossEntropyLoss(labels, w, 1 /* mean */, -100, 0, false) })
	if c.L2 == 0 {
		return s.Result(ce)
	}
	sq := s.Do(func() (*ts.Tensor, error) { return c.Dense.Weight.Square(false) })
	l2 := s.Do(func() (*ts.Tensor, error) { return sq.Sum(sq.DType(), false) })
	return s.Result(s.Add(ce, s.MulScalar(l2, c.L2)))
}

// Probabilities returns softmax(logits) [B, K] as Go rows.
func Probabilities(logits *ts.Tensor) ([][]float64, error) {
	s := layers.NewScope("probabilities")
	defer s.Close()
	p := s.Do(func() (*ts.Tensor, error) { return logits.Softmax(-1, gotch.Double, false) })
	if err := s.Err(); err != nil {
		return nil, err
	}
	return rows(p)
}

// rows reads a [B, ...] tensor as B Go rows of its trailing elements.
func rows(t *ts.Tensor) ([][]float64, error) {
	if t == nil {
		return nil, errors.New("rows: no tensor")
	}
	size, err := t.Size()
	if err != nil || len(size) == 0 {
		return nil, fmt.Errorf("rows: want a batch, got shape %v (%v)", size, err)
	}
	flat, err := tensor.Float64s(t)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, size[0])
	n := 0
	if size[0] > 0 {
		n = len(flat) / int(size[0])
	}
	for i := range out {
		out[i] = flat[i*n : (i+1)*n]
	}
	return out, nil
}
