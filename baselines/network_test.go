package baselines

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
	"github.com/sugarme/gotch/vision"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/optim"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/vbg"
)

// tinyConfig is a config for network tests: small Swin and TextCNN.
func tinyConfig(t *testing.T, arch string, imageSize int) *config.Config {
	t.Helper()
	c := config.Default()
	c.Model.Arch = arch
	c.Data.ImageSize = imageSize
	c.Model.Baseline.Swin = config.Swin{Patch: 2, Dim: 16, Depths: [4]int{2, 2, 2, 2}, Heads: [4]int{1, 2, 4, 8}, Window: 4, MLPRatio: 2, DropPath: 0.1}
	c.Model.Baseline.TextCNN = config.TextCNN{Embed: 16, Filters: 8, Kernels: [3]int{2, 3, 4}, Dropout: 0.1}
	return c
}

// fixedBatch is a deterministic batch: images whose mean colour depends on
// the class, and texts whose first word is the class.
func fixedBatch(t *testing.T, b, size, classes, vocab int) (vbg.Inputs, *ts.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	pix := make([]float32, b*3*size*size)
	labels := make([]int64, b)
	ids := make([]int64, b*3)
	mask := make([]int64, b*3)
	for i := 0; i < b; i++ {
		y := i % classes
		labels[i] = int64(y)
		for c := 0; c < 3; c++ {
			for j := 0; j < size*size; j++ {
				v := float32(r.NormFloat64() * 0.3)
				if c == y%3 {
					v += 1
				}
				pix[(i*3+c)*size*size+j] = v
			}
		}
		ids[i*3], ids[i*3+1], ids[i*3+2] = vbg.ClsID, int64(4+y%(vocab-4)), vbg.SepID
		mask[i*3], mask[i*3+1], mask[i*3+2] = 1, 1, 1
	}
	in := vbg.Inputs{
		Pixels:        ts.MustOfSlice(pix).MustView([]int64{int64(b), 3, int64(size), int64(size)}, true),
		InputIDs:      ts.MustOfSlice(ids).MustView([]int64{int64(b), 3}, true),
		AttentionMask: ts.MustOfSlice(mask).MustView([]int64{int64(b), 3}, true),
	}
	return in, ts.MustOfSlice(labels)
}

// TestBaselinesLearn trains every baseline network a few steps on a fixed
// tiny batch: the logits have shape [B, K] and the loss falls.
func TestBaselinesLearn(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.ManualSeed(1)
	const B, K, vocab = 6, 3, 10
	// Full-size networks (Swin and TextCNN at test sizes); few steps, as
	// VGG-16's 138M parameters make each Adam step slow on a CPU.
	cases := []struct {
		arch  string
		size  int
		steps int
		lr    float64
	}{
		{"resnet18", 32, 5, 1e-3},
		{"resnet50", 32, 5, 1e-3},
		{"densenet121", 32, 5, 1e-3},
		{"squeezenet", 32, 8, 1e-3},
		{"inception_v3", 32, 6, 1e-3},
		{"vgg16", 32, 8, 1e-4},
		{"swin_t", 16, 8, 1e-3},
		{"textcnn", 0, 8, 1e-2},
	}
	for _, tc := range cases {
		t.Run(tc.arch, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := time.Now()
			cfg := tinyConfig(t, tc.arch, max(tc.size, 16))
			vs := nn.NewVarStore(gotch.CPU)
			net, err := NewNetwork(vs.Root(), cfg, vocab, K)
			if err != nil {
				t.Fatal(err)
			}
			in, labels := fixedBatch(t, B, max(tc.size, 16), K, vocab)
			var params []optim.Param
			names := make([]string, 0)
			vars := vs.Variables()
			for n := range vars {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				v := vars[n]
				if v.MustRequiresGrad() {
					params = append(params, optim.Param{Name: n, Tensor: &v, LRMul: 1})
				}
			}
			opt, err := optim.New(params, optim.Defaults(0))
			if err != nil {
				t.Fatal(err)
			}
			var losses []float64
			for s := 0; s < tc.steps; s++ {
				out, err := net.Forward(in, true)
				if err != nil {
					t.Fatal(err)
				}
				if got := out.Logits.MustSize(); len(got) != 2 || got[0] != B || got[1] != K {
					t.Fatalf("logits %v, want [%d %d]", got, B, K)
				}
				loss, err := net.Loss(out.Logits, labels, nil)
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, loss.Float64Values()[0])
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				loss.MustDrop()
				out.Drop()
				if err := opt.Update(tc.lr); err != nil {
					t.Fatal(err)
				}
				if err := opt.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%s: loss %.3f -> %.3f in %d steps (%v)", tc.arch, losses[0], losses[len(losses)-1], tc.steps, time.Since(start).Round(time.Millisecond))
			if !(losses[len(losses)-1] < 0.9*losses[0]) {
				t.Errorf("loss did not fall: %v", losses)
			}
			// Eval mode works too (running statistics, no dropout).
			var out *vbg.Output
			ts.NoGrad(func() { out, err = net.Forward(in, false) })
			if err != nil {
				t.Fatal(err)
			}
			out.Drop()
		})
	}
}

