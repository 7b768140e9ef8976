package baselines

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// The CNN baselines follow torchvision's definitions and parameter names
// (resnet18, resnet50, densenet121, squeezenet1_1, inception_v3, vgg16), so
// torchvision checkpoints converted to safetensors load by name. They are
// written here rather than taken from gotch's vision package because those
// use fixed 7×7 pooling (DenseNet) or a fixed 512·7·7 flatten (VGG) that
// fail below 224 px, call log.Fatal on any error, and leave intermediates to
// the garbage collector. Every network ends in adaptive pooling, so it runs
// at the experiment's image size; where valid convolutions need a minimum
// input (Inception-V3: 75 px), smaller images are upsampled bilinearly.

// imageBody is a CNN: forward returns logits [B, K] and the pooled features
// [B, D] the classifier reads, both recorded on s.
type imageBody interface {
	forward(s scope, x *ts.Tensor, train bool) (logits, feats *ts.Tensor)
}

// ---------------------------------------------------------------- ResNet

type resBlock struct {
	name                string // "layer2.1"
	conv1, conv2, conv3 *conv
	bn1, bn2, bn3       *batchNorm
	downConv            *conv
	downBN              *batchNorm
}

type resNet struct {
	conv1  *conv
	bn1    *batchNorm
	layers [4][]*resBlock
	fc     *linear
}

// newResNet builds torchvision's ResNet with basic blocks (bottleneck false,
// expansion 1) or bottleneck blocks (expansion 4, stride on the 3×3 conv).
func newResNet(r *registry, p *nn.Path, blocks [4]int, bottleneck bool, classes int64) *resNet {
	cv := func(p *nn.Path, in, out, k, s, pad int64) *conv {
		return r.conv(p, in, out, sq(k), sq(s), sq(pad), false, kaimingNormal([]int64{out, in, k, k}, true))
	}
	m := &resNet{conv1: cv(p.Sub("conv1"), 3, 64, 7, 2, 3), bn1: r.batchNorm(p.Sub("bn1"), 64, 1e-5)}
	expansion := int64(1)
	if bottleneck {
		expansion = 4
	}
	in := int64(64)
	for li := 0; li < 4; li++ {
		planes := int64(64) << li
		lp := p.Sub("layer" + strconv.Itoa(li+1))
		for bi := 0; bi < blocks[li]; bi++ {
			stride := int64(1)
			if bi == 0 && li > 0 {
				stride = 2
			}
			bp := lp.Sub(strconv.Itoa(bi))
			b := &resBlock{name: r.path(bp)}
			if bottleneck {
				b.conv1 = cv(bp.Sub("conv1"), in, planes, 1, 1, 0)
				b.bn1 = r.batchNorm(bp.Sub("bn1"), planes, 1e-5)
				b.conv2 = cv(bp.Sub("conv2"), planes, planes, 3, stride, 1)
				b.bn2 = r.batchNorm(bp.Sub("bn2"), planes, 1e-5)
				b.conv3 = cv(bp.Sub("conv3"), planes, planes*expansion, 1, 1, 0)
				b.bn3 = r.batchNorm(bp.Sub("bn3"), planes*expansion, 1e-5)
			} else {
				b.conv1 = cv(bp.Sub("conv1"), in, planes, 3, stride, 1)
				b.bn1 = r.batchNorm(bp.Sub("bn1"), planes, 1e-5)
				b.conv2 = cv(bp.Sub("conv2"), planes, planes, 3, 1, 1)
				b.bn2 = r.batchNorm(bp.Sub("bn2"), planes, 1e-5)
			}
			out := planes * expansion
			if stride != 1 || in != out {
				b.downConv = cv(bp.Sub("downsample").Sub("0"), in, out, 1, stride, 0)
				b.downBN = r.batchNorm(bp.Sub("downsample").Sub("1"), out, 1e-5)
			}
			m.layers[li] = append(m.layers[li], b)
			in = out
		}
	}
	m.fc = r.linear(p.Sub("fc"), 512*expansion, classes, true, nil, nil)
	r.head = []string{"fc"}
	return m
}

// forward is torchvision's BasicBlock or Bottleneck:
// relu(F(x) + shortcut(x)).
func (b *resBlock) forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := newScope(b.name)
	h := s.convBNReLU(b.conv1, b.bn1, x, train)
	if b.conv3 != nil {
		h = s.convBNReLU(b.conv2, b.bn2, h, train)
		h = s.bn(b.bn3, s.Apply(b.conv3, h), train)
	} else {
		h = s.bn(b.bn2, s.Apply(b.conv2, h), train)
	}
	short := x
	if b.downConv != nil {
		short = s.bn(b.downBN, s.Apply(b.downConv, x), train)
	}
	return s.Keep(s.Relu(s.Add(h, short)))
}

