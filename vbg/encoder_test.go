package vbg

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// hfTolerance is the largest absolute difference allowed between Go and
// transformers' outputs (fp32).
const hfTolerance = 1e-5

// hfDir holds the fixtures of scripts/make-hf-fixtures.py.
var hfDir = filepath.Join("testdata", "hf")

// readSafetensors is a minimal, test-only safetensors reader (F32 and I64,
// little-endian). The real reader lives in package pretrained.
func readSafetensors(t *testing.T, path string) map[string]*ts.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 8 {
		t.Fatalf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(data)
	if 8+n > uint64(len(data)) {
		t.Fatalf("%s: header of %d bytes past the end", path, n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	buf := data[8+n:]
	out := map[string]*ts.Tensor{}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets [2]int  `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		b := buf[e.Offsets[0]:e.Offsets[1]]
		var x *ts.Tensor
		switch e.DType {
		case "F32":
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			x, err = ts.NewTensorFromData(v, e.Shape)
		case "I64":
			v := make([]int64, len(b)/8)
			for i := range v {
				v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			}
			x, err = ts.NewTensorFromData(v, e.Shape)
		default:
			t.Fatalf("%s: %s: dtype %s not supported by the test reader", path, name, e.DType)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		out[name] = x
	}
	return out
}

// dropMap frees every tensor of m.
func dropMap(m map[string]*ts.Tensor) {
	for _, x := range m {
		x.MustDrop()
	}
}

// loadExact copies weights into the store's variables, failing unless both
// have exactly the same keys and shapes: the construction paths must be the
// Hugging Face checkpoint keys.
func loadExact(t *testing.T, vs *nn.VarStore, weights map[string]*ts.Tensor) {
	t.Helper()
	vars := vs.Variables()
	var missing, unexpected []string
	for k := range vars {
		if _, ok := weights[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range weights {
		if _, ok := vars[k]; !ok {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	if len(missing)+len(unexpected) > 0 {
		t.Fatalf("keys differ from the checkpoint:\n missing in checkpoint: %v\n not in model: %v", missing, unexpected)
	}
	for k, v := range vars {
		w := weights[k]
		if fmt.Sprint(v.MustSize()) != fmt.Sprint(w.MustSize()) {
			t.Fatalf("%s: shape %v, checkpoint %v", k, v.MustSize(), w.MustSize())
		}
		d := v.MustDetach(false)
		d.Copy_(w)
		d.MustDrop()
	}
}

// maxAbsDiff is max |a - b|, failing on a shape mismatch.
func maxAbsDiff(t *testing.T, what string, a, b *ts.Tensor) float64 {
	t.Helper()
	if fmt.Sprint(a.MustSize()) != fmt.Sprint(b.MustSize()) {
		t.Fatalf("%s: shape %v, want %v", what, a.MustSize(), b.MustSize())
	}
	d := a.MustSub(b, false).MustAbs(true).MustMax(true)
	defer d.MustDrop()
	return d.Float64Values()[0]
}

// readConfig decodes a fixture's config JSON into cfg.
func readConfig(t *testing.T, name string, cfg any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(hfDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
}

func TestEncoderOutputDrop(t *testing.T) {
	var nilOut *EncoderOutput
	nilOut.Drop()
	o := &EncoderOutput{LastHiddenState: ts.MustZeros([]int64{1}, gotch.Float, gotch.CPU)}
	o.Drop()
	o.Drop()
	if o.LastHiddenState != nil {
		t.Error("Drop left LastHiddenState set")
	}
}

// TestForwardFreesIntermediates counts live gotch tensors around Forward
// (with the GC off, so that finalizers cannot hide a leak): only the outputs
// may remain, and none after EncoderOutput.Drop.
func TestForwardFreesIntermediates(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	vs := nn.NewVarStore(gotch.CPU)
	vit, err := NewViTModel(vs.Root().Sub("vit"), tinyViT())
	if err != nil {
		t.Fatal(err)
	}
	bert, err := NewBertModel(vs.Root().Sub("bert"), tinyBert())
	if err != nil {
		t.Fatal(err)
	}
	pixels := ts.MustRandn([]int64{2, 3, 16, 16}, gotch.Float, gotch.CPU)
	bigger := ts.MustRandn([]int64{2, 3, 24, 32}, gotch.Float, gotch.CPU)
	ids := ts.MustOnes([]int64{2, 6}, gotch.Int64, gotch.CPU)
	types := ts.MustZeros([]int64{2, 6}, gotch.Int64, gotch.CPU)
	mask := ts.MustOnes([]int64{2, 6}, gotch.Int64, gotch.CPU)
	badIDs := ts.MustFull([]int64{2, 6}, ts.IntScalar(1000), gotch.Int64, gotch.CPU)
	defer func() {
		for _, x := range []*ts.Tensor{pixels, bigger, ids, types, mask, badIDs} {
			x.MustDrop()
		}
	}()
	tests := []struct {
		name    string
		outputs int
		fwd     func() (*EncoderOutput, error)
	}{
		{"vit eval", 2, func() (*EncoderOutput, error) { return vit.Forward(pixels, false) }},
		{"vit train", 2, func() (*EncoderOutput, error) { return vit.Forward(pixels, true) }},
		{"vit interpolated", 2, func() (*EncoderOutput, error) { return vit.Forward(bigger, true) }},
		{"bert masked", 3, func() (*EncoderOutput, error) { return bert.Forward(ids, types, mask, true) }},
		{"bert plain", 3, func() (*EncoderOutput, error) { return bert.Forward(ids, nil, nil, false) }},
		{"bert bad mask", 0, func() (*EncoderOutput, error) { return bert.Forward(ids, types, pixels, false) }},
		{"bert bad ids", 0, func() (*EncoderOutput, error) { return bert.Forward(badIDs, types, mask, false) }},
		{"vit bad size", 0, func() (*EncoderOutput, error) { return vit.Forward(ids, false) }},
	}
	for _, tc := range tests {
		before := len(ts.ExistingTensors)
		out, err := tc.fwd()
		if (err != nil) != (tc.outputs == 0) {
			t.Fatalf("%s: error %v", tc.name, err)
		}
		if got := len(ts.ExistingTensors) - before; got != tc.outputs {
			t.Errorf("%s: %d tensors left after Forward, want %d outputs", tc.name, got, tc.outputs)
		}
		out.Drop()
		if got := len(ts.ExistingTensors) - before; got != 0 {
			t.Errorf("%s: %d tensors left after Drop", tc.name, got)
		}
	}
	runtime.KeepAlive(vs)
}
