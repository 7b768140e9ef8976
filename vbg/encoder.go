package vbg

import (
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// EncoderOutput is what an encoder's Forward returns. The caller owns every
// tensor in it and frees them with Drop.
type EncoderOutput struct {
	// LastHiddenState is the final token sequence [B, L, D] (after the final
	// LayerNorm for ViT).
	LastHiddenState *ts.Tensor
	// PoolerOutput is tanh(dense(first token)) [B, D]; nil without a pooler.
	PoolerOutput *ts.Tensor
	// Mask is the padding mask [B, L] (1 = token, 0 = padding) of the text
	// encoder, as given to Forward (all ones when none was given); nil for ViT,
	// whose sequences are never padded.
	Mask *ts.Tensor
}

// Drop frees the tensors of o that are set and clears them. It is safe to
// call on a nil output and more than once.
func (o *EncoderOutput) Drop() {
	if o == nil {
		return
	}
	tensor.Drop(o.LastHiddenState, o.PoolerOutput, o.Mask)
	*o = EncoderOutput{}
}