func (m *resNet) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := s.maxPool(s.convBNReLU(m.conv1, m.bn1, x, train), 3, 2, 1, false)
	for _, layer := range m.layers {
		for _, b := range layer {
			h = s.Do(func() (*ts.Tensor, error) { return b.forward(h, train) })
		}
	}
	feats := s.gap(h)
	return s.Apply(m.fc, feats), feats
}

// -------------------------------------------------------------- DenseNet

type denseLayer struct {
	norm1, norm2 *batchNorm
	conv1, conv2 *conv
}

type transition struct {
	norm *batchNorm
	conv *conv
}

type denseNet struct {
	blockNames  []string // "features.denseblock1", ...
	conv0       *conv
	norm0       *batchNorm
	blocks      [][]*denseLayer
	transitions []*transition
	norm5       *batchNorm
	classifier  *linear
}

// newDenseNet builds torchvision's DenseNet (growth k, blocks, initial
// features, bottleneck width bnSize·k).
func newDenseNet(r *registry, p *nn.Path, growth int64, blocks []int, initFeatures, bnSize, classes int64) *denseNet {
	fp := p.Sub("features")
	cv := func(p *nn.Path, in, out, k, s, pad int64) *conv {
		return r.conv(p, in, out, sq(k), sq(s), sq(pad), false, kaimingNormal([]int64{out, in, k, k}, false))
	}
	m := &denseNet{conv0: cv(fp.Sub("conv0"), 3, initFeatures, 7, 2, 3), norm0: r.batchNorm(fp.Sub("norm0"), initFeatures, 1e-5)}
	n := initFeatures
	for bi, layers := range blocks {
		bp := fp.Sub("denseblock" + strconv.Itoa(bi+1))
		var block []*denseLayer
		for li := 0; li < layers; li++ {
			lp := bp.Sub("denselayer" + strconv.Itoa(li+1))
			in := n + int64(li)*growth
			block = append(block, &denseLayer{
				norm1: r.batchNorm(lp.Sub("norm1"), in, 1e-5),
				conv1: cv(lp.Sub("conv1"), in, bnSize*growth, 1, 1, 0),
				norm2: r.batchNorm(lp.Sub("norm2"), bnSize*growth, 1e-5),
				conv2: cv(lp.Sub("conv2"), bnSize*growth, growth, 3, 1, 1),
			})
		}
		m.blocks = append(m.blocks, block)
		m.blockNames = append(m.blockNames, r.path(bp))
		n += int64(layers) * growth
		if bi != len(blocks)-1 {
			tp := fp.Sub("transition" + strconv.Itoa(bi+1))
			m.transitions = append(m.transitions, &transition{norm: r.batchNorm(tp.Sub("norm"), n, 1e-5), conv: cv(tp.Sub("conv"), n, n/2, 1, 1, 0)})
			n /= 2
		}
	}
	m.norm5 = r.batchNorm(fp.Sub("norm5"), n, 1e-5)
	m.classifier = r.linear(p.Sub("classifier"), n, classes, true, nil, constInit(0))
	r.head = []string{"classifier"}
	return m
}

// denseBlockForward is a dense block: each layer sees the concatenation of
// all earlier feature maps.
func denseBlockForward(name string, block []*denseLayer, x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := newScope(name)
	feats := []*ts.Tensor{x}
	for _, l := range block {
		in := x
		if len(feats) > 1 {
			in = s.Cat(1, feats...)
		}
		h := s.Apply(l.conv2, s.Relu(s.bn(l.norm2, s.Apply(l.conv1, s.Relu(s.bn(l.norm1, in, train))), train)))
		feats = append(feats, h)
	}
	return s.Keep(s.Cat(1, feats...))
}

func (m *denseNet) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := s.maxPool(s.convBNReLU(m.conv0, m.norm0, x, train), 3, 2, 1, false)
	for i, block := range m.blocks {
		h = s.Do(func() (*ts.Tensor, error) { return denseBlockForward(m.blockNames[i], block, h, train) })
		if i < len(m.transitions) {
			tr := m.transitions[i]
			h = s.avgPool(s.Apply(tr.conv, s.Relu(s.bn(tr.norm, h, train))), 2, 2, 0)
		}
	}
	feats := s.gap(s.Relu(s.bn(m.norm5, h, train)))
	return s.Apply(m.classifier, feats), feats
}

