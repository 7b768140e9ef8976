package gan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/layers"
)

// GRUOptions configure TrainGRUText.
type GRUOptions struct {
	Hidden int     // GRU state and word embedding size
	Steps  int     // training steps (batches of 32 texts)
	LR     float64 // Adam learning rate
	MaxLen int     // longest generated text in words; 0 = 16
	Seed   uint64
	Device gotch.Device
	// Table is checked on every sample: a text with another class's
	// attribute is drawn again (up to 10 times), then Fallback is used.
	Table    *AttributeTable
	Fallback TextGenerator
}

// GRUText is the paper's recurrent text generator (eqs. 16–17): a word
// embedding, a GRU cell h_i = GRU(h_{i−1}, e(t_{i−1})) starting from a
// class-dependent state h_0 = tanh(c_k), and a linear layer with softmax
// over the vocabulary, P(t_i) = softmax(L(h_i)). It is trained by teacher
// forcing on the training texts of each class and samples word by word
// until the end token. Samples carrying another class's attribute are
// rejected.
type GRUText struct {
	Vocab    []string // id -> word; 0 = padding, 1 = start/end
	opts     GRUOptions
	vs       *nn.VarStore
	classEmb *ts.Tensor // [K, H]
	wordEmb  *layers.Embedding
	wIh, wHh *ts.Tensor // [3H, H]
	bIh, bHh *ts.Tensor // [3H]
	out      *layers.Linear
	// Rejected counts samples drawn again for naming another class's attribute.
	Rejected int
	// Fallbacks counts texts that came from Fallback.
	Fallbacks int
}

const (
	gruPad = 0
	gruEnd = 1
)

// TrainGRUText builds the vocabulary of texts (Words), trains the
// generator on (texts[i], labels[i]) and returns it. Weights are drawn
// after seeding libtorch with o.Seed, so a run gets the same generator
// every time.
func TrainGRUText(texts []string, labels []int, classes int, o GRUOptions) (*GRUText, error) {
	if len(texts) == 0 || len(texts) != len(labels) {
		return nil, fmt.Errorf("gru text: %d texts for %d labels", len(texts), len(labels))
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 16
	}
	if o.Hidden < 1 || o.Steps < 1 || o.LR <= 0 {
		return nil, fmt.Errorf("gru text: hidden %d, steps %d, lr %g", o.Hidden, o.Steps, o.LR)
	}
	if err := ts.ManualSeed(int64(o.Seed >> 1)); err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	g := &GRUText{opts: o, vs: nn.NewVarStore(o.Device)}
	freq := map[string]int{}
	seqs := make([][]string, len(texts))
	for i, s := range texts {
		seqs[i] = Words(s)
		if len(seqs[i]) > o.MaxLen {
			seqs[i] = seqs[i][:o.MaxLen]
		}
		for _, w := range seqs[i] {
			freq[w]++
		}
	}
	words := make([]string, 0, len(freq))
	for w := range freq {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if freq[words[i]] != freq[words[j]] {
			return freq[words[i]] > freq[words[j]]
		}
		return words[i] < words[j]
	})
	g.Vocab = append([]string{"<pad>", "<s>"}, words...)
	index := map[string]int64{}
	for i, w := range g.Vocab {
		index[w] = int64(i)
	}
	h, v := int64(o.Hidden), int64(len(g.Vocab))
	p := g.vs.Root()
	var err error
	init := layers.Normal{Mean: 0, Std: 1 / math.Sqrt(float64(h))}
	newVar := func(p *nn.Path, name string, dims []int64, ini nn.Init) *ts.Tensor {
		if err != nil {
			return nil
		}
		var x *ts.Tensor
		x, err = p.NewVar(name, dims, ini)
		return x
	}
	g.classEmb = newVar(p, "class_emb", []int64{int64(classes), h}, init)
	g.wIh = newVar(p.Sub("gru"), "weight_ih", []int64{3 * h, h}, init)
	g.wHh = newVar(p.Sub("gru"), "weight_hh", []int64{3 * h, h}, init)
	g.bIh = newVar(p.Sub("gru"), "bias_ih", []int64{3 * h}, nn.NewConstInit(0))
	g.bHh = newVar(p.Sub("gru"), "bias_hh", []int64{3 * h}, nn.NewConstInit(0))
	if err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	if g.wordEmb, err = layers.NewEmbedding(p.Sub("word_emb"), v, h, -1); err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	if g.out, err = layers.NewLinear(p.Sub("out"), h, v, true); err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	params := map[string]*ts.Tensor{}
	for name, x := range g.vs.Variables() {
		x := x
		params[name] = &x
	}
	opt, err := newAdam(params, 0.9, 0.999)
	if err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	defer opt.drop()
	r := rand.New(rand.NewPCG(o.Seed, 0x677275))
	const batch = 32
	for step := 0; step < o.Steps; step++ {
		idx := make([]int, min(batch, len(seqs)))
		for i := range idx {
			idx[i] = r.IntN(len(seqs))
		}
		if err := g.trainStep(opt, idx, seqs, labels, index); err != nil {
			return nil, fmt.Errorf("gru text step %d: %w", step, err)
		}
	}
	return g, nil
}

