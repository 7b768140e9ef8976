package gan

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
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
	negReal, err := realLogits.Neg(false)
	if err != nil {
		return nil, fmt.Errorf("discriminator loss: %w", err)
	}
	a, err := meanSoftplus(negReal)
	drop(negReal)
	if err != nil {
		return nil, fmt.Errorf("discriminator loss: %w", err)
	}
	defer drop(a)
	b, err := meanSoftplus(fakeLogits)
	if err != nil {
		return nil, fmt.Errorf("discriminator loss: %w", err)
	}
	defer drop(b)
	return a.Add(b, false)
}

// GeneratorLoss is G's side of the adversarial game. The minimax form is
// eq. 19 itself, L_G = mean log(1 − D(G(z))) = −mean softplus(F(G(z)));
// the non-saturating form (Goodfellow et al. 2014) is
// L_G = −mean log D(G(z)) = mean softplus(−F(G(z))), which has strong
// gradients exactly when D rejects the samples.
func GeneratorLoss(fakeLogits *ts.Tensor, nonSaturating bool) (*ts.Tensor, error) {
	if nonSaturating {
		neg, err := fakeLogits.Neg(false)
		if err != nil {
			return nil, fmt.Errorf("generator loss: %w", err)
		}
		defer drop(neg)
		return meanSoftplus(neg)
	}
	m, err := meanSoftplus(fakeLogits)
	if err != nil {
		return nil, fmt.Errorf("generator loss: %w", err)
	}
	return m.Neg(true)
}

func meanSoftplus(x *ts.Tensor) (*ts.Tensor, error) {
	s, err := x.Softplus(false)
	if err != nil {
		return nil, err
	}
	return s.Mean(gotch.Float, true)
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
	var total *ts.Tensor
	for l := range gen {
		d, err := gen[l].Sub(target[l], false)
		if err != nil {
			drop(total)
			return nil, fmt.Errorf("style loss layer %d: %w", l, err)
		}
		sq, err := d.Square(true)
		if err != nil {
			drop(total)
			return nil, fmt.Errorf("style loss layer %d: %w", l, err)
		}
		per, err := sq.SumDimIntlist([]int64{1, 2}, false, gotch.Float, true) // [B]
		if err != nil {
			drop(total)
			return nil, fmt.Errorf("style loss layer %d: %w", l, err)
		}
		term, err := weightedMean(per, weights)
		drop(per)
		if err != nil {
			drop(total)
			return nil, fmt.Errorf("style loss layer %d: %w", l, err)
		}
		if total == nil {
			total = term
			continue
		}
		sum, err := total.Add(term, false)
		drop(total, term)
		if err != nil {
			return nil, fmt.Errorf("style loss: %w", err)
		}
		total = sum
	}
	return total, nil
}

// weightedMean returns Σ w·x / max(1, Σ w), or mean(x) when w is nil.
func weightedMean(x, w *ts.Tensor) (*ts.Tensor, error) {
	if w == nil {
		return x.Mean(gotch.Float, false)
	}
	xw, err := x.Mul(w, false)
	if err != nil {
		return nil, err
	}
	s, err := xw.Sum(gotch.Float, true)
	if err != nil {
		return nil, err
	}
	ws, err := w.Sum(gotch.Float, false)
	if err != nil {
		drop(s)
		return nil, err
	}
	n := ws.Float64Values()[0]
	drop(ws)
	if n < 1 {
		n = 1
	}
	return s.DivScalar(ts.FloatScalar(n), true)
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
	ce, err := classLogits.CrossEntropyLoss(classes, none, 1, -100, 0, false)
	if err != nil {
		return nil, fmt.Errorf("attribute loss: %w", err)
	}
	if classWeight != 1 {
		if err := ce.MulScalar_(ts.FloatScalar(classWeight)); err != nil {
			drop(ce)
			return nil, fmt.Errorf("attribute loss: %w", err)
		}
	}
	if attrLogits == nil {
		return ce, nil
	}
	defer drop(ce)
	bce, err := attrLogits.BinaryCrossEntropyWithLogits(attrTargets, none, none, 1, false)
	if err != nil {
		return nil, fmt.Errorf("attribute loss: %w", err)
	}
	defer drop(bce)
	return ce.Add(bce, false)
}