// ------------------------------------------------------------ SqueezeNet

type fire struct{ squeeze, expand1, expand3 *conv }

type squeezeNet struct {
	conv0     *conv
	layers    []any // *fire, or "pool"
	finalConv *conv
}

// newSqueezeNet builds torchvision's squeezenet1_1.
func newSqueezeNet(r *registry, p *nn.Path, classes int64) *squeezeNet {
	fp := p.Sub("features")
	ku := func(in, k int64) initFn { return uniformInit(math.Sqrt(6 / float64(in*k*k))) }
	m := &squeezeNet{conv0: r.conv(fp.Sub("0"), 3, 64, sq(3), sq(2), sq(0), true, ku(3, 3))}
	fires := []struct {
		idx            int
		in, sq, e1, e3 int64
		poolBefore     bool
	}{
		{3, 64, 16, 64, 64, true}, {4, 128, 16, 64, 64, false},
		{6, 128, 32, 128, 128, true}, {7, 256, 32, 128, 128, false},
		{9, 256, 48, 192, 192, true}, {10, 384, 48, 192, 192, false},
		{11, 384, 64, 256, 256, false}, {12, 512, 64, 256, 256, false},
	}
	for _, f := range fires {
		if f.poolBefore {
			m.layers = append(m.layers, "pool")
		}
		fp := fp.Sub(strconv.Itoa(f.idx))
		m.layers = append(m.layers, &fire{
			squeeze: r.conv(fp.Sub("squeeze"), f.in, f.sq, sq(1), sq(1), sq(0), true, ku(f.in, 1)),
			expand1: r.conv(fp.Sub("expand1x1"), f.sq, f.e1, sq(1), sq(1), sq(0), true, ku(f.sq, 1)),
			expand3: r.conv(fp.Sub("expand3x3"), f.sq, f.e3, sq(3), sq(1), sq(1), true, ku(f.sq, 3)),
		})
	}
	m.finalConv = r.conv(p.Sub("classifier").Sub("1"), 512, classes, sq(1), sq(1), sq(0), true, normalInit(0.01))
	r.head = []string{"classifier.1"}
	return m
}

func (m *squeezeNet) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := s.Relu(s.Apply(m.conv0, x))
	for _, l := range m.layers {
		switch l := l.(type) {
		case string:
			h = s.maxPool(h, 3, 2, 0, true)
		case *fire:
			sqz := s.Relu(s.Apply(l.squeeze, h))
			h = s.Cat(1, s.Relu(s.Apply(l.expand1, sqz)), s.Relu(s.Apply(l.expand3, sqz)))
		}
	}
	feats := s.gap(h)
	// classifier: dropout, final 1×1 conv, ReLU, global average pooling.
	logits := s.gap(s.Relu(s.Apply(m.finalConv, s.Dropout(h, 0.5, train))))
	return logits, feats
}

// ----------------------------------------------------------- Inception-V3

// basicConv is Inception's conv (no bias) + BatchNorm (eps 0.001) + ReLU.
type basicConv struct {
	conv *conv
	bn   *batchNorm
}

func (r *registry) basicConv(p *nn.Path, in, out int64, k, s, pad []int64) *basicConv {
	return &basicConv{conv: r.conv(p.Sub("conv"), in, out, k, s, pad, false, truncNormalInit(0.1)), bn: r.batchNorm(p.Sub("bn"), out, 0.001)}
}

// bc is Inception's conv + batch norm + ReLU.
func (s scope) bc(c *basicConv, x *ts.Tensor, train bool) *ts.Tensor {
	return s.convBNReLU(c.conv, c.bn, x, train)
}

// inceptionBlock is one Mixed_* block: named branches of basicConvs applied
// in sequence, optional pooling branches, concatenated on channels.
type inceptionBlock struct {
	name     string // "Mixed_5b"
	kind     byte   // 'A'..'E'
	convs    map[string]*basicConv
	channels int64 // output channels
}

type inceptionV3 struct {
	stem   []*basicConv // Conv2d_1a .. Conv2d_4a
	blocks []*inceptionBlock
	fc     *linear
}

