package gan

import (
	"image/png"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
	"github.com/vbg-museum/vbg/tensor"
)

func tensorOf(t testing.TB, vals []float32, shape ...int64) *ts.Tensor {
	t.Helper()
	x, err := ts.NewTensorFromData(vals, shape)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func sameShape(a, b []int64) bool { return slices.Equal(a, b) }

func TestGeneratorDiscriminatorShapes(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tests := []struct {
		name  string
		size  int64
		attrs int64
	}{
		{"32 px with attributes", 32, 5},
		{"64 px with attributes", 64, 5},
		{"128 px without attributes", 128, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			mc := ModelConfig{ImageSize: tc.size, NoiseDim: 8, EmbedDim: 4, GenChannels: 4, DiscChannels: 4, Classes: 3, Attributes: tc.attrs}
			vs := nn.NewVarStore(gotch.CPU)
			g, err := NewGenerator(vs.Root().Sub("g"), mc)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDiscriminator(vs.Root().Sub("d"), mc)
			if err != nil {
				t.Fatal(err)
			}
			// Transposed convolutions have libtorch's [in, out, k, k] layout.
			for i, want := range [][]int64{{32, 16, 4, 4}, {16, 8, 4, 4}, {8, 4, 4, 4}, {4, 3, 4, 4}} {
				if got := g.Up[i].Weight.MustSize(); !sameShape(got, want) {
					t.Errorf("up.%d weight %v, want %v", i, got, want)
				}
			}
			const b = 3
			z, err := ts.Randn([]int64{b, 8}, gotch.Float, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer z.Drop()
			cls := []int64{0, 2, 1}
			lab, _ := ts.NewTensorFromData(cls, []int64{b})
			defer lab.Drop()
			for _, mode := range []Mode{Train, Eval} {
				x, err := g.Forward(z, lab, mode)
				if err != nil {
					t.Fatal(err)
				}
				if got := x.MustSize(); !sameShape(got, []int64{b, 3, tc.size, tc.size}) {
					t.Fatalf("G output %v, want [%d 3 %d %d]", got, b, tc.size, tc.size)
				}
				for _, v := range x.Float64Values() {
					if v < -1 || v > 1 {
						t.Fatalf("G output %v outside tanh's [-1, 1]", v)
					}
				}
				out, err := d.Forward(x, mode)
				x.Drop()
				if err != nil {
					t.Fatal(err)
				}
				if got := out.Logit.MustSize(); !sameShape(got, []int64{b}) {
					t.Errorf("D logit %v, want [%d]", got, b)
				}
				if got := out.ClassLogits.MustSize(); !sameShape(got, []int64{b, 3}) {
					t.Errorf("D class logits %v, want [%d 3]", got, b)
				}
				if tc.attrs == 0 {
					if out.AttrLogits != nil {
						t.Errorf("D attribute logits without attributes")
					}
				} else if got := out.AttrLogits.MustSize(); !sameShape(got, []int64{b, tc.attrs}) {
					t.Errorf("D attribute logits %v, want [%d %d]", got, b, tc.attrs)
				}
				out.Drop()
			}
		})
	}
	if _, err := NewGenerator(nn.NewVarStore(gotch.CPU).Root(), ModelConfig{ImageSize: 48, NoiseDim: 1, EmbedDim: 1, GenChannels: 1, DiscChannels: 1, Classes: 1}); err == nil {
		t.Error("want an error for image size 48")
	}
}

func scalarOf(t *testing.T, x *ts.Tensor, err error) float64 {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	return x.Float64Values()[0]
}

func TestLosses(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ln2 := math.Log(2)
	sp := func(x float64) float64 { return math.Log1p(math.Exp(x)) }
	real := tensorOf(t, []float32{0, 2}, 2)
	fake := tensorOf(t, []float32{0, -1}, 2)
	g1a := tensorOf(t, []float32{1, 3}, 2, 1, 1) // two 1×1 Gram matrices
	t1a := tensorOf(t, []float32{0, 1}, 2, 1, 1)
	g2 := tensorOf(t, []float32{1, 0, 0, 1, 2, 2, 2, 2}, 2, 2, 2)
	t2 := tensorOf(t, []float32{0, 0, 0, 0, 2, 2, 2, 0}, 2, 2, 2)
	w := tensorOf(t, []float32{1, 0}, 2)
	clsLogits := tensorOf(t, []float32{0, 0, 3, 1}, 2, 2)
	cls, _ := ts.NewTensorFromData([]int64{1, 0}, []int64{2})
	attrLogits := tensorOf(t, []float32{0, 0, 0, 0}, 2, 2)
	attrTargets := tensorOf(t, []float32{1, 0, 0.5, 0.5}, 2, 2)
	defer func() { tensor.Drop(real, fake, g1a, t1a, g2, t2, w, clsLogits, cls, attrLogits, attrTargets) }()
	ce := (ln2 + (math.Log(math.Exp(3)+math.Exp(1)) - 3)) / 2
	tests := []struct {
		name string
		f    func() (*ts.Tensor, error)
		want float64
	}{
		{"D: -log D(x) - log(1-D(G(z)))", func() (*ts.Tensor, error) { return DiscriminatorLoss(real, fake) },
			(sp(0)+sp(-2))/2 + (sp(0)+sp(-1))/2},
		{"G minimax: log(1-D(G(z)))", func() (*ts.Tensor, error) { return GeneratorLoss(fake, false) }, -(sp(0) + sp(-1)) / 2},
		{"G non-saturating: -log D(G(z))", func() (*ts.Tensor, error) { return GeneratorLoss(fake, true) }, (sp(0) + sp(1)) / 2},
		// ‖1-0‖² and ‖3-1‖² = 1 and 4.
		{"style, one layer, all weighted", func() (*ts.Tensor, error) { return StyleLoss([]*ts.Tensor{g1a}, []*ts.Tensor{t1a}, nil) }, 2.5},
		{"style, second sample has no texture", func() (*ts.Tensor, error) { return StyleLoss([]*ts.Tensor{g1a}, []*ts.Tensor{t1a}, w) }, 1},
		// Layer 2: sample 0 ‖I‖² = 2, sample 1 (0,0,0,2)² = 4 -> mean 3; plus layer 1's 2.5.
		{"style, two layers", func() (*ts.Tensor, error) {
			return StyleLoss([]*ts.Tensor{g1a, g2}, []*ts.Tensor{t1a, t2}, nil)
		}, 5.5},
		{"attribute: class CE only", func() (*ts.Tensor, error) { return AttributeLoss(clsLogits, nil, cls, nil, 1) }, ce},
		// BCE with logit 0 is ln 2 for any target.
		{"attribute: CE + BCE", func() (*ts.Tensor, error) { return AttributeLoss(clsLogits, attrLogits, cls, attrTargets, 1) }, ce + ln2},
		{"attribute: class weight 2", func() (*ts.Tensor, error) { return AttributeLoss(clsLogits, attrLogits, cls, attrTargets, 2) }, 2*ce + ln2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			x, err := tc.f()
			if got := scalarOf(t, x, err); math.Abs(got-tc.want) > 1e-5 {
				t.Fatalf("got %.6f, want %.6f", got, tc.want)
			}
		})
	}
	if _, err := StyleLoss([]*ts.Tensor{g1a}, nil, nil); err == nil {
		t.Error("style loss: want an error for mismatched layers")
	}
}

