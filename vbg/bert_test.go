package vbg

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestBertMatchesHuggingFace loads transformers' BertModel weights into a
// BertModel and compares outputs on a padded batch with segment ids and on a
// batch without segment ids or mask.
func TestBertMatchesHuggingFace(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, name := range []string{"bert_tiny", "bert_relu"} {
		t.Run(name, func(t *testing.T) {
			var cfg BertConfig
			readConfig(t, name, &cfg)
			vs := nn.NewVarStore(gotch.CPU)
			m, err := NewBertModel(vs.Root(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := readSafetensors(t, filepath.Join(hfDir, name+".safetensors"))
			defer dropMap(w)
			loadExact(t, vs, w)
			io := readSafetensors(t, filepath.Join(hfDir, name+"_io.safetensors"))
			defer dropMap(io)
			for _, c := range []string{"padded", "plain"} {
				ts.NoGrad(func() {
					// Absent tensors are nil: plain has no segments and no mask.
					out, err := m.Forward(io[c+".input_ids"], io[c+".token_type_ids"], io[c+".attention_mask"], false)
					if err != nil {
						t.Fatal(err)
					}
					defer out.Drop()
					if want := io[c+".attention_mask"]; want != nil {
						if d := maxAbsDiff(t, "mask", out.Mask, want); d != 0 {
							t.Errorf("%s: returned mask differs from the input", c)
						}
					} else if s := out.Mask.Int64Values(); len(s) == 0 || s[0] != 1 {
						t.Errorf("%s: default mask %v, want ones", c, s)
					}
					d := maxAbsDiff(t, c+" last_hidden_state", out.LastHiddenState, io[c+".last_hidden_state"])
					t.Logf("%s %s last_hidden_state max |Δ| = %.3g", name, c, d)
					if d > hfTolerance {
						t.Errorf("%s last_hidden_state: max |Δ| = %g > %g", c, d, hfTolerance)
					}
					want, ok := io[c+".pooler_output"]
					if ok != (out.PoolerOutput != nil) {
						t.Fatalf("%s: pooler output present %v, want %v", c, out.PoolerOutput != nil, ok)
					}
					if ok {
						d := maxAbsDiff(t, c+" pooler_output", out.PoolerOutput, want)
						t.Logf("%s %s pooler_output max |Δ| = %.3g", name, c, d)
						if d > hfTolerance {
							t.Errorf("%s pooler_output: max |Δ| = %g > %g", c, d, hfTolerance)
						}
					}
				})
			}
			runtime.KeepAlive(vs)
		})
	}
}

func tinyBert() BertConfig {
	return BertConfig{VocabSize: 30, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 4,
		IntermediateSize: 32, MaxPositionEmbeddings: 8, TypeVocabSize: 2, PadTokenID: 0,
		HiddenAct: "gelu", LayerNormEps: 1e-12, HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1,
		AddPoolingLayer: true}
}

func TestBertConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*BertConfig)
		want   string // substring of the error; "" = valid
	}{
		{"tiny", func(*BertConfig) {}, ""},
		{"base", func(c *BertConfig) { *c = BertBase() }, ""},
		{"minilm", func(c *BertConfig) { *c = MiniLML6() }, ""},
		{"no pad", func(c *BertConfig) { c.PadTokenID = -1 }, ""},
		{"heads", func(c *BertConfig) { c.NumAttentionHeads = 5 }, "multiple of the number of attention heads"},
		{"pad", func(c *BertConfig) { c.PadTokenID = 30 }, "pad_token_id"},
		{"vocab", func(c *BertConfig) { c.VocabSize = 0 }, "vocab_size"},
		{"dropout", func(c *BertConfig) { c.HiddenDropoutProb = 1.5 }, "dropout"},
	}
	for _, tc := range tests {
		c := tinyBert()
		tc.mutate(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestBertForward checks shapes, input errors, that padding does not change
// the real tokens' outputs, and that dropout only acts in training.
func TestBertForward(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	m, err := NewBertModel(vs.Root(), tinyBert())
	if err != nil {
		t.Fatal(err)
	}
	ids := func(v []int64, l int64) *ts.Tensor {
		return ts.MustOfSlice(v).MustView([]int64{int64(len(v)) / l, l}, true)
	}
	// The same 3 tokens, alone and padded to 5.
	short := ids([]int64{5, 6, 7}, 3)
	long := ids([]int64{5, 6, 7, 0, 0}, 5)
	mask := ids([]int64{1, 1, 1, 0, 0}, 5)
	defer func() { short.MustDrop(); long.MustDrop(); mask.MustDrop() }()
	a, err := m.Forward(short, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Drop()
	b, err := m.Forward(long, nil, mask, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Drop()
	if got := b.LastHiddenState.MustSize(); !equal(got, []int64{1, 5, 16}) {
		t.Errorf("last hidden state %v, want [1 5 16]", got)
	}
	real := b.LastHiddenState.MustNarrow(1, 0, 3, false)
	defer real.MustDrop()
	if d := maxAbsDiff(t, "padding", real, a.LastHiddenState); d > 1e-6 {
		t.Errorf("padding changed the real tokens by %g", d)
	}
	if d := maxAbsDiff(t, "pooler", b.PoolerOutput, a.PoolerOutput); d > 1e-6 {
		t.Errorf("padding changed the pooler output by %g", d)
	}
	tr, err := m.Forward(long, nil, mask, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, "train", tr.LastHiddenState, b.LastHiddenState); d == 0 {
		t.Error("dropout inactive in training")
	}
	tr.Drop()
	tooLong := ts.MustZeros([]int64{1, 9}, gotch.Int64, gotch.CPU)
	defer tooLong.MustDrop()
	if out, err := m.Forward(tooLong, nil, nil, false); err == nil {
		out.Drop()
		t.Error("sequence longer than max_position_embeddings accepted")
	}
	if _, err := m.Forward(nil, nil, nil, false); err == nil {
		t.Error("nil input ids accepted")
	}
	runtime.KeepAlive(vs)
}