// newInceptionV3 builds torchvision's inception_v3 without the auxiliary
// classifier (it needs 17×17 maps, far above what small inputs give;
// AuxLogits.* in a checkpoint are ignored).
func newInceptionV3(r *registry, p *nn.Path, classes int64) *inceptionV3 {
	m := &inceptionV3{}
	k := func(h, w int64) []int64 { return []int64{h, w} }
	for _, s := range []struct {
		name        string
		in, out, kk int64
		stride, pad int64
	}{
		{"Conv2d_1a_3x3", 3, 32, 3, 2, 0}, {"Conv2d_2a_3x3", 32, 32, 3, 1, 0}, {"Conv2d_2b_3x3", 32, 64, 3, 1, 1},
		{"Conv2d_3b_1x1", 64, 80, 1, 1, 0}, {"Conv2d_4a_3x3", 80, 192, 3, 1, 0},
	} {
		m.stem = append(m.stem, r.basicConv(p.Sub(s.name), s.in, s.out, sq(s.kk), sq(s.stride), sq(s.pad)))
	}
	type cspec struct {
		name    string
		in, out int64
		kh, kw  int64
		stride  int64
		ph, pw  int64
	}
	add := func(name string, kind byte, out int64, specs []cspec) {
		bp := p.Sub(name)
		b := &inceptionBlock{name: r.path(bp), kind: kind, convs: map[string]*basicConv{}, channels: out}
		for _, s := range specs {
			b.convs[s.name] = r.basicConv(bp.Sub(s.name), s.in, s.out, k(s.kh, s.kw), sq(s.stride), k(s.ph, s.pw))
		}
		m.blocks = append(m.blocks, b)
	}
	blockA := func(name string, in, pool int64) {
		add(name, 'A', 64+64+96+pool, []cspec{
			{"branch1x1", in, 64, 1, 1, 1, 0, 0},
			{"branch5x5_1", in, 48, 1, 1, 1, 0, 0}, {"branch5x5_2", 48, 64, 5, 5, 1, 2, 2},
			{"branch3x3dbl_1", in, 64, 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1}, {"branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1},
			{"branch_pool", in, pool, 1, 1, 1, 0, 0},
		})
	}
	blockC := func(name string, c7 int64) {
		add(name, 'C', 768, []cspec{
			{"branch1x1", 768, 192, 1, 1, 1, 0, 0},
			{"branch7x7_1", 768, c7, 1, 1, 1, 0, 0}, {"branch7x7_2", c7, c7, 1, 7, 1, 0, 3}, {"branch7x7_3", c7, 192, 7, 1, 1, 3, 0},
			{"branch7x7dbl_1", 768, c7, 1, 1, 1, 0, 0}, {"branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0}, {"branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3},
			{"branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0}, {"branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3},
			{"branch_pool", 768, 192, 1, 1, 1, 0, 0},
		})
	}
	blockE := func(name string, in int64) {
		add(name, 'E', 2048, []cspec{
			{"branch1x1", in, 320, 1, 1, 1, 0, 0},
			{"branch3x3_1", in, 384, 1, 1, 1, 0, 0}, {"branch3x3_2a", 384, 384, 1, 3, 1, 0, 1}, {"branch3x3_2b", 384, 384, 3, 1, 1, 1, 0},
			{"branch3x3dbl_1", in, 448, 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1},
			{"branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1}, {"branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0},
			{"branch_pool", in, 192, 1, 1, 1, 0, 0},
		})
	}
	blockA("Mixed_5b", 192, 32)
	blockA("Mixed_5c", 256, 64)
	blockA("Mixed_5d", 288, 64)
	add("Mixed_6a", 'B', 768, []cspec{
		{"branch3x3", 288, 384, 3, 3, 2, 0, 0},
		{"branch3x3dbl_1", 288, 64, 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1}, {"branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0},
	})
	blockC("Mixed_6b", 128)
	blockC("Mixed_6c", 160)
	blockC("Mixed_6d", 160)
	blockC("Mixed_6e", 192)
	add("Mixed_7a", 'D', 1280, []cspec{
		{"branch3x3_1", 768, 192, 1, 1, 1, 0, 0}, {"branch3x3_2", 192, 320, 3, 3, 2, 0, 0},
		{"branch7x7x3_1", 768, 192, 1, 1, 1, 0, 0}, {"branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3},
		{"branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0}, {"branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0},
	})
	blockE("Mixed_7b", 1280)
	blockE("Mixed_7c", 2048)
	m.fc = r.linear(p.Sub("fc"), 2048, classes, true, truncNormalInit(0.1), nil)
	r.head = []string{"fc"}
	return m
}

// forward of one Mixed block.
func (b *inceptionBlock) forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := newScope(b.name)
	c := func(name string, x *ts.Tensor) *ts.Tensor { return s.bc(b.convs[name], x, train) }
	chain := func(x *ts.Tensor, names ...string) *ts.Tensor {
		for _, n := range names {
			x = c(n, x)
		}
		return x
	}
	pool := func() *ts.Tensor { return c("branch_pool", s.avgPool(x, 3, 1, 1)) }
	var out *ts.Tensor
	switch b.kind {
	case 'A':
		out = s.Cat(1, c("branch1x1", x), chain(x, "branch5x5_1", "branch5x5_2"),
			chain(x, "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"), pool())
	case 'B':
		out = s.Cat(1, c("branch3x3", x), chain(x, "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"), s.maxPool(x, 3, 2, 0, false))
	case 'C':
		out = s.Cat(1, c("branch1x1", x), chain(x, "branch7x7_1", "branch7x7_2", "branch7x7_3"),
			chain(x, "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"), pool())
	case 'D':
		out = s.Cat(1, chain(x, "branch3x3_1", "branch3x3_2"),
			chain(x, "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"), s.maxPool(x, 3, 2, 0, false))
	case 'E':
		b3 := c("branch3x3_1", x)
		d3 := chain(x, "branch3x3dbl_1", "branch3x3dbl_2")
		out = s.Cat(1, c("branch1x1", x),
			c("branch3x3_2a", b3), c("branch3x3_2b", b3),
			c("branch3x3dbl_3a", d3), c("branch3x3dbl_3b", d3), pool())
	default:
		return nil, fmt.Errorf("inception: unknown block kind %c", b.kind)
	}
	return s.Keep(out)
}

func (m *inceptionV3) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := s.bc(m.stem[0], x, train)
	h = s.bc(m.stem[1], h, train)
	h = s.maxPool(s.bc(m.stem[2], h, train), 3, 2, 0, false)
	h = s.bc(m.stem[3], h, train)
	h = s.maxPool(s.bc(m.stem[4], h, train), 3, 2, 0, false)
	for _, b := range m.blocks {
		h = s.Do(func() (*ts.Tensor, error) { return b.forward(h, train) })
	}
	feats := s.gap(h)
	return s.Apply(m.fc, s.Dropout(feats, 0.5, train)), feats
}

// ---------------------------------------------------------------- VGG-16

type vgg struct {
	convs []*conv // nil entries are max-pools
	fc    [3]*linear
}

// newVGG16 builds torchvision's vgg16 (configuration D, no BatchNorm).
func newVGG16(r *registry, p *nn.Path, classes int64) *vgg {
	fp := p.Sub("features")
	m := &vgg{}
	in := int64(3)
	idx := 0
	for _, stage := range [][]int64{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}} {
		for _, out := range stage {
			m.convs = append(m.convs, r.conv(fp.Sub(strconv.Itoa(idx)), in, out, sq(3), sq(1), sq(1), true, kaimingNormal([]int64{out, in, 3, 3}, true)))
			in = out
			idx += 2 // conv, ReLU
		}
		m.convs = append(m.convs, nil)
		idx++ // MaxPool
	}
	cp := p.Sub("classifier")
	m.fc[0] = r.linear(cp.Sub("0"), 512*7*7, 4096, true, normalInit(0.01), constInit(0))
	m.fc[1] = r.linear(cp.Sub("3"), 4096, 4096, true, normalInit(0.01), constInit(0))
	m.fc[2] = r.linear(cp.Sub("6"), 4096, classes, true, normalInit(0.01), constInit(0))
	r.head = []string{"classifier.6"}
	return m
}

func (m *vgg) forward(s scope, x *ts.Tensor, train bool) (*ts.Tensor, *ts.Tensor) {
	h := x
	for _, c := range m.convs {
		if c == nil {
			h = s.maxPool(h, 2, 2, 0, false)
		} else {
			h = s.Relu(s.Apply(c, h))
		}
	}
	// torchvision's AdaptiveAvgPool2d((7, 7)): below 224 px it repeats the
	// small map, so the 512·7·7 classifier keeps its shape.
	h = s.Flatten(s.adaptiveAvg(h, 7, 7), 1, -1)
	h = s.Dropout(s.Relu(s.Apply(m.fc[0], h)), 0.5, train)
	feats := s.Dropout(s.Relu(s.Apply(m.fc[1], h)), 0.5, train)
	return s.Apply(m.fc[2], feats), feats
}
