package baselines

import (
	"fmt"
	"sort"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/vbg"
)

// Arch describes one baseline architecture (a model.arch value).
type Arch struct {
	Name  string // model.arch
	Title string // name in tables, e.g. "ResNet-18"
	// Image and Text say which inputs it reads.
	Image, Text bool
	// Fitted baselines are fitted on fixed features (train.Run fits them);
	// the others are networks trained by the training loop.
	Fitted bool
	// MinSize is the smallest image side the network accepts without
	// upsampling (0 for text-only and fitted baselines).
	MinSize int
	build   func(r *registry, p *nn.Path, cfg *config.Config, vocab, classes int) (any, error)
}

// archs lists the baselines in the order of the paper's Table 3.
var archs = []Arch{
	{Name: "swin_t", Title: "Swin-T (SWIM-ViT)", Image: true, build: buildSwin},
	{Name: "resnet18", Title: "ResNet-18", Image: true, MinSize: 32, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newResNet(r, p, [4]int{2, 2, 2, 2}, false, int64(k)), nil
	}},
	{Name: "resnet50", Title: "ResNet-50", Image: true, MinSize: 32, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newResNet(r, p, [4]int{3, 4, 6, 3}, true, int64(k)), nil
	}},
	{Name: "densenet121", Title: "DenseNet-121", Image: true, MinSize: 32, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newDenseNet(r, p, 32, []int{6, 12, 24, 16}, 64, 4, int64(k)), nil
	}},
	{Name: "squeezenet", Title: "SqueezeNet 1.1", Image: true, MinSize: 32, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newSqueezeNet(r, p, int64(k)), nil
	}},
	{Name: "inception_v3", Title: "Inception-V3", Image: true, MinSize: 75, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newInceptionV3(r, p, int64(k)), nil
	}},
	{Name: "vgg16", Title: "VGG-16", Image: true, MinSize: 32, build: func(r *registry, p *nn.Path, _ *config.Config, _, k int) (any, error) {
		return newVGG16(r, p, int64(k)), nil
	}},
	{Name: "textcnn", Title: "TextCNN", Text: true, build: buildTextCNN},
	{Name: "gbdt", Title: "Gradient-boosted trees (XGBoost role)", Image: true, Text: true, Fitted: true},
	{Name: "logreg", Title: "Logistic regression", Image: true, Text: true, Fitted: true},
	{Name: "majority", Title: "Majority class", Fitted: true},
}

// Archs returns the baselines in table order.
func Archs() []Arch { return append([]Arch(nil), archs...) }

// Lookup returns the baseline named by model.arch.
func Lookup(name string) (Arch, bool) {
	for _, a := range archs {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// Network is a baseline network the training loop trains: an image CNN or
// transformer, or TextCNN.
type Network struct {
	Arch    Arch
	body    any // imageBody or textBody
	reg     *registry
	minSize int64
}

// NewNetwork builds the baseline named by cfg.Model.Arch at p for classes
// classes (vocab sizes TextCNN's embedding), with explicit initialisation,
// and copies cfg.Model.Baseline.Weights in when set.
func NewNetwork(p *nn.Path, cfg *config.Config, vocab, classes int) (*Network, error) {
	a, ok := Lookup(cfg.Model.Arch)
	if !ok || a.Fitted {
		return nil, fmt.Errorf("model.arch: %q is not a baseline network", cfg.Model.Arch)
	}
	if classes < 2 {
		return nil, fmt.Errorf("%s: need at least 2 classes, got %d", a.Name, classes)
	}
	r := newRegistry(p)
	body, err := a.build(r, p, cfg, vocab, classes)
	if err == nil {
		err = r.err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	n := &Network{Arch: a, body: body, reg: r, minSize: int64(a.MinSize)}
	if w := cfg.Model.Baseline.Weights; w != "" {
		if _, err := n.LoadWeightsFile(w); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// LoadWeightsFile copies a safetensors file with torchvision's names into
// the network (see LoadReport).
func (n *Network) LoadWeightsFile(path string) (*LoadReport, error) {
	f, err := pretrained.OpenSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("model.baseline.weights: %w", err)
	}
	defer f.Close()
	src := map[string]*ts.Tensor{}
	defer func() { tensor.DropMap(src) }()
	names := f.Names()
	sort.Strings(names)
	for _, name := range names {
		t, err := f.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("model.baseline.weights %s: %w", path, err)
		}
		src[name] = t
	}
	var rep *LoadReport
	err = tensor.NoGrad(func() (err error) {
		rep, err = n.reg.loadWeights(src)
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("model.baseline.weights %s: %w", path, err)
	}
	return rep, nil
}

// Parameters returns the network's tensors (parameters and buffers) by
// torchvision name; the tensors stay owned by the var store.
func (n *Network) Parameters() map[string]*ts.Tensor {
	out := make(map[string]*ts.Tensor, len(n.reg.tensors))
	for k, v := range n.reg.tensors {
		out[k] = v
	}
	return out
}

// Uses implements vbg.Network.
func (n *Network) Uses() (image, text bool) { return n.Arch.Image, n.Arch.Text }

// Loss implements vbg.Network: softmax cross-entropy.
func (n *Network) Loss(logits, labels, classWeights *ts.Tensor) (*ts.Tensor, error) {
	return crossEntropy(logits, labels, classWeights)
}

// Forward implements vbg.Network: logits [B, K], and as Fused the pooled
// features the classifier reads.
func (n *Network) Forward(in vbg.Inputs, train bool) (*vbg.Output, error) {
	s := newScope(n.Arch.Name)
	var logits, feats *ts.Tensor
	switch b := n.body.(type) {
	case imageBody:
		if in.Pixels == nil {
			return nil, fmt.Errorf("%s: needs pixels", n.Arch.Name)
		}
		x := in.Pixels
		if n.minSize > 0 {
			x = s.atLeast(x, n.minSize)
		}
		logits, feats = b.forward(s, x, train)
	case textBody:
		if in.InputIDs == nil {
			return nil, fmt.Errorf("%s: needs input ids", n.Arch.Name)
		}
		logits, feats = b.forward(s, in.InputIDs, in.AttentionMask, train)
	default:
		return nil, fmt.Errorf("%s: unknown body %T", n.Arch.Name, n.body)
	}
	if err := s.KeepAll(logits, feats); err != nil {
		return nil, err
	}
	if feats == logits {
		feats = nil
	}
	return &vbg.Output{Logits: logits, Fused: feats}, nil
}