// TestLoadWeights saves a network's tensors as safetensors with another
// class count and loads them into a fresh network: every tensor but the
// classifier is copied.
func TestLoadWeights(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cfg := tinyConfig(t, "resnet18", 32)
	vs := nn.NewVarStore(gotch.CPU)
	src, err := NewNetwork(vs.Root(), cfg, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]pretrained.RawTensor{}
	for n, v := range src.Parameters() {
		b, dt, shape, err := pretrained.TensorBytes(v)
		if err != nil {
			t.Fatal(err)
		}
		raw[n] = pretrained.RawTensor{DType: dt, Shape: shape, Data: b}
	}
	raw["layer1.0.bn1.num_batches_tracked"] = pretrained.RawTensor{DType: "I64", Shape: []int64{}, Data: make([]byte, 8)}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := pretrained.WriteSafetensorsRaw(path, raw, nil); err != nil {
		t.Fatal(err)
	}
	vs2 := nn.NewVarStore(gotch.CPU)
	dst, err := NewNetwork(vs2.Root(), cfg, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dst.LoadWeightsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 2 || !strings.HasPrefix(rep.Skipped[0], "fc.") || len(rep.Unused) != 0 {
		t.Errorf("report %+v: want fc.bias and fc.weight skipped, nothing unused", rep)
	}
	a, b := src.Parameters()["layer2.0.conv1.weight"], dst.Parameters()["layer2.0.conv1.weight"]
	if !a.MustEqual(b, false) {
		t.Error("layer2.0.conv1.weight was not copied")
	}
	if rep.Loaded != len(dst.Parameters())-2 {
		t.Errorf("loaded %d of %d tensors", rep.Loaded, len(dst.Parameters()))
	}
}

// TestNamesMatchGotchVision builds each network next to gotch's vision
// package version (which follows torchvision's names) and compares every
// parameter name and shape, so torchvision checkpoints that load into one
// load into the other. ResNet-50 is left out: gotch's bottleneck convs have
// biases that torchvision's lack.
func TestNamesMatchGotchVision(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cases := []struct {
		arch  string
		gotch func(p *nn.Path)
	}{
		{"resnet18", func(p *nn.Path) { vision.ResNet18(p, 7) }},
		{"densenet121", func(p *nn.Path) { vision.DenseNet121(p, 7) }},
		{"squeezenet", func(p *nn.Path) { vision.SqueezeNetV1_1(p, 7) }},
		{"vgg16", func(p *nn.Path) { vision.VGG16(p, 7) }},
	}
	for _, c := range cases {
		cfg := tinyConfig(t, c.arch, 32)
		vs := nn.NewVarStore(gotch.CPU)
		net, err := NewNetwork(vs.Root(), cfg, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		ref := nn.NewVarStore(gotch.CPU)
		c.gotch(ref.Root())
		want := map[string]string{}
		for n, v := range ref.Variables() {
			want[n] = fmt.Sprint(v.MustSize())
		}
		got := map[string]string{}
		for n, v := range net.Parameters() {
			got[n] = fmt.Sprint(v.MustSize())
		}
		for n, s := range want {
			if got[n] != s {
				t.Errorf("%s: %s is %q here, %s in gotch's vision", c.arch, n, got[n], s)
			}
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				t.Errorf("%s: %s is not in gotch's vision", c.arch, n)
			}
		}
	}
}

// TestForwardFailsMidway gives a block deep inside each kind of network a
// mis-shaped weight: Forward returns an error naming the network and the
// block's checkpoint path, nothing panics and no tensor is left behind.
func TestForwardFailsMidway(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const B, K, vocab = 2, 3, 10
	wrong := func(t *testing.T, shape ...int64) *ts.Tensor {
		x, err := ts.Zeros(shape, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		arch    string
		size    int
		breakIt func(t *testing.T, body any) *ts.Tensor // swaps in a bad weight, returns it
		want    string
	}{
		{"resnet18", 32, func(t *testing.T, body any) *ts.Tensor {
			c := body.(*resNet).layers[1][1].conv2
			c.w = wrong(t, 128, 7, 3, 3)
			return c.w
		}, "resnet18: layer2.1: "},
		{"densenet121", 32, func(t *testing.T, body any) *ts.Tensor {
			c := body.(*denseNet).blocks[2][3].conv1
			c.w = wrong(t, 128, 7, 1, 1)
			return c.w
		}, "densenet121: features.denseblock3: "},
		{"inception_v3", 32, func(t *testing.T, body any) *ts.Tensor {
			c := body.(*inceptionV3).blocks[4].convs["branch7x7_2"].conv
			c.w = wrong(t, 7, 7, 1, 7)
			return c.w
		}, "inception_v3: Mixed_6b: "},
		{"swin_t", 16, func(t *testing.T, body any) *ts.Tensor {
			l := body.(*swinT).stages[1][1].qkv
			l.w = wrong(t, 96, 7)
			return l.w
		}, "swin_t: features.3.1: attn: "},
		{"textcnn", 0, func(t *testing.T, body any) *ts.Tensor {
			l := body.(*textCNN).fc
			l.w = wrong(t, 3, 7)
			return l.w
		}, "textcnn: "},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cfg := tinyConfig(t, tc.arch, max(tc.size, 16))
			net, err := NewNetwork(nn.NewVarStore(gotch.CPU).Root(), cfg, vocab, K)
			if err != nil {
				t.Fatal(err)
			}
			in, labels := fixedBatch(t, B, max(tc.size, 16), K, vocab)
			defer tensor.Drop(in.Pixels, in.InputIDs, in.AttentionMask, labels)
			// A first pass fills Swin's cache of shifted-window masks.
			out, err := net.Forward(in, true)
			if err != nil {
				t.Fatal(err)
			}
			out.Drop()
			defer tensor.Drop(tc.breakIt(t, net.body))
			defer tensor.Settle()()
			before := tensor.Live()
			out, err = net.Forward(in, true)
			if err == nil {
				out.Drop()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
		})
	}
}
