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

// TestViTMatchesHuggingFace loads transformers' ViTModel weights into a
// ViTModel and compares outputs, at the configured image size and at a larger
// non-square one (interpolated position embeddings).
func TestViTMatchesHuggingFace(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, name := range []string{"vit_tiny", "vit_variant"} {
		t.Run(name, func(t *testing.T) {
			var cfg ViTConfig
			readConfig(t, name, &cfg)
			vs := nn.NewVarStore(gotch.CPU)
			m, err := NewViTModel(vs.Root(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := readSafetensors(t, filepath.Join(hfDir, name+".safetensors"))
			defer dropMap(w)
			loadExact(t, vs, w)
			io := readSafetensors(t, filepath.Join(hfDir, name+"_io.safetensors"))
			defer dropMap(io)
			for _, c := range []string{"default", "resized"} {
				ts.NoGrad(func() {
					out, err := m.Forward(io[c+".pixel_values"], false)
					if err != nil {
						t.Fatal(err)
					}
					defer out.Drop()
					if out.Mask != nil {
						t.Error("ViT output has a mask")
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

func tinyViT() ViTConfig {
	return ViTConfig{HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 32,
		HiddenAct: "gelu", LayerNormEps: 1e-12, ImageSize: 16, PatchSize: 8, NumChannels: 3, QKVBias: true,
		HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1, AddPoolingLayer: true}
}

func TestViTConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ViTConfig)
		want   string // substring of the error; "" = valid
	}{
		{"tiny", func(*ViTConfig) {}, ""},
		{"base", func(c *ViTConfig) { *c = ViTBase16() }, ""},
		{"heads", func(c *ViTConfig) { c.NumAttentionHeads = 3 }, "multiple of the number of attention heads"},
		{"patch", func(c *ViTConfig) { c.PatchSize = 5 }, "patch_size"},
		{"channels", func(c *ViTConfig) { c.NumChannels = 0 }, "num_channels"},
		{"act", func(c *ViTConfig) { c.HiddenAct = "swiglu" }, "unknown activation"},
		{"several", func(c *ViTConfig) { c.NumChannels = 0; c.PatchSize = 5 }, "num_channels"},
	}
	for _, tc := range tests {
		c := tinyViT()
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

// TestViTForward checks shapes, the pooler switch, input errors and that
// dropout only acts in training.
func TestViTForward(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	m, err := NewViTModel(vs.Root(), tinyViT())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		shape []int64
		seq   int64 // 0: expect an error
	}{
		{"default", []int64{2, 3, 16, 16}, 5},
		{"larger", []int64{1, 3, 32, 24}, 13},
		{"not a multiple", []int64{1, 3, 20, 16}, 0},
		{"channels", []int64{1, 1, 16, 16}, 0},
	}
	for _, tc := range tests {
		x := ts.MustRandn(tc.shape, gotch.Float, gotch.CPU)
		out, err := m.Forward(x, false)
		if tc.seq == 0 {
			if err == nil {
				t.Errorf("%s: no error", tc.name)
				out.Drop()
			}
			x.MustDrop()
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, want := out.LastHiddenState.MustSize(), []int64{tc.shape[0], tc.seq, 16}; !equal(got, want) {
			t.Errorf("%s: last hidden state %v, want %v", tc.name, got, want)
		}
		if got, want := out.PoolerOutput.MustSize(), []int64{tc.shape[0], 16}; !equal(got, want) {
			t.Errorf("%s: pooler %v, want %v", tc.name, got, want)
		}
		train, err := m.Forward(x, true)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(t, "train vs eval", train.LastHiddenState, out.LastHiddenState); d == 0 {
			t.Errorf("%s: dropout inactive in training", tc.name)
		}
		out.Drop()
		train.Drop()
		x.MustDrop()
	}
	runtime.KeepAlive(vs)
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