// ceramics is a small corpus in the paper's spirit.
func ceramics() (texts [][]string, labels []int, classes []string) {
	classes = []string{"Song dynasty Ru kiln", "Ming blue-and-white", "Shang bronze"}
	corpus := map[int][]string{
		0: {"Song dynasty Ru kiln celadon bowl with crackled glaze", "Ru kiln celadon dish, Song dynasty",
			"crackled celadon glaze washer from the Ru kiln", "sky-blue celadon brush washer, Ru kiln",
			"Ru kiln narcissus basin with crackled glaze"},
		1: {"Ming dynasty blue-and-white porcelain vase with cobalt dragons", "blue-and-white jar, cobalt underglaze, Ming dynasty",
			"blue-and-white porcelain dish with lotus scroll", "Ming blue-and-white porcelain ewer, cobalt underglaze",
			"lotus scroll meiping vase in blue-and-white porcelain"},
		2: {"Shang dynasty bronze ritual vessel with taotie pattern", "bronze ding cauldron, taotie pattern, Shang dynasty",
			"ritual bronze wine vessel with taotie mask", "Shang bronze gu with thunder pattern",
			"bronze ritual ding with inscription"},
	}
	for c := 0; c < 3; c++ {
		for _, s := range corpus[c] {
			texts = append(texts, []string{s})
			labels = append(labels, c)
			// A duplicate record with the same text (another photo of the object)
			// must not count twice.
			texts = append(texts, []string{s})
			labels = append(labels, c)
		}
	}
	return texts, labels, classes
}

