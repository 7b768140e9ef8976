package gan

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

// Losses. Every function returns a scalar tensor owned by the caller and
// frees its intermediates; inputs are never freed. Logits are F(x), so
// D(x) = σ(F(x)); with log σ(l) = −softplus(−l) and
// log(1 − σ(l)) = −softplus(l) the losses stay finite for any logit.

// DiscriminatorLoss is eq. 19 from D's side, as a loss to minimise:
//
//	L_D = −mean log D(x_real) − mean log(1 − D(G(z)))
//	    = mean softplus(−F(x_real)) + mean softplus(F(G(z)))
func DiscriminatorLoss(realLogits, fakeLogits *ts.Tensor) (*ts.Tensor, error) {
	s := layers.NewScope("discriminator loss")
	return s.Keep(s.Add(meanSoftplus(s, neg(s, realLogits)), meanSoftplus(s, fakeLogits)))
}

// GeneratorLoss is G's side of the adversarial game. The minimax form is
// eq. 19 itself, L_G = mean log(1 − D(G(z))) = −mean softplus(F(G(z)));
// the non-saturating form (Goodfellow et al. 2014) is
// L_G = −mean log D(G(z)) = mean softplus(−F(G(z))), which has strong
// gradients exactly when D rejects the samples.
func GeneratorLoss(fakeLogits *ts.Tensor, nonSaturating bool) (*ts.Tensor, error) {
	s := layers.NewScope("generator loss")
	if nonSaturating {
		return s.Keep(meanSoftplus(s, neg(s, fakeLogits)))
	}
	return s.Keep(neg(s, meanSoftplus(s, fakeLogits)))
}

// neg is −x.
func neg(s *layers.Scope, x *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.Neg(false) })
}

// meanSoftplus is mean(softplus(x)) over all elements.
func meanSoftplus(s *layers.Scope, x *ts.Tensor) *ts.Tensor {
	sp := s.Do(func() (*ts.Tensor, error) { return x.Softplus(false) })
	return mean(s, sp)
}

// mean is the mean of all elements of x.
func mean(s *layers.Scope, x *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return x.Mean(gotch.Float, false) })
}

// StyleLoss is the style constraint loss: for each style layer l, the
// squared Frobenius distance between the Gram matrix of a generated image
// and the target Gram matrix of its class's texture library, averaged
// over the samples that have a target, summed over layers:
//
//	L_style = Σ_l Σ_b w_b ‖G_l(x_b) − T_l(c_b)‖²_F / max(1, Σ_b w_b)
//
// gen and target hold one [B, C_l, C_l] tensor per layer; weights [B]
// (1 = the sample's class has textures, 0 = it has none) may be nil for
// all ones.
func StyleLoss(gen, target []*ts.Tensor, weights *ts.Tensor) (*ts.Tensor, error) {
	if len(gen) != len(target) || len(gen) == 0 {
		return nil, fmt.Errorf("style loss: %d generated and %d target layers", len(gen), len(target))
	}
	s := layers.NewScope("style loss")
	var total *ts.Tensor
	for l := range gen {
		term := s.Do(func() (*ts.Tensor, error) { return styleTerm(l, gen[l], target[l], weights) })
		if l == 0 {
			total = term
			continue
		}
		total = s.Add(total, term)
	}
	return s.Keep(total)
}

// styleTerm is layer l's Σ_b w_b ‖G_l(x_b) − T_l(c_b)‖²_F / max(1, Σ_b w_b).
func styleTerm(l int, gen, target, weights *ts.Tensor) (*ts.Tensor, error) {
	s := layers.NewScope(fmt.Sprintf("layer %d", l))
	d := s.Sub(gen, target)
	sq := s.Do(func() (*ts.Tensor, error) { return d.Square(false) })
	return s.Keep(weightedMean(s, s.Sum(sq, 1, 2), weights)) // ‖·‖²_F per sample, [B]
}

// weightedMean is Σ w·x / max(1, Σ w), or mean(x) when w is nil.
func weightedMean(s *layers.Scope, x, w *ts.Tensor) *ts.Tensor {
	if w == nil {
		return mean(s, x)
	}
	xw := s.Mul(x, w)
	sum := s.Do(func() (*ts.Tensor, error) { return xw.Sum(gotch.Float, false) })
	ws := s.Do(func() (*ts.Tensor, error) { return w.Sum(gotch.Float, false) })
	n := max(s.Float(ws), 1)
	return s.Do(func() (*ts.Tensor, error) { return sum.DivScalar(ts.FloatScalar(n), false) })
}

// AttributeLoss is the attribute consistency loss on the discriminator's
// auxiliary head: cross-entropy of the class logits against the class ids
// (times classWeight) plus the mean binary cross-entropy of the attribute
// logits against attribute targets in [0, 1]:
//
//	L_attr = classWeight · CE(classLogits, c) + BCE(σ(attrLogits), a)
//
// D minimises it on real pairs (a = which attribute phrases the real text
// contains); G minimises it on generated images (c = the class it was asked
// for, a = the class's attribute frequencies p(a | c)), so generated images
// must look like their class and its attributes to the discriminator.
// attrLogits and attrTargets are nil when the table has no attributes.
func AttributeLoss(classLogits, attrLogits, classes, attrTargets *ts.Tensor, classWeight float64) (*ts.Tensor, error) {
	s := layers.NewScope("attribute loss")
	loss := s.Do(func() (*ts.Tensor, error) {
		return classLogits.CrossEntropyLoss(classes, tensor.None, 1, -100, 0, false)
	})
	if classWeight != 1 {
		loss = s.MulScalar(loss, classWeight)
	}
	if attrLogits == nil {
		return s.Keep(loss)
	}
	bce := s.Do(func() (*ts.Tensor, error) {
		return attrLogits.BinaryCrossEntropyWithLogits(attrTargets, tensor.None, tensor.None, 1, false)
	})
	return s.Keep(s.Add(loss, bce))
}
