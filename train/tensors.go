package train

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/vbg"
)

// batchTensors is one batch moved onto the device.
type batchTensors struct {
	in     vbg.Inputs
	labels *ts.Tensor
	n      int
}

func (b *batchTensors) drop() {
	for _, t := range []*ts.Tensor{b.in.Pixels, b.in.InputIDs, b.in.AttentionMask, b.labels} {
		if t != nil {
			t.Drop()
		}
	}
}

// toDevice makes a tensor of shape from a Go slice on dev.
func toDevice[T float32 | int64](vals []T, shape []int64, dev gotch.Device) (*ts.Tensor, error) {
	t, err := ts.NewTensorFromData(vals, shape)
	if err != nil {
		return nil, err
	}
	if dev == gotch.CPU {
		return t, nil
	}
	defer t.Drop()
	return t.To(dev, false)
}

// trimPadding drops the columns that are padding in every row, so a batch
// of short texts does not pay for max_text_len.
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

// makeBatch tokenizes and copies a loader batch onto dev. Images are only
// copied when useImage, texts only tokenized when tok is not nil.
func makeBatch(b data.Batch, tok vbg.Tokenizer, maxLen int, useImage bool, dev gotch.Device) (*batchTensors, error) {
	n := b.Len()
	out := &batchTensors{n: n}
	var err error
	if useImage {
		if out.in.Pixels, err = toDevice(b.Images, []int64{int64(n), 3, int64(b.Size), int64(b.Size)}, dev); err != nil {
			return nil, fmt.Errorf("batch images: %w", err)
		}
	}
	if tok != nil {
		ids, mask, err := tok.Encode(b.Texts, maxLen)
		if err != nil {
			out.drop()
			return nil, fmt.Errorf("tokenize batch: %w", err)
		}
		ids, mask, l := trimPadding(ids, mask, n, maxLen)
		if out.in.InputIDs, err = toDevice(ids, []int64{int64(n), int64(l)}, dev); err != nil {
			out.drop()
			return nil, err
		}
		if out.in.AttentionMask, err = toDevice(mask, []int64{int64(n), int64(l)}, dev); err != nil {
			out.drop()
			return nil, err
		}
	}
	if out.labels, err = toDevice(b.Labels, []int64{int64(n)}, dev); err != nil {
		out.drop()
		return nil, err
	}
	return out, nil
}