func TestAttributeTable(t *testing.T) {
	texts, labels, classes := ceramics()
	opts := testMineOptions()
	tab, err := MineAttributes(texts, labels, classes, opts)
	if err != nil {
		t.Fatal(err)
	}
	phrases := func(c int) []string {
		var out []string
		for _, a := range tab.Attrs[c] {
			out = append(out, a.Phrase)
		}
		return out
	}
	t.Logf("table: %q / %q / %q", phrases(0), phrases(1), phrases(2))
	tests := []struct {
		class         int
		want, wantNot []string
	}{
		{0, []string{"celadon"}, []string{"blue-and-white", "dynasty", "bronze", "with"}},
		{1, []string{"blue-and-white"}, []string{"celadon", "dynasty", "the"}},
		{2, []string{"bronze"}, []string{"dynasty", "blue-and-white"}},
	}
	for _, tc := range tests {
		got := phrases(tc.class)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("class %q: attributes %q lack %q", classes[tc.class], got, w)
			}
		}
		for _, w := range tc.wantNot {
			if slices.Contains(got, w) {
				t.Errorf("class %q: attributes %q contain %q", classes[tc.class], got, w)
			}
		}
	}
	// Counts are per distinct text: "celadon" is in 4 of Ru's 5 texts.
	for _, a := range tab.Attrs[0] {
		if a.Phrase == "celadon" && (a.Count != 4 || math.Abs(a.Share-0.8) > 1e-9 || a.Specificity != 1) {
			t.Errorf("celadon: %+v, want count 4, share 0.8, specificity 1", a)
		}
	}
	if got := tab.Foreign(0, "a blue-and-white celadon bowl"); !slices.Equal(got, []string{"blue-and-white"}) {
		t.Errorf("Foreign = %q, want [blue-and-white]", got)
	}
	if got := tab.Targets([]string{"crackled celadon glaze"}); slices.Index(tab.Vocab, "celadon") < 0 || got[slices.Index(tab.Vocab, "celadon")] != 1 {
		t.Errorf("Targets: %v over %q", got, tab.Vocab)
	}
	if p := tab.Prior(1); p[slices.Index(tab.Vocab, "blue-and-white")] != 1 || p[slices.Index(tab.Vocab, "celadon")] != 0 {
		t.Errorf("Prior(1) = %v over %q", p, tab.Vocab)
	}
}

// TestGeneratedTextsStayInClass draws many texts per class, from mined
// and from partly given tables, and checks that none contains an
// attribute phrase of another class.
func TestGeneratedTextsStayInClass(t *testing.T) {
	texts, labels, classes := ceramics()
	templates := testTemplates()
	tests := []struct {
		name  string
		given map[string][]string
		tpls  []string
	}{
		{"mined, default templates", nil, templates},
		{"given for one class", map[string][]string{"Ming blue-and-white": {"cobalt blue", "underglaze painting"}}, templates},
		{"adjacent placeholders", nil, []string{"{1}", "{1} {2} {3}", "{3} {2} {1}"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			o := testMineOptions()
			o.Given, o.Reserved = tc.given, TemplateWords(tc.tpls)
			tab, err := MineAttributes(texts, labels, classes, o)
			if err != nil {
				t.Fatal(err)
			}
			gen, err := NewTemplateText(tab, tc.tpls)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for c := range classes {
				for i := 0; i < 300; i++ {
					s, err := gen.Text(c, r)
					if err != nil {
						t.Fatal(err)
					}
					if f := tab.Foreign(c, s); len(f) > 0 {
						t.Fatalf("class %q text %q carries %q of other classes", classes[c], s, f)
					}
					if c == 0 && strings.Contains(s, "blue-and-white") {
						t.Fatalf("Ru kiln text %q mentions blue-and-white", s)
					}
				}
			}
		})
	}
}

