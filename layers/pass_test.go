package layers

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/vbg-museum/vbg/tensor"
)

// TestResultNamesInnermostModule: a module scope wraps its own failures
// with its path, passes a child's module error on unchanged (so a path is
// never repeated), and an unnamed scope adds nothing.
func TestResultNamesInnermostModule(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	x := onesTensor(t, 2, 3)
	defer tensor.Drop(x)
	child := &ModuleError{Path: "vit.encoder.layer.0.attention.attention", Err: errors.New("boom")}
	tests := []struct {
		name, scope string
		fail        error
		want        string
	}{
		{"own failure", "vit.encoder.layer.0", errors.New("boom"), "vit.encoder.layer.0: boom"},
		{"child's failure", "vit.encoder", child, "vit.encoder.layer.0.attention.attention: boom"},
		{"wrapped child's failure", "vit", errors.Join(child), "vit.encoder.layer.0.attention.attention: boom"},
		{"unnamed scope", "", errors.New("boom"), "boom"},
		{"no failure", "vit", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tensor.Live()
			s := NewScope(tc.scope)
			y := s.AddScalar(x, 1)
			s.Fail(tc.fail)
			out, err := s.Result(s.MulScalar(y, 2))
			switch {
			case tc.want == "" && (err != nil || out == nil):
				t.Fatalf("got %v, %v; want a result", out, err)
			case tc.want != "" && (err == nil || err.Error() != tc.want || out != nil):
				t.Fatalf("got %v, %v; want error %q", out, err, tc.want)
			}
			tensor.Drop(out)
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
		})
	}
}

// TestTrace: a trace keeps its own handles of what it records, in order,
// replaces a name recorded twice, ignores records after an error, and
// frees everything on Drop; a nil trace records nothing.
func TestTrace(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer tensor.Settle()()
	x := onesTensor(t, 2)
	defer tensor.Drop(x)
	before := tensor.Live()
	tr := NewTrace()
	s := NewScope("blk")
	tr.Record(s, "enc.layer.0.attn", s.AddScalar(x, 1))
	tr.Record(s, "enc.layer.1.attn", s.AddScalar(x, 2))
	tr.Record(s, "fusion.proj", s.AddScalar(x, 3))
	tr.Record(s, "enc.layer.1.attn", s.AddScalar(x, 4)) // replaces the first
	var none *Trace
	none.Record(s, "ignored", x)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	failed := NewScope("blk")
	failed.Failf("earlier error")
	tr.Record(failed, "after.error", x)
	_ = failed.Close()
	if got := strings.Join(tr.Names(), " "); got != "enc.layer.0.attn enc.layer.1.attn fusion.proj" {
		t.Errorf("names %q", got)
	}
	var got []float64
	for _, r := range tr.Under("enc.") {
		v, err := tensor.Float64s(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v[0])
	}
	if len(got) != 2 || got[0] != 2 || got[1] != 5 {
		t.Errorf("Under(enc.) = %v, want [2 5] (recorded tensors outlive their scope)", got)
	}
	if none.Get("x") != nil || none.Names() != nil || tr.Get("after.error") != nil {
		t.Error("a nil trace, or a record after an error, kept something")
	}
	if n := tensor.Live() - before; n != 3 {
		t.Errorf("%d tensors live before Drop, want the trace's 3", n)
	}
	tr.Drop()
	if n := tensor.Live() - before; n != 0 {
		t.Errorf("%d tensors leaked", n)
	}
}
