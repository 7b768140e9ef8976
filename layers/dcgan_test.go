package layers

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

func tensorOf(t *testing.T, vals []float32, shape ...int64) *ts.Tensor {
	t.Helper()
	x, err := ts.NewTensorFromData(vals, shape)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestConvTranspose2dShapes(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tests := []struct {
		name                    string
		in, out, k, stride, pad int64
		inShape                 []int64
		wantWeight, wantOut     []int64
	}{
		{"doubles 4->8, in != out", 8, 3, 4, 2, 1, []int64{2, 8, 4, 4}, []int64{8, 3, 4, 4}, []int64{2, 3, 8, 8}},
		{"doubles 16->32", 4, 16, 4, 2, 1, []int64{1, 4, 16, 16}, []int64{4, 16, 4, 4}, []int64{1, 16, 32, 32}},
		{"1x1 -> 4x4 (DCGAN first layer)", 5, 2, 4, 1, 0, []int64{3, 5, 1, 1}, []int64{5, 2, 4, 4}, []int64{3, 2, 4, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			vs := nn.NewVarStore(gotch.CPU)
			c, err := NewConvTranspose2d(vs.Root().Sub("up"), tc.in, tc.out, tc.k, tc.stride, tc.pad, true, DCGANWeightInit)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Weight.MustSize(); !sameShape(got, tc.wantWeight) {
				t.Fatalf("weight %v, want %v", got, tc.wantWeight)
			}
			x, err := ts.Randn(tc.inShape, gotch.Float, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Drop()
			y, err := c.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Drop()
			if got := y.MustSize(); !sameShape(got, tc.wantOut) {
				t.Fatalf("output %v, want %v", got, tc.wantOut)
			}
		})
	}
}

func sameShape(a, b []int64) bool {
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

// TestConvTranspose2dValues checks one hand-computed case: a 1x1 input of
// value 2 through a 2x2 kernel, stride 1, gives 2·kernel (+ bias).
func TestConvTranspose2dValues(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	c, err := NewConvTranspose2d(vs.Root(), 1, 2, 2, 1, 0, true, DCGANWeightInit)
	if err != nil {
		t.Fatal(err)
	}
	w := tensorOf(t, []float32{1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 2, 2)
	defer w.Drop()
	b := tensorOf(t, []float32{0.5, -1}, 2)
	defer b.Drop()
	ts.NoGrad(func() {
		c.Weight.Copy_(w)
		c.Bias.Copy_(b)
	})
	x := tensorOf(t, []float32{2}, 1, 1, 1, 1)
	defer x.Drop()
	y, err := c.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Drop()
	want := []float64{2.5, 4.5, 6.5, 8.5, 9, 11, 13, 15}
	for i, v := range y.Float64Values() {
		if !near(v, want[i], 1e-5) {
			t.Fatalf("output %v, want %v", y.Float64Values(), want)
		}
	}
}

func TestBatchNorm2d(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	bn, err := NewBatchNorm2d(vs.Root().Sub("bn"), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(vs.TrainableVariables()); n != 2 {
		t.Fatalf("%d trainable variables, want 2 (weight, bias; running stats are buffers)", n)
	}
	for _, k := range []string{"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"} {
		if _, ok := vs.Variables()[k]; !ok {
			t.Fatalf("var store lacks %s", k)
		}
	}
	// Channel 0 holds 1,2,3,4 and channel 1 holds 10,10,10,10 over a batch of 2 of 1x2.
	x := tensorOf(t, []float32{1, 2, 10, 10, 3, 4, 10, 10}, 2, 2, 1, 2)
	defer x.Drop()
	tests := []struct {
		name     string
		train    bool
		wantOut  []float64
		wantMean []float64
		wantVar  []float64
	}{
		// Batch stats: mean 2.5, var (biased) 1.25 -> (x-2.5)/sqrt(1.25+1e-5).
		// Running: mean 0.9·0+0.1·2.5, var 0.9·1+0.1·(unbiased 5/3).
		{"train", true, []float64{-1.3416, -0.4472, 0, 0, 0.4472, 1.3416, 0, 0},
			[]float64{0.25, 1}, []float64{0.9 + 0.1*5.0/3, 0.9}},
		// Eval uses the running stats just updated and leaves them alone.
		{"eval", false, []float64{
			(1 - 0.25) / math.Sqrt(0.9+0.5/3+1e-5), (2 - 0.25) / math.Sqrt(0.9+0.5/3+1e-5), (10 - 1) / math.Sqrt(0.9+1e-5), (10 - 1) / math.Sqrt(0.9+1e-5),
			(3 - 0.25) / math.Sqrt(0.9+0.5/3+1e-5), (4 - 0.25) / math.Sqrt(0.9+0.5/3+1e-5), (10 - 1) / math.Sqrt(0.9+1e-5), (10 - 1) / math.Sqrt(0.9+1e-5)},
			[]float64{0.25, 1}, []float64{0.9 + 0.1*5.0/3, 0.9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			y, err := bn.Forward(x, tc.train)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Drop()
			for i, v := range y.Float64Values() {
				if !near(v, tc.wantOut[i], 1e-3) {
					t.Fatalf("output %v, want %v", y.Float64Values(), tc.wantOut)
				}
			}
			for i, v := range bn.RunningMean.Float64Values() {
				if !near(v, tc.wantMean[i], 1e-5) {
					t.Fatalf("running mean %v, want %v", bn.RunningMean.Float64Values(), tc.wantMean)
				}
			}
			for i, v := range bn.RunningVar.Float64Values() {
				if !near(v, tc.wantVar[i], 1e-5) {
					t.Fatalf("running var %v, want %v", bn.RunningVar.Float64Values(), tc.wantVar)
				}
			}
		})
	}
}

// TestGramMatrix checks G = F·Fᵀ/(C·H·W) on a hand-computed case.
func TestGramMatrix(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tests := []struct {
		name  string
		vals  []float32
		shape []int64
		want  []float64
	}{
		// F = [[1,2],[3,4]] (C=2, H=1, W=2): F·Fᵀ = [[5,11],[11,25]], /4.
		{"2 channels 1x2", []float32{1, 2, 3, 4}, []int64{1, 2, 1, 2}, []float64{1.25, 2.75, 2.75, 6.25}},
		// One channel 2x2 of ones, batch of 2 with the second doubled: 4/4 and 16/4.
		{"batch of 2", []float32{1, 1, 1, 1, 2, 2, 2, 2}, []int64{2, 1, 2, 2}, []float64{1, 4}},
		// C=2, H=W=1: [[a², ab],[ab, b²]]/2 with a=1, b=-2.
		{"1x1 maps", []float32{1, -2}, []int64{1, 2, 1, 1}, []float64{0.5, -1, -1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			f := tensorOf(t, tc.vals, tc.shape...)
			defer f.Drop()
			g, err := GramMatrix(f)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Drop()
			got := g.Float64Values()
			if len(got) != len(tc.want) {
				t.Fatalf("gram %v, want %v", got, tc.want)
			}
			for i := range got {
				if !near(got[i], tc.want[i], 1e-6) {
					t.Fatalf("gram %v, want %v", got, tc.want)
				}
			}
		})
	}
	bad := tensorOf(t, []float32{1, 2}, 2)
	defer bad.Drop()
	if _, err := GramMatrix(bad); err == nil {
		t.Fatal("want an error for a 1-D input")
	}
}

func TestDCGANInit(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tests := []struct {
		name     string
		ini      Normal
		wantMean float64
		wantStd  float64
	}{
		{"weights N(0, 0.02)", DCGANWeightInit, 0, 0.02},
		{"batch-norm scale N(1, 0.02)", DCGANNormInit, 1, 0.02},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			x, err := ts.Zeros([]int64{200, 100}, gotch.Float, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Drop()
			if err := tc.ini.Reinit(x); err != nil {
				t.Fatal(err)
			}
			vals := x.Float64Values()
			var s, s2 float64
			for _, v := range vals {
				s += v
				s2 += v * v
			}
			n := float64(len(vals))
			mean := s / n
			std := math.Sqrt(s2/n - mean*mean)
			if !near(mean, tc.wantMean, 0.002) || !near(std, tc.wantStd, 0.002) {
				t.Fatalf("mean %.4f std %.4f, want %.4f and %.4f", mean, std, tc.wantMean, tc.wantStd)
			}
		})
	}
}

func TestLeakyReLU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := tensorOf(t, []float32{-2, -0.5, 0, 3}, 4)
	defer x.Drop()
	y, err := LeakyReLU(x, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Drop()
	want := []float64{-0.4, -0.1, 0, 3}
	for i, v := range y.Float64Values() {
		if !near(v, want[i], 1e-6) {
			t.Fatalf("leaky relu %v, want %v", y.Float64Values(), want)
		}
	}
	if _, err := LeakyReLU(x, 2); err == nil {
		t.Fatal("want an error for slope 2")
	}
}

// TestDCGANErrorsNameTheModule feeds each DCGAN block a tensor of the
// wrong shape: the error names the block's checkpoint path (or the
// function), nothing panics and no tensor is left behind.
func TestDCGANErrorsNameTheModule(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	vs := nn.NewVarStore(gotch.CPU)
	up, err := NewConvTranspose2d(vs.Root().Sub("g").Sub("up").Sub("1"), 4, 2, 4, 2, 1, false, DCGANWeightInit)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := NewBatchNorm2d(vs.Root().Sub("g").Sub("bn").Sub("0"), 4, DCGANNormInit)
	if err != nil {
		t.Fatal(err)
	}
	x := tensorOf(t, make([]float32, 2*3*4*4), 2, 3, 4, 4) // 3 channels where 4 are wanted
	defer tensor.Drop(x)
	flat := tensorOf(t, make([]float32, 6), 2, 3)
	defer tensor.Drop(flat)
	tests := []struct {
		name string
		run  func() (*ts.Tensor, error)
		want string
	}{
		{"transposed convolution", func() (*ts.Tensor, error) { return up.Forward(x) }, "g.up.1: conv transpose2d: "},
		{"batch norm", func() (*ts.Tensor, error) { return bn.Forward(x, true) }, "g.bn.0: batch norm: "},
		{"gram matrix of a 2-D tensor", func() (*ts.Tensor, error) { return GramMatrix(flat) }, "gram matrix: want a tensor of 4 dimensions"},
		{"leaky relu slope", func() (*ts.Tensor, error) { return LeakyReLU(x, 2) }, "leaky relu: slope 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			defer tensor.Settle()()
			before := tensor.Live()
			y, err := tc.run()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				tensor.Drop(y)
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
			if y != nil {
				t.Error("a result came back with the error")
			}
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
		})
	}
}
