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
	"github.com/vbg-museum/vbg/optim"
	"github.com/vbg-museum/vbg/tensor"
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
	seqs, index := g.buildVocab(texts, o.MaxLen)
	if err := g.newParams(int64(classes)); err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	params := map[string]*ts.Tensor{}
	for name, x := range g.vs.Variables() {
		x := x
		params[name] = &x
	}
	opt, err := optim.New(optim.Named(params), optim.Config{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0})
	if err != nil {
		return nil, fmt.Errorf("gru text: %w", err)
	}
	defer opt.Drop()
	r := rand.New(rand.NewPCG(o.Seed, 0x677275))
	const batch = 32
	for step := 0; step < o.Steps; step++ {
		idx := make([]int, min(batch, len(seqs)))
		for i := range idx {
			idx[i] = r.IntN(len(seqs))
		}
		if err := g.trainStep(opt, newTeacherBatch(idx, seqs, labels, index)); err != nil {
			return nil, fmt.Errorf("gru text step %d: %w", step, err)
		}
	}
	return g, nil
}

// buildVocab splits texts into words (cut at maxLen), sets g.Vocab to the
// special tokens then the words by falling frequency (ties
// alphabetically), and returns the word sequences and the word -> id map.
func (g *GRUText) buildVocab(texts []string, maxLen int) ([][]string, map[string]int64) {
	freq := map[string]int{}
	seqs := make([][]string, len(texts))
	for i, s := range texts {
		seqs[i] = Words(s)
		if len(seqs[i]) > maxLen {
			seqs[i] = seqs[i][:maxLen]
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
	return seqs, index
}

// newParams creates the class codes, the GRU cell ("gru.weight_ih", ...),
// the word embedding and the output layer, in this order (it fixes what
// they draw from libtorch's generator). The class codes and GRU weights
// are N(0, 1/H), the GRU biases zero.
func (g *GRUText) newParams(classes int64) error {
	h, v := int64(g.opts.Hidden), int64(len(g.Vocab))
	p := g.vs.Root()
	init := layers.Normal{Mean: 0, Std: 1 / math.Sqrt(float64(h))}
	var err error
	newVar := func(p *nn.Path, name string, dims []int64, normal bool) *ts.Tensor {
		if err != nil {
			return nil
		}
		var x *ts.Tensor
		if x, err = p.Zeros(name, dims); err == nil && normal {
			err = init.Reinit(x)
		}
		return x
	}
	g.classEmb = newVar(p, "class_emb", []int64{classes, h}, true)
	g.wIh = newVar(p.Sub("gru"), "weight_ih", []int64{3 * h, h}, true)
	g.wHh = newVar(p.Sub("gru"), "weight_hh", []int64{3 * h, h}, true)
	g.bIh = newVar(p.Sub("gru"), "bias_ih", []int64{3 * h}, false)
	g.bHh = newVar(p.Sub("gru"), "bias_hh", []int64{3 * h}, false)
	if err != nil {
		return err
	}
	if g.wordEmb, err = layers.NewEmbedding(p.Sub("word_emb"), v, h, -1); err != nil {
		return err
	}
	g.out, err = layers.NewLinear(p.Sub("out"), h, v, true)
	return err
}

// teacherBatch is a batch for teacher forcing, time-major: inputs
// <s> w1 .. wn and targets w1 .. wn <s> of each text, padded.
type teacherBatch struct {
	steps, size int
	in, tgt     []int64 // [steps, size]
	classes     []int64 // [size]
}

// newTeacherBatch builds the teacher-forcing batch of texts idx.
func newTeacherBatch(idx []int, seqs [][]string, labels []int, index map[string]int64) teacherBatch {
	b := len(idx)
	steps := 1
	for _, i := range idx {
		steps = max(steps, len(seqs[i])+1)
	}
	tb := teacherBatch{steps: steps, size: b, in: make([]int64, b*steps), tgt: make([]int64, b*steps), classes: make([]int64, b)}
	for k, i := range idx {
		tb.classes[k] = int64(labels[i])
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
				tb.in[s*b+k] = prev
			}
			tb.tgt[s*b+k] = cur
			prev = cur
		}
	}
	return tb
}

// trainStep runs teacher forcing on a batch (eqs. 16–17: h_i =
// GRU(h_{i−1}, e(t_{i−1})), P(t_i) = softmax(L(h_i)), cross-entropy
// ignoring padding) and takes one optimizer step.
func (g *GRUText) trainStep(opt *optim.AdamW, tb teacherBatch) error {
	dev := g.opts.Device
	T, B := int64(tb.steps), int64(tb.size)
	s := layers.NewScope("")
	in := s.Own(tensor.FromSlice(tb.in, []int64{T, B}, dev))
	tgt := s.Own(tensor.FromSlice(tb.tgt, []int64{T * B}, dev))
	cls := s.Own(tensor.FromSlice(tb.classes, []int64{B}, dev))
	h := g.initial(s, cls)
	emb := s.Apply(g.wordEmb, in) // [T, B, H]
	states := make([]*ts.Tensor, T)
	for i := range states {
		h = g.cell(s, s.Select(emb, 0, int64(i)), h)
		states[i] = h
	}
	logits := s.Apply(g.out, s.Cat(0, states...)) // [T·B, V]
	loss := s.Do(func() (*ts.Tensor, error) { return logits.CrossEntropyLoss(tgt, tensor.None, 1, gruPad, 0, false) })
	if !s.Failed() {
		s.Fail(minimise(opt, loss, g.opts.LR))
	}
	return s.Close()
}

// initial returns h_0 = tanh(class embedding) for class ids [B].
func (g *GRUText) initial(s *layers.Scope, cls *ts.Tensor) *ts.Tensor {
	e := s.Do(func() (*ts.Tensor, error) { return ts.Embedding(g.classEmb, cls, -1, false, false) })
	return s.Tanh(e)
}

// cell is one GRU step h' = GRU(h, x) (eq. 16).
func (g *GRUText) cell(s *layers.Scope, x, h *ts.Tensor) *ts.Tensor {
	return s.Do(func() (*ts.Tensor, error) { return ts.GruCell(x, h, g.wIh, g.wHh, g.bIh, g.bHh) })
}

// Text samples a text for class, word by word; a sample naming another
// class's attribute is drawn again, and after 10 such draws the fallback
// generator writes the text. Do not call it inside tensor.NoGrad.
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

// sample draws one text for class word by word (eq. 17), up to MaxLen
// words or the end token.
func (g *GRUText) sample(class int, r *rand.Rand) (string, error) {
	var words []string
	err := tensor.NoGrad(func() error {
		s := layers.NewScope("")
		defer s.Close()
		h := g.initial(s, s.Own(tensor.FromSlice([]int64{int64(class)}, []int64{1}, g.opts.Device)))
		tok := int64(gruEnd)
		for len(words) < g.opts.MaxLen && !s.Failed() {
			prev := h
			t := s.Own(tensor.FromSlice([]int64{tok}, []int64{1}, g.opts.Device))
			x := s.Apply(g.wordEmb, t)
			h = g.cell(s, x, prev)
			logits := s.Apply(g.out, h)
			if s.Failed() {
				break
			}
			l, err := tensor.Float64s(logits)
			s.Free(prev, t, x, logits)
			if err != nil {
				s.Fail(err)
				break
			}
			if tok = sampleSoftmax(l, r); tok == gruEnd {
				break
			}
			words = append(words, g.Vocab[tok])
		}
		return s.Err()
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
