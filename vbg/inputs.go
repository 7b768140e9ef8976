package vbg

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/tensor"
)

// Batch is one loader batch on the device: the network's inputs and the
// labels. The caller frees it with Drop.
type Batch struct {
	In     Inputs
	Labels *ts.Tensor // [B] int64
	N      int
}

// Drop frees the batch's tensors.
func (b *Batch) Drop() {
	tensor.Drop(b.In.Pixels, b.In.InputIDs, b.In.AttentionMask, b.Labels)
	*b = Batch{}
}

// NewBatch copies a loader batch onto dev: the images when useImage, the
// texts tokenized to at most maxLen tokens when tok is not nil (columns
// that are padding in every row are trimmed, so a batch of short texts
// does not pay for maxLen), and the labels.
func NewBatch(b data.Batch, tok Tokenizer, maxLen int, useImage bool, dev gotch.Device) (*Batch, error) {
	n := b.Len()
	out := &Batch{N: n}
	var err error
	if useImage {
		if out.In.Pixels, err = tensor.FromSlice(b.Images, []int64{int64(n), 3, int64(b.Size), int64(b.Size)}, dev); err != nil {
			return nil, fmt.Errorf("batch images: %w", err)
		}
	}
	if tok != nil {
		if out.In.InputIDs, out.In.AttentionMask, err = EncodeTexts(tok, b.Texts, maxLen, dev); err != nil {
			out.Drop()
			return nil, err
		}
	}
	if out.Labels, err = tensor.FromSlice(b.Labels, []int64{int64(n)}, dev); err != nil {
		out.Drop()
		return nil, fmt.Errorf("batch labels: %w", err)
	}
	return out, nil
}

// EncodeTexts tokenizes texts to at most maxLen tokens and returns the ids
// and the attention mask [len(texts), L] on dev, L being the longest text
// (the padding every row has is trimmed). The caller owns both.
func EncodeTexts(tok Tokenizer, texts []string, maxLen int, dev gotch.Device) (ids, mask *ts.Tensor, err error) {
	n := len(texts)
	rawIDs, rawMask, err := tok.Encode(texts, maxLen)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenize batch: %w", err)
	}
	rawIDs, rawMask, l := trimPadding(rawIDs, rawMask, n, maxLen)
	if ids, err = tensor.FromSlice(rawIDs, []int64{int64(n), int64(l)}, dev); err != nil {
		return nil, nil, fmt.Errorf("batch ids: %w", err)
	}
	if mask, err = tensor.FromSlice(rawMask, []int64{int64(n), int64(l)}, dev); err != nil {
		tensor.Drop(ids)
		return nil, nil, fmt.Errorf("batch mask: %w", err)
	}
	return ids, mask, nil
}

// trimPadding drops the columns that are padding in every row.
func trimPadding(ids, mask []int64, rows, maxLen int) ([]int64, []int64, int) {
	longest := 1
	for r := 0; r < rows; r++ {
		for c := maxLen - 1; c >= longest; c-- {
			if mask[r*maxLen+c] != 0 {
				longest = c + 1
				break
			}
		}
	}
	if longest == maxLen {
		return ids, mask, maxLen
	}
	outIDs := make([]int64, rows*longest)
	outMask := make([]int64, rows*longest)
	for r := 0; r < rows; r++ {
		copy(outIDs[r*longest:(r+1)*longest], ids[r*maxLen:])
		copy(outMask[r*longest:(r+1)*longest], mask[r*maxLen:])
	}
	return outIDs, outMask, longest
}
