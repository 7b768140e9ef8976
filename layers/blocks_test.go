package layers

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// TestBlockFailureNamesModule makes a libtorch op fail in the middle of a
// transformer block or encoder (an input of the wrong hidden width, a mask
// that does not fit): Forward must return an error that starts with the
// checkpoint path of the innermost failing module, without a panic, and
// leave no tensor behind, in eval and in training mode and with a trace.
func TestBlockFailureNamesModule(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	vs := nn.NewVarStore(gotch.CPU)
	vit, err := NewPreNormEncoder(vs.Root().Sub("vit").Sub("encoder"), 2, tinyBlock())
	if err != nil {
		t.Fatal(err)
	}
	bert, err := NewPostNormEncoder(vs.Root().Sub("bert").Sub("encoder"), 2, tinyBlock())
	if err != nil {
		t.Fatal(err)
	}
	good := ts.MustRandn([]int64{2, 5, 8}, gotch.Float, gotch.CPU)
	narrow := ts.MustRandn([]int64{2, 5, 6}, gotch.Float, gotch.CPU) // hidden 6, the blocks want 8
	flat := ts.MustRandn([]int64{10, 8}, gotch.Float, gotch.CPU)
	badMask := ts.MustZeros([]int64{2, 1, 1, 7}, gotch.Float, gotch.CPU) // 7 keys for 5 tokens
	defer tensor.Drop(good, narrow, flat, badMask)
	tests := []struct {
		name    string
		fwd     func(pass Pass) (*ts.Tensor, error)
		want    string // the error's prefix: the failing module
		contain string // part of libtorch's message
	}{
		{"pre-norm encoder, wrong width", func(p Pass) (*ts.Tensor, error) { return vit.Forward(narrow, nil, p) },
			"vit.encoder.layer.0.layernorm_before: ", "normalized_shape"},
		{"post-norm encoder, wrong width", func(p Pass) (*ts.Tensor, error) { return bert.Forward(narrow, nil, p) },
			"bert.encoder.layer.0.attention.self.query: ", "cannot be multiplied"},
		{"pre-norm block, mask of the wrong length", func(p Pass) (*ts.Tensor, error) { return vit.Layers[1].Forward(good, badMask, p) },
			"vit.encoder.layer.1.attention.attention: ", ""},
		{"post-norm encoder, mask of the wrong length", func(p Pass) (*ts.Tensor, error) { return bert.Forward(good, badMask, p) },
			"bert.encoder.layer.0.attention.self: ", ""},
		{"block, input without a sequence axis", func(p Pass) (*ts.Tensor, error) { return bert.Layers[0].Forward(flat, nil, p) },
			"bert.encoder.layer.0.attention.self: ", "want a tensor of 3 dimensions"},
	}
	for _, tc := range tests {
		for _, mode := range []struct {
			name  string
			train bool
			trace bool
		}{{"eval", false, false}, {"train", true, false}, {"traced", false, true}} {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				before := tensor.Live()
				pass := Pass{Train: mode.train}
				if mode.trace {
					pass.Trace = NewTrace()
				}
				out, err := tc.fwd(pass)
				pass.Trace.Drop()
				if err == nil || out != nil {
					t.Fatalf("got %v, %v; want an error", out, err)
				}
				if !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.contain) {
					t.Errorf("error %q, want it to start with %q and contain %q", err, tc.want, tc.contain)
				}
				var me *ModuleError
				if !errors.As(err, &me) || me.Path+": " != tc.want {
					t.Errorf("error %q does not carry the module path %q", err, tc.want)
				}
				if n := tensor.Live() - before; n != 0 {
					t.Errorf("%d tensors leaked", n)
				}
			})
		}
	}
	// The same encoders run on a good input (so the failures above are the
	// inputs' fault), and then free everything but the output.
	before := tensor.Live()
	for _, e := range []*Encoder{vit, bert} {
		out, err := e.Forward(good, nil, Pass{Train: true})
		if err != nil {
			t.Fatal(err)
		}
		tensor.Drop(out)
	}
	if n := tensor.Live() - before; n != 0 {
		t.Errorf("good inputs: %d tensors leaked", n)
	}
	runtime.KeepAlive(vs)
}