func TestAttributeConflicts(t *testing.T) {
	texts := [][]string{{"cobalt glaze jar"}, {"cobalt glaze vase"}, {"iron glaze bowl"}, {"iron glaze cup"}}
	labels := []int{0, 0, 1, 1}
	classes := []string{"A", "B"}
	o := MineOptions{MaxPerClass: 5, MaxWords: 2, MinCount: 2, MinShare: 0, MinSpecificity: 0.7,
		Given: map[string][]string{"B": {"cobalt"}}}
	tab, err := MineAttributes(texts, labels, classes, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tab.Attrs[0] {
		if strings.Contains(a.Phrase, "cobalt") {
			t.Errorf("class A keeps %q although B's given attribute is cobalt", a.Phrase)
		}
	}
	o.Given = map[string][]string{"A": {"cobalt glaze"}, "B": {"cobalt"}}
	if _, err := MineAttributes(texts, labels, classes, o); err == nil {
		t.Error("want an error when a given phrase contains another class's given phrase")
	}
	o.Given = map[string][]string{"C": {"x"}}
	if _, err := MineAttributes(texts, labels, classes, o); err == nil {
		t.Error("want an error for an unknown class in the given table")
	}
}

func TestStability(t *testing.T) {
	steady := func(i int) StepStats { return StepStats{LossD: 1.2, LossG: 0.9, DReal: 0.6, DFake: 0.4} }
	tests := []struct {
		name      string
		steps     int
		stat      func(i int) StepStats
		wantAt    int // step at which it first reports stable; 0 = never
		wantCause string
	}{
		{"steady after min steps", 100, steady, 40, ""},
		{"oscillating losses", 100, func(i int) StepStats {
			s := steady(i)
			if (i/10)%2 == 1 {
				s.LossD = 2
			}
			return s
		}, 0, "D loss moved"},
		{"discriminator wins", 100, func(i int) StepStats { return StepStats{LossD: 0.01, LossG: 5, DReal: 0.99, DFake: 0.01} }, 0, "D wins"},
		{"NaN", 100, func(i int) StepStats { s := steady(i); s.LossG = math.NaN(); return s }, 0, "not finite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			s := &Stability{Window: 10, Tolerance: 0.1, MaxGap: 0.8, MinSteps: 35}
			at := 0
			for i := 1; i <= tc.steps && at == 0; i++ {
				if checked, stable := s.Add(tc.stat(i)); checked && stable {
					at = i
				}
			}
			if at != tc.wantAt {
				t.Fatalf("stable at step %d, want %d (reason %q)", at, tc.wantAt, s.Reason())
			}
			if tc.wantCause != "" && !strings.Contains(s.Reason(), tc.wantCause) {
				t.Fatalf("reason %q, want it to mention %q", s.Reason(), tc.wantCause)
			}
		})
	}
}