// trainStep runs teacher forcing on a batch: inputs <s> w1 .. wn, targets
// w1 .. wn <s>, padding ignored.
func (g *GRUText) trainStep(opt *adam, idx []int, seqs [][]string, labels []int, index map[string]int64) error {
	b := len(idx)
	steps := 1
	for _, i := range idx {
		steps = max(steps, len(seqs[i])+1)
	}
	in := make([]int64, b*steps) // [T, B] time-major
	tgt := make([]int64, b*steps)
	cls := make([]int64, b)
	for k, i := range idx {
		cls[k] = int64(labels[i])
		prev := int64(gruEnd)
		for s := 0; s < steps; s++ {
			cur := int64(gruPad)
			switch {
			case s < len(seqs[i]):
				cur = index[seqs[i][s]]
			case s == len(seqs[i]):
				cur = gruEnd
			}
			if s <= len(seqs[i]) {
				in[s*b+k] = prev
			}
			tgt[s*b+k] = cur
			prev = cur
		}
	}
	var bin []*ts.Tensor
	defer func() { drop(bin...) }()
	keep := func(x *ts.Tensor, err error) (*ts.Tensor, error) {
		if x != nil {
			bin = append(bin, x)
		}
		return x, err
	}
	dev := g.opts.Device
	inT, err := keep(toDevice(in, []int64{int64(steps), int64(b)}, dev))
	if err != nil {
		return err
	}
	tgtT, err := keep(toDevice(tgt, []int64{int64(steps * b)}, dev))
	if err != nil {
		return err
	}
	clsT, err := keep(toDevice(cls, []int64{int64(b)}, dev))
	if err != nil {
		return err
	}
	hs, err := g.initial(clsT)
	if err != nil {
		return err
	}
	bin = append(bin, hs)
	emb, err := keep(g.wordEmb.Forward(inT)) // [T, B, H]
	if err != nil {
		return err
	}
	var states []*ts.Tensor
	h := hs
	for s := 0; s < steps; s++ {
		x, err := keep(emb.Select(0, int64(s), false))
		if err != nil {
			return err
		}
		if h, err = keep(ts.GruCell(x, h, g.wIh, g.wHh, g.bIh, g.bHh)); err != nil {
			return err
		}
		states = append(states, h)
	}
	all, err := keep(ts.Cat(states, 0)) // [T·B, H]
	if err != nil {
		return err
	}
	logits, err := keep(g.out.Forward(all))
	if err != nil {
		return err
	}
	loss, err := keep(logits.CrossEntropyLoss(tgtT, none, 1, gruPad, 0, false))
	if err != nil {
		return err
	}
	if err := opt.zeroGrad(); err != nil {
		return err
	}
	if err := loss.Backward(); err != nil {
		return err
	}
	return opt.update(g.opts.LR)
}

// initial returns h_0 = tanh(class embedding) for class ids [B].
func (g *GRUText) initial(cls *ts.Tensor) (*ts.Tensor, error) {
	e, err := ts.Embedding(g.classEmb, cls, -1, false, false)
	if err != nil {
		return nil, err
	}
	return e.Tanh(true)
}

// Text samples a text for class, word by word; a sample naming another
// class's attribute is drawn again, and after 10 such draws the fallback
// generator writes the text. Do not call it inside ts.NoGrad.
func (g *GRUText) Text(class int, r *rand.Rand) (string, error) {
	for try := 0; try < 10; try++ {
		s, err := g.sample(class, r)
		if err != nil {
			return "", err
		}
		if s != "" && (g.opts.Table == nil || len(g.opts.Table.Foreign(class, s)) == 0) {
			return s, nil
		}
		g.Rejected++
	}
	if g.opts.Fallback == nil {
		return "", fmt.Errorf("gru text: no clean sample for class %d in 10 draws and no fallback", class)
	}
	g.Fallbacks++
	return g.opts.Fallback.Text(class, r)
}

func (g *GRUText) sample(class int, r *rand.Rand) (string, error) {
	var words []string
	var err error
	ts.NoGrad(func() {
		var cls, h *ts.Tensor
		if cls, err = toDevice([]int64{int64(class)}, []int64{1}, g.opts.Device); err != nil {
			return
		}
		defer drop(cls)
		if h, err = g.initial(cls); err != nil {
			return
		}
		tok := int64(gruEnd)
		for len(words) < g.opts.MaxLen {
			var t, x, nh, logits *ts.Tensor
			if t, err = toDevice([]int64{tok}, []int64{1}, g.opts.Device); err != nil {
				break
			}
			x, err = g.wordEmb.Forward(t)
			drop(t)
			if err != nil {
				break
			}
			nh, err = ts.GruCell(x, h, g.wIh, g.wHh, g.bIh, g.bHh)
			drop(x, h)
			h = nh
			if err != nil {
				h = nil
				break
			}
			if logits, err = g.out.Forward(h); err != nil {
				break
			}
			l := logits.Float64Values()
			drop(logits)
			tok = sampleSoftmax(l, r)
			if tok == gruEnd {
				break
			}
			words = append(words, g.Vocab[tok])
		}
		drop(h)
	})
	if err != nil {
		return "", fmt.Errorf("gru text sample: %w", err)
	}
	return strings.Join(words, " "), nil
}

// sampleSoftmax draws an index from softmax(logits), never the padding.
func sampleSoftmax(logits []float64, r *rand.Rand) int64 {
	m := math.Inf(-1)
	for i, l := range logits {
		if i != gruPad {
			m = math.Max(m, l)
		}
	}
	p := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		if i != gruPad {
			p[i] = math.Exp(l - m)
			sum += p[i]
		}
	}
	u := r.Float64() * sum
	for i, x := range p {
		if u < x {
			return int64(i)
		}
		u -= x
	}
	return gruEnd
}
