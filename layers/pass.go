package layers

import (
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// Pass says how a forward runs. It is threaded from a model's Forward down
// to every attention layer, so that one forward both trains and explains.
type Pass struct {
	// Train turns dropout on.
	Train bool
	// Trace, when set, collects the attention probabilities of every
	// attention layer (and the few intermediates a model chooses to
	// record), like Hugging Face's output_attentions. nil records nothing
	// and lets attention use the fused kernel.
	Trace *Trace
}

// Trace collects tensors of one forward pass under the checkpoint paths of
// the modules that made them: an attention layer records its probabilities
// [B, heads, Lq, Lk] under its own path ("vit.encoder.layer.3.attention.
// attention"). The trace owns what it records (handles of its own, sharing
// storage with the pass's tensors); Drop frees them. A nil *Trace records
// nothing, so forwards call Record without checking.
type Trace struct {
	names   []string
	tensors map[string]*ts.Tensor
}

// NewTrace returns an empty trace.
func NewTrace() *Trace { return &Trace{tensors: map[string]*ts.Tensor{}} }

// Record keeps x under name. Nothing is recorded on a nil trace, after an
// error in s, or for a nil x; a failure to record is s's error. Recording
// a name again replaces (and frees) the earlier tensor.
func (t *Trace) Record(s *Scope, name string, x *ts.Tensor) {
	if t == nil || s.Failed() || x == nil {
		return
	}
	c, err := x.ShallowClone()
	if err != nil {
		s.Fail(err)
		return
	}
	if old, ok := t.tensors[name]; ok {
		tensor.Drop(old)
	} else {
		t.names = append(t.names, name)
	}
	t.tensors[name] = c
}

// Get is the tensor recorded under name, or nil. The trace keeps owning it.
func (t *Trace) Get(name string) *ts.Tensor {
	if t == nil {
		return nil
	}
	return t.tensors[name]
}

// Names lists the recorded names in the order they were first recorded
// (the order of the forward: layer 0 before layer 1).
func (t *Trace) Names() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.names...)
}

// Under returns the tensors recorded under names that start with prefix, in
// recording order: Under("vit.encoder.") is the ViT's attention, layer by
// layer.
func (t *Trace) Under(prefix string) []*ts.Tensor {
	var out []*ts.Tensor
	for _, n := range t.Names() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, t.tensors[n])
		}
	}
	return out
}

// Drop frees every recorded tensor and empties the trace.
func (t *Trace) Drop() {
	if t == nil {
		return
	}
	tensor.DropMap(t.tensors)
	t.names, t.tensors = nil, map[string]*ts.Tensor{}
}

// Func is a forward written as a function of one tensor; it is a Module,
// so a scope can Apply it (a block's attention with its mask, say).
type Func func(x *ts.Tensor) (*ts.Tensor, error)

// Forward calls f.
func (f Func) Forward(x *ts.Tensor) (*ts.Tensor, error) { return f(x) }