func TestQuotas(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		total  int
		power  float64
		want   []int
	}{
		{"inverse frequency", []int{10, 20, 40, 0}, 70, 1, []int{40, 20, 10, 0}},
		{"uniform", []int{10, 20, 40, 0}, 70, 0, []int{24, 23, 23, 0}},
		{"remainders", []int{1, 1, 1}, 2000, 1, []int{667, 667, 666}},
		{"no data", []int{0, 0}, 10, 1, []int{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if got := Quotas(tc.counts, tc.total, tc.power); !slices.Equal(got, tc.want) {
				t.Fatalf("Quotas = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWriteGrid(t *testing.T) {
	dir := t.TempDir()
	chw := make([]float32, 3*8*8)
	for i := range chw {
		chw[i] = float32(i%3) - 1
	}
	img := ToImage(chw, 8)
	if c := img.NRGBAAt(0, 0); c.R != 0 || c.A != 255 {
		t.Fatalf("pixel %v: -1 should map to 0", c)
	}
	cells := []GridCell{{img, "a celadon bowl with crackled glaze and a very long caption that must wrap"}, {img, "x"}, {img, ""}}
	path := filepath.Join(dir, "grid.png")
	if err := WriteGrid(path, cells, GridOptions{Cols: 2, CellSize: 64, Title: "class"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// 2 columns of max(64, 98) + padding; title + 2 rows of 64 + 3·13 + 8.
	if cfg.Width != 2*(98+4)+4 || cfg.Height != 21+2*(64+39+8+4)+4 {
		t.Fatalf("grid is %dx%d", cfg.Width, cfg.Height)
	}
	if got := wrap("one two three four", 9, 2); !slices.Equal(got, []string{"one two", "three~"}) {
		t.Fatalf("wrap = %q", got)
	}
}

func TestTexturePatches(t *testing.T) {
	size := 8
	img := func(v float32) []float32 {
		x := make([]float32, 3*size*size)
		for i := range x {
			x[i] = v
		}
		return x
	}
	lib, err := SamplePatches([][]float32{img(0.5), img(-0.5), img(0.5)}, []int{0, 1, 0}, 3, size, 4, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Count(0) != 5 || lib.Count(1) != 5 || lib.Count(2) != 0 {
		t.Fatalf("patch counts %d %d %d", lib.Count(0), lib.Count(1), lib.Count(2))
	}
	for _, p := range lib.Patches[1] {
		if len(p) != 3*4*4 || p[0] != -0.5 {
			t.Fatalf("class 1 patch %v", p[:4])
		}
	}
	// crop picks the right window.
	grad := make([]float32, 3*size*size)
	for i := range grad {
		grad[i] = float32(i)
	}
	if c := crop(grad, size, 2, 3, 2); c[0] != 26 || c[1] != 27 || c[2] != 34 || c[4] != 64+26 {
		t.Fatalf("crop = %v", c)
	}
}

// testTemplates are the default templates of an experiment's gan.text.
func testTemplates() []string {
	return []string{"{1}", "{1} {2}", "{1}. {2}", "{2} {1}", "{1} with {2}", "{1}, {2} and {3}"}
}

// testMineOptions are the default mining options of an experiment's
// gan.text.
func testMineOptions() MineOptions {
	return MineOptions{MaxPerClass: 12, MaxWords: 2, MinCount: 2, MinShare: 0.02, MinSpecificity: 0.7, Reserved: TemplateWords(testTemplates())}
}

// smallGAN is a GAN small enough for tests, with an experiment's default
// losses and optimiser.
func smallGAN(size int) Config {
	return Config{ImageSize: size, NoiseDim: 8, EmbedDim: 4, GenChannels: 4, DiscChannels: 4,
		BatchSize: 4, LRG: 2e-4, LRD: 2e-4, Beta1: 0.5, Beta2: 0.999, MinSteps: 4, MaxSteps: 6,
		Loss:      LossWeights{Adversarial: "minimax", AdversarialW: 1, StyleW: 10, AttributeW: 1, StyleChannels: 4, AttributeClassW: 1},
		Stability: StabilityConfig{Window: 2, Tolerance: 0.15, MaxGap: 0.8}}
}

// constSource yields batches of random images of classes 0..k-1.
func constSource(size, batch, k, attrs int) Source {
	return func(epoch int) iter.Seq2[RealBatch, error] {
		return func(yield func(RealBatch, error) bool) {
			r := rand.New(rand.NewPCG(uint64(epoch), 3))
			for i := 0; i < 2; i++ {
				b := RealBatch{Images: make([]float32, batch*3*size*size), Labels: make([]int64, batch), Attrs: make([]float32, batch*attrs)}
				for j := range b.Images {
					b.Images[j] = float32(r.Float64()*2 - 1)
				}
				for j := range b.Labels {
					b.Labels[j] = int64(j % k)
				}
				for j := range b.Attrs {
					b.Attrs[j] = float32(j % 2)
				}
				if !yield(b, nil) {
					return
				}
			}
		}
	}
}

func newTestTrainer(t testing.TB, c Config, seed uint64) *Trainer {
	texts, labels, classes := ceramics()
	tab, err := MineAttributes(texts, labels, classes, testMineOptions())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(Options{Config: c, Classes: 3, Table: tab, Device: gotch.CPU, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	images := make([][]float32, 3)
	for i := range images {
		images[i] = make([]float32, 3*c.ImageSize*c.ImageSize)
		for j := range images[i] {
			images[i][j] = float32(j%7)/7 - 0.5
		}
	}
	lib, err := SamplePatches(images, []int{0, 1, 1}, 3, c.ImageSize, c.ImageSize/2, 4, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetTextures(lib); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTrainerRoundAndState trains a tiny GAN for a round, saves its state,
// restores it into a trainer built from another seed, and checks that both
// then sample the same images and take the same next step.
func TestTrainerRoundAndState(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, adv := range []string{"minimax", "non_saturating"} {
		t.Run(adv, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c := smallGAN(32)
			c.Loss.Adversarial = adv
			a := newTestTrainer(t, c, 1)
			src := constSource(32, 4, 3, int(a.Model.Attributes))
			rs, err := a.Train(src, TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rs.Steps < c.MinSteps || rs.Steps > c.MaxSteps || a.Steps != int64(rs.Steps) {
				t.Fatalf("round of %d steps (trainer %d), want %d..%d", rs.Steps, a.Steps, c.MinSteps, c.MaxSteps)
			}
			for _, v := range []float64{rs.Last.LossD, rs.Last.LossG, rs.Last.Style, rs.Last.AttrG} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("last window %+v", rs.Last)
				}
			}
			if rs.Last.Style <= 0 {
				t.Fatalf("style loss %g: the texture targets are not used", rs.Last.Style)
			}
			b := newTestTrainer(t, c, 1)
			if err := b.Restore(a.State()); err != nil {
				t.Fatal(err)
			}
			cls := []int64{0, 1, 2, 2, 1}
			ia, ra, err := a.Sample(cls, 9)
			if err != nil {
				t.Fatal(err)
			}
			ib, rb, err := b.Sample(cls, 9)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ia, ib) || !slices.Equal(ra, rb) {
				t.Fatal("restored trainer samples differently")
			}
			if len(ia) != len(cls)*3*32*32 {
				t.Fatalf("%d sample values", len(ia))
			}
			var batch RealBatch
			for rb := range src(100) {
				batch = rb
				break
			}
			sa, err := a.Step(batch)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Step(batch)
			if err != nil {
				t.Fatal(err)
			}
			if sa != sb {
				t.Fatalf("next step differs after restore: %+v vs %+v", sa, sb)
			}
		})
	}
}

func TestTrainerRejectsBadBatches(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tr := newTestTrainer(t, smallGAN(32), 1)
	tests := []struct {
		name string
		b    RealBatch
	}{
		{"one image", RealBatch{Images: make([]float32, 3*32*32), Labels: []int64{0}}},
		{"wrong image size", RealBatch{Images: make([]float32, 10), Labels: []int64{0, 1}}},
		{"missing attributes", RealBatch{Images: make([]float32, 2*3*32*32), Labels: []int64{0, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if _, err := tr.Step(tc.b); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// TestGRUText trains the recurrent text generator on the ceramics corpus
// and checks that its texts use the corpus's words and never carry another
// class's attributes.
func TestGRUText(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	texts, labels, classes := ceramics()
	tab, err := MineAttributes(texts, labels, classes, testMineOptions())
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := NewTemplateText(tab, testTemplates())
	if err != nil {
		t.Fatal(err)
	}
	flat := make([]string, len(texts))
	for i, s := range texts {
		flat[i] = s[0]
	}
	g, err := TrainGRUText(flat, labels, len(classes), GRUOptions{Hidden: 32, Steps: 150, LR: 0.01, Seed: 5,
		Device: gotch.CPU, Table: tab, Fallback: fallback})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, w := range g.Vocab {
		known[w] = true
	}
	r := rand.New(rand.NewPCG(1, 1))
	for c := range classes {
		for i := 0; i < 40; i++ {
			s, err := g.Text(c, r)
			if err != nil {
				t.Fatal(err)
			}
			if f := tab.Foreign(c, s); len(f) > 0 {
				t.Fatalf("class %q: GRU text %q carries %q", classes[c], s, f)
			}
			for _, w := range Words(s) {
				if !known[w] && !slices.Contains(TemplateWords(testTemplates()), w) {
					t.Fatalf("text %q has word %q outside the vocabulary", s, w)
				}
			}
		}
	}
	if g.Fallbacks > 60 {
		t.Errorf("%d of 120 texts fell back to templates: the GRU did not learn the classes", g.Fallbacks)
	}
	s, _ := g.Text(0, r)
	t.Logf("sample for %q: %q (%d rejected, %d fallbacks)", classes[0], s, g.Rejected, g.Fallbacks)
}

func TestLoadTextureFolder(t *testing.T) {
	dir := t.TempDir()
	img := ToImage(make([]float32, 3*16*16), 16)
	for _, p := range []string{"shared.png", "food-drink/a.png", "Flags/b.png", "unknown/c.png"} {
		if err := WritePNG(filepath.Join(dir, p), img); err != nil {
			t.Fatal(err)
		}
	}
	classes := []string{"Food & Drink", "Flags", "Symbols"}
	lib, err := LoadTextureFolder(dir, classes, 8, 4, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Every class has the shared image; Food & Drink (by slug) and Flags (by name) one more.
	for c := range classes {
		if lib.Count(c) != 6 {
			t.Fatalf("class %q has %d patches, want 6", classes[c], lib.Count(c))
		}
	}
	if _, err := LoadTextureFolder(t.TempDir(), classes, 8, 4, 6, 1); err == nil {
		t.Fatal("want an error for a folder without images")
	}
}

// TestStepFailsMidway makes a libtorch op fail inside each phase of a GAN
// step (a mis-shaped weight, attribute priors or texture targets, so the
// failing op runs after others have) and checks that Step returns an error
// naming the phase and the module, without a panic, without counting the
// step, and without leaking a tensor.
func TestStepFailsMidway(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tr := newTestTrainer(t, smallGAN(32), 1)
	var batch RealBatch
	for b := range constSource(32, 4, 3, int(tr.Model.Attributes))(0) {
		batch = b
		break
	}
	if _, err := tr.Step(batch); err != nil { // gradients and moments exist from here on
		t.Fatal(err)
	}
	zeros := func(shape ...int64) *ts.Tensor {
		x, err := ts.Zeros(shape, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	k, a := tr.Model.Classes, tr.Model.Attributes
	tests := []struct {
		name string
		swap func() (restore func())
		want string
	}{
		{"generator's fully connected layer", func() func() {
			fc := tr.G.FC
			tr.G.FC = &layers.Linear{Weight: zeros(7, 5)}
			return func() { tensor.Drop(tr.G.FC.Weight); tr.G.FC = fc }
		}, "gan step: generator: linear"},
		{"discriminator's third layer", func() func() {
			c := tr.D.Conv[2]
			tr.D.Conv[2] = &layers.Conv2d{Weight: zeros(16, 3, 4, 4), Stride: 2, Padding: 1}
			return func() { tensor.Drop(tr.D.Conv[2].Weight); tr.D.Conv[2] = c }
		}, "gan step: discriminator update: discriminator: conv.2: conv2d"},
		{"attribute priors", func() func() {
			p := tr.priors
			tr.priors = zeros(k, a+1)
			return func() { tensor.Drop(tr.priors); tr.priors = p }
		}, "gan step: generator update: attribute consistency: attribute loss"},
		{"texture targets", func() func() {
			tg := tr.targets[1]
			tr.targets[1] = zeros(k, 3, 3)
			return func() { tensor.Drop(tr.targets[1]); tr.targets[1] = tg }
		}, "gan step: generator update: style: style loss: layer 1: "},
		{"texture weights", func() func() {
			h := tr.hasTex
			tr.hasTex = zeros(1)
			return func() { tensor.Drop(tr.hasTex); tr.hasTex = h }
		}, "gan step: generator update: style: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			restore := tc.swap()
			defer restore()
			// With the GC off no finalizer frees a forgotten tensor behind
			// our back, so the count is exact.
			defer tensor.Settle()()
			steps, before := tr.Steps, tensor.Live()
			_, err := tr.Step(batch)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
			t.Log(err)
			if n := tensor.Live() - before; n != 0 {
				t.Errorf("%d tensors leaked", n)
			}
			if tr.Steps != steps {
				t.Errorf("a failed step was counted")
			}
		})
	}
	if _, err := tr.Step(batch); err != nil {
		t.Fatalf("step after the failures: %v", err)
	}
}
