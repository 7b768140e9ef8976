package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/checkpoint"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/gan"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/seed"
	"github.com/vbg-museum/vbg/tensor"
)

// The generation-feedback-optimization loop (paper, GAN module). Run
// folder layout:
//
//	gan/attributes.json          the category-attribute table
//	gan/round-N/images/*.png     generated images kept in round N
//	gan/round-N/records.jsonl    the kept pairs (image paths relative to round-N)
//	gan/round-N/candidates.jsonl every candidate with its scores and verdict
//	gan/round-N/samples.png      a grid of kept pairs with their texts
//	gan/round-N/round.json       the round's statistics; written last
//
// A round's folder is complete when round.json exists. The checkpoint's
// "gan.rounds" says how many rounds the saved state has seen: on resume,
// rounds up to it are read back from their folders and a later folder (a
// round that ran after the checkpoint) is deleted and run again from the
// restored state.

// Files of the GAN loop.
const (
	GANDir         = "gan"
	AttributesFile = "attributes.json"
	roundInfoFile  = "round.json"
	recordsFile    = "records.jsonl"
	candidatesFile = "candidates.jsonl"
	samplesFile    = "samples.png"
)

// ganRun is the GAN loop's state in one run (trainer.gan).
type ganRun struct {
	tr      *gan.Trainer
	table   *gan.AttributeTable
	text    gan.TextGenerator
	attrOf  map[string][]float32 // real training record id -> attribute targets
	counts  []int                // real training records per class
	real    *data.Loader         // real training images at the GAN's size
	rounds  int                  // rounds the state has seen
	started bool                 // ganFeedback ran in this process
	records map[int][]data.Record
	meta    *ts.Tensor
}

// roundInfo is round.json.
type roundInfo struct {
	Round      int            `json:"round"`
	Epoch      int            `json:"epoch"`
	Train      gan.RoundStats `json:"train"`
	Skipped    string         `json:"skipped,omitempty"`
	Quotas     []int          `json:"quotas"`
	Candidates int            `json:"candidates"`
	// Rejected by each filter (a candidate can fail both).
	LowConfidence int  `json:"low_confidence"`
	LowRealness   int  `json:"low_realness"`
	ConfidenceOn  bool `json:"confidence_filter_applied"`
	// Kept per class and in all.
	KeptPerClass   []int   `json:"kept_per_class"`
	Kept           int     `json:"kept"`
	MeanConfidence float64 `json:"mean_confidence_kept"`
	MeanRealness   float64 `json:"mean_realness_kept"`
	Seconds        float64 `json:"seconds"`
}

// candidate is one line of candidates.jsonl.
type candidate struct {
	ID         string  `json:"id"`
	Label      string  `json:"label"`
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"` // classifier's p(label); -1 when not scored
	Rank       int     `json:"rank"`       // classes the classifier finds more probable
	Realness   float64 `json:"realness"`   // discriminator's D(x)
	Kept       bool    `json:"kept"`
}

// roundAt returns the round (1-based) due at the start of epoch, or 0.
func roundAt(g config.GAN, epoch int) int {
	if epoch < g.StartEpoch || (epoch-g.StartEpoch)%g.Every != 0 {
		return 0
	}
	r := (epoch-g.StartEpoch)/g.Every + 1
	if r > g.Rounds {
		return 0
	}
	return r
}

// ganFeedback runs the generation-feedback-optimization loop's work due at
// the start of epoch: when a GAN round is due it trains the GAN, generates
// image-text pairs for scarce classes, filters them, and returns the
// generated records to train on from this epoch on (changed = true).
// Otherwise it returns changed = false and the training set stays as it is.
// On resume it returns the records that were in use at that epoch.
func (t *trainer) ganFeedback(epoch int) (generated []data.Record, changed bool, err error) {
	if !t.cfg.GAN.Enabled {
		return nil, false, nil
	}
	g, err := t.ganSetup()
	if err != nil {
		return nil, false, err
	}
	first := !g.started
	g.started = true
	if r := roundAt(t.cfg.GAN, epoch); r > g.rounds {
		recs, err := t.ganRound(r, epoch)
		if err != nil {
			return nil, false, fmt.Errorf("gan round %d: %w", r, err)
		}
		g.records[r] = recs
		g.rounds = r
		gen, err := t.ganMixed()
		return gen, true, err
	}
	if first && g.rounds > 0 {
		gen, err := t.ganMixed()
		return gen, true, err
	}
	return nil, false, nil
}

// ganSetup builds the GAN loop's state once per process.
func (t *trainer) ganSetup() (*ganRun, error) {
	if t.gan != nil {
		return t.gan, nil
	}
	c := t.cfg
	gc := c.GAN
	texts := make([][]string, len(t.ds.Train))
	labels := make([]int, len(t.ds.Train))
	counts := make([]int, len(t.ds.Labels))
	for i, r := range t.ds.Train {
		texts[i], labels[i] = r.Texts, r.LabelID
		counts[r.LabelID]++
	}
	table, err := gan.MineAttributes(texts, labels, t.ds.Labels, experiment.MineOptions(c))
	if err != nil {
		return nil, fmt.Errorf("gan: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(t.dir, GANDir), 0o755); err != nil {
		return nil, fmt.Errorf("gan: %w", err)
	}
	if err := table.Save(filepath.Join(t.dir, GANDir, AttributesFile)); err != nil {
		return nil, err
	}
	g := &ganRun{table: table, counts: counts, attrOf: map[string][]float32{}, records: map[int][]data.Record{}}
	for _, r := range t.ds.Train {
		g.attrOf[r.ID] = table.Targets(r.Texts)
	}
	ganSeed := uint64(seed.Torch(uint64(c.Seed), 0x67616e))
	// G and D are drawn from libtorch's generator: seed it so a resumed run
	// builds the same GAN as an uninterrupted one (whose state it restores).
	if err := ts.ManualSeed(int64(ganSeed >> 1)); err != nil {
		return nil, err
	}
	if g.tr, err = gan.NewTrainer(gan.Options{Config: experiment.GANConfig(c), Classes: len(t.ds.Labels), Table: table, Device: t.w.Device, Seed: ganSeed}); err != nil {
		return nil, err
	}
	if g.text, err = t.ganTextGenerator(g, ganSeed); err != nil {
		return nil, err
	}
	lib, err := t.textureLibrary(ganSeed)
	if err != nil {
		return nil, err
	}
	if err := g.tr.SetTextures(lib); err != nil {
		return nil, err
	}
	lc := t.ganLoaderConfig(ganSeed)
	lc.BatchSize = min(gc.BatchSize, len(t.ds.Train))
	lc.DropLast, lc.Shuffle, lc.Train = true, true, true
	lc.Augment = data.Augment{HFlip: c.Data.Augment.Flip}
	if g.real, err = data.NewLoader(t.ds.Train, lc); err != nil {
		return nil, fmt.Errorf("gan data: %w", err)
	}
	t.gan = g
	return g, nil
}

// ganTextGenerator returns the text generator of gan.text.mode.
func (t *trainer) ganTextGenerator(g *ganRun, seed uint64) (gan.TextGenerator, error) {
	tc := t.cfg.GAN.Text
	tpl, err := gan.NewTemplateText(g.table, tc.Templates)
	if err != nil {
		return nil, fmt.Errorf("gan.text.templates: %w", err)
	}
	if tc.Mode != "gru" {
		return tpl, nil
	}
	var texts []string
	var labels []int
	for _, r := range t.ds.Train {
		for _, s := range r.Texts {
			texts = append(texts, s)
			labels = append(labels, r.LabelID)
		}
	}
	gru, err := gan.TrainGRUText(texts, labels, len(t.ds.Labels), gan.GRUOptions{Hidden: tc.GRUHidden, Steps: tc.GRUSteps,
		LR: tc.GRULR, Seed: seed, Device: t.w.Device, Table: g.table, Fallback: tpl})
	if err != nil {
		return nil, fmt.Errorf("gan text gru: %w", err)
	}
	return gru, nil
}

// ganLoaderConfig is the evaluation transform at the GAN's size, in the
// generator's [-1, 1] range.
func (t *trainer) ganLoaderConfig(seed uint64) data.LoaderConfig {
	s := t.cfg.GAN.ImageSize
	lc := data.DefaultLoaderConfig(false)
	lc.ImageSize, lc.ResizeSize, lc.BaseSize = s, s, s
	lc.Mean, lc.Std = data.HalfMean, data.HalfStd
	lc.BatchSize = 64
	lc.Workers = t.cfg.Data.Workers
	lc.Seed = seed
	lc.Quiet = true
	return lc
}

// textureLibrary builds the texture library of gan.texture: patches of
// real training images of each class, or of a folder.
func (t *trainer) textureLibrary(seed uint64) (*gan.TextureLibrary, error) {
	gc := t.cfg.GAN
	s := gc.ImageSize
	patch := gc.Texture.PatchSize
	if patch == 0 {
		patch = s / 2
	}
	if gc.Texture.Source == "folder" {
		return gan.LoadTextureFolder(gc.Texture.Dir, t.ds.Labels, s, patch, gc.Texture.PatchesPerClass, seed)
	}
	// Only the images the patches come from are decoded: per class, up to
	// patches_per_class records drawn at random.
	r := rand.New(rand.NewPCG(seed, 0x74657874))
	byClass := make([][]int, len(t.ds.Labels))
	for i, rec := range t.ds.Train {
		byClass[rec.LabelID] = append(byClass[rec.LabelID], i)
	}
	var pick []data.Record
	for _, idx := range byClass {
		if len(idx) == 0 {
			continue
		}
		seen := map[int]bool{}
		for k := 0; k < min(gc.Texture.PatchesPerClass, len(idx)); k++ {
			i := idx[r.IntN(len(idx))]
			if !seen[i] {
				seen[i] = true
				pick = append(pick, t.ds.Train[i])
			}
		}
	}
	l, err := data.NewLoader(pick, t.ganLoaderConfig(seed))
	if err != nil {
		return nil, fmt.Errorf("gan textures: %w", err)
	}
	var images [][]float32
	var labels []int
	for b, err := range l.Epoch(0) {
		if err != nil {
			return nil, fmt.Errorf("gan textures: %w", err)
		}
		for i := 0; i < b.Len(); i++ {
			images = append(images, append([]float32(nil), b.Image(i)...))
			labels = append(labels, int(b.Labels[i]))
		}
	}
	return gan.SamplePatches(images, labels, len(t.ds.Labels), s, patch, gc.Texture.PatchesPerClass, seed)
}

// ganSource adapts the real-image loader to the GAN trainer's batches.
func (t *trainer) ganSource() gan.Source {
	g := t.gan
	return func(epoch int) iter.Seq2[gan.RealBatch, error] {
		return func(yield func(gan.RealBatch, error) bool) {
			for b, err := range g.real.Epoch(epoch) {
				if err != nil {
					yield(gan.RealBatch{}, err)
					return
				}
				rb := gan.RealBatch{Images: b.Images, Labels: b.Labels}
				if len(g.table.Vocab) > 0 {
					rb.Attrs = make([]float32, 0, b.Len()*len(g.table.Vocab))
					for _, id := range b.IDs {
						rb.Attrs = append(rb.Attrs, g.attrOf[id]...)
					}
				}
				if !yield(rb, nil) {
					return
				}
			}
		}
	}
}

// ganRound trains the GAN, generates, scores, filters and writes round r.
func (t *trainer) ganRound(r, epoch int) ([]data.Record, error) {
	start := time.Now()
	g, gc := t.gan, t.cfg.GAN
	dir := filepath.Join(t.dir, GANDir, fmt.Sprintf("round-%d", r))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return nil, err
	}
	rs, err := g.tr.Train(t.ganSource(), gan.TrainOptions{Progress: t.ganProgress(), Desc: fmt.Sprintf("gan round %d/%d", r, gc.Rounds)})
	if err != nil {
		return nil, err
	}
	info := roundInfo{Round: r, Epoch: epoch, Train: rs, KeptPerClass: make([]int, len(t.ds.Labels))}
	if gc.Stability.RequireStable && !rs.Stable {
		info.Skipped = "the GAN did not become stable (" + rs.Reason + ") and gan.stability.require_stable is set"
		info.Seconds = time.Since(start).Seconds()
		fmt.Fprintf(t.log, "gan round %d: %d steps, not stable (%s): no pairs this round\n", r, rs.Steps, rs.Reason)
		return nil, t.finishRound(dir, info, nil, nil)
	}
	info.Quotas = gan.Quotas(g.counts, gc.Generate.Count, gc.Generate.ClassPower)
	cs, err := t.ganCandidates(dir, r, info.Quotas)
	if err != nil {
		return nil, err
	}
	info.Candidates = len(cs.recs)
	// Before the classifier has trained an epoch its confidence means nothing.
	f := gc.Filter
	info.ConfidenceOn = (f.MinConfidence > 0 || f.TopK > 0) && epoch > 1
	if epoch > 1 {
		if cs.conf, cs.rank, err = t.ganConfidence(cs.recs); err != nil {
			return nil, err
		}
	}
	keptRecs := t.ganKeep(cs, &info)
	var lines []candidate
	for i, rec := range cs.recs {
		lines = append(lines, candidate{ID: rec.ID, Label: rec.Label, Text: rec.Texts[0], Confidence: cs.conf[i], Rank: cs.rank[i], Realness: cs.realness[i], Kept: cs.kept[i]})
		if !cs.kept[i] {
			if err := os.Remove(rec.Image); err != nil {
				return nil, err
			}
		}
	}
	if err := t.writeRoundGrid(dir, r, keptRecs); err != nil {
		return nil, err
	}
	info.Seconds = time.Since(start).Seconds()
	t.logRound(info)
	return keptRecs, t.finishRound(dir, info, lines, keptRecs)
}

// ganProgress is where GAN training draws its progress bar (nil: none).
func (t *trainer) ganProgress() io.Writer {
	if t.opts.Quiet {
		return nil
	}
	if t.opts.Progress != nil {
		return t.opts.Progress
	}
	return os.Stderr
}

// roundCandidates are a round's generated pairs and their scores.
type roundCandidates struct {
	recs     []data.Record // images written under round-N/images
	realness []float64     // discriminator's D(x)
	conf     []float64     // classifier's p(label); -1 when not scored
	rank     []int         // classes the classifier finds more probable
	kept     []bool
}

// ganCandidates generates ⌈quota·oversample⌉ images per class with their
// texts and writes the images into dir/images.
func (t *trainer) ganCandidates(dir string, r int, quotas []int) (*roundCandidates, error) {
	g, gc := t.gan, t.cfg.GAN
	var classes []int64
	for c, q := range quotas {
		for k := 0; k < int(math.Ceil(float64(q)*gc.Generate.Oversample)); k++ {
			classes = append(classes, int64(c))
		}
	}
	roundSeed := uint64(seed.Torch(uint64(t.cfg.Seed), 0x67616e, uint64(r)))
	images, realness, err := g.tr.Sample(classes, roundSeed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(roundSeed, 0x74657874))
	per := 3 * gc.ImageSize * gc.ImageSize
	cs := &roundCandidates{recs: make([]data.Record, len(classes)), realness: realness,
		conf: make([]float64, len(classes)), rank: make([]int, len(classes)), kept: make([]bool, len(classes))}
	for i, c := range classes {
		text, err := g.text.Text(int(c), rng)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "images", fmt.Sprintf("%05d.png", i))
		if err := gan.WritePNG(path, gan.ToImage(images[i*per:(i+1)*per], gc.ImageSize)); err != nil {
			return nil, err
		}
		cs.recs[i] = data.Record{ID: fmt.Sprintf("gan/round-%d/%05d", r, i), Image: path, Texts: []string{text},
			Label: t.ds.Labels[c], LabelID: int(c), Attrs: map[string]string{"generated": fmt.Sprintf("round-%d", r)}}
		cs.conf[i] = -1
	}
	return cs, nil
}

// ganKeep filters the candidates (confidence, realness), keeps each
// class's best (confidence × realness) up to its quota, marks them in
// cs.kept, fills the round's counts and returns the kept records
// interleaved across classes in proportion to their counts, so that any
// prefix (the mix.ratio cap) is balanced like the whole.
func (t *trainer) ganKeep(cs *roundCandidates, info *roundInfo) []data.Record {
	f := t.cfg.GAN.Filter
	byClass := make([][]int, len(t.ds.Labels))
	for i, rec := range cs.recs {
		lowC := info.ConfidenceOn && (cs.conf[i] < f.MinConfidence || (f.TopK > 0 && cs.rank[i] >= f.TopK))
		lowR := cs.realness[i] < f.MinRealness
		if lowC {
			info.LowConfidence++
		}
		if lowR {
			info.LowRealness++
		}
		if !lowC && !lowR {
			byClass[rec.LabelID] = append(byClass[rec.LabelID], i)
		}
	}
	score := func(i int) float64 { return max(cs.conf[i], 0.01) * cs.realness[i] }
	type ranked struct {
		i   int
		pos float64
	}
	var order []ranked
	for c, idx := range byClass {
		sort.SliceStable(idx, func(a, b int) bool { return score(idx[a]) > score(idx[b]) })
		idx = idx[:min(len(idx), info.Quotas[c])] // best first, so a capped prefix keeps the best
		info.KeptPerClass[c] = len(idx)
		for k, i := range idx {
			cs.kept[i] = true
			order = append(order, ranked{i, (float64(k) + 0.5) / float64(len(idx))})
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		if order[a].pos != order[b].pos {
			return order[a].pos < order[b].pos
		}
		return order[a].i < order[b].i
	})
	var kept []data.Record
	for _, o := range order {
		kept = append(kept, cs.recs[o.i])
		info.MeanConfidence += max(cs.conf[o.i], 0)
		info.MeanRealness += cs.realness[o.i]
	}
	info.Kept = len(kept)
	if info.Kept > 0 {
		info.MeanConfidence /= float64(info.Kept)
		info.MeanRealness /= float64(info.Kept)
	}
	return kept
}

// logRound writes the round's one-line summary to the run log.
func (t *trainer) logRound(info roundInfo) {
	rs := info.Train
	stable := "not stable: " + rs.Reason
	if rs.Stable {
		stable = fmt.Sprintf("stable at step %d", rs.StableAt)
	}
	fmt.Fprintf(t.log, "gan round %d: %d steps (%s) D %.3f G %.3f D(x) %.2f D(G(z)) %.2f | %d candidates, %d low confidence, %d low realness, %d kept | %.1fs\n",
		info.Round, rs.Steps, stable, rs.Last.LossD, rs.Last.LossG, rs.Last.DReal, rs.Last.DFake,
		info.Candidates, info.LowConfidence, info.LowRealness, info.Kept, info.Seconds)
}

// finishRound writes candidates.jsonl, records.jsonl and, last, round.json.
func (t *trainer) finishRound(dir string, info roundInfo, cands []candidate, kept []data.Record) error {
	var cb, rb strings.Builder
	for _, c := range cands {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		cb.Write(append(b, '\n'))
	}
	for _, r := range kept {
		r.Image = filepath.Join("images", filepath.Base(r.Image))
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		rb.Write(append(b, '\n'))
	}
	if err := atomicfile.Write(filepath.Join(dir, candidatesFile), []byte(cb.String())); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, recordsFile), []byte(rb.String())); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(dir, roundInfoFile), info)
}

// writeRoundGrid writes up to 8 kept pairs per class as samples.png.
func (t *trainer) writeRoundGrid(dir string, r int, kept []data.Record) error {
	perClass := map[int]int{}
	var cells []gan.GridCell
	sorted := append([]data.Record(nil), kept...)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].LabelID < sorted[b].LabelID })
	for _, rec := range sorted {
		if perClass[rec.LabelID] >= 8 {
			continue
		}
		perClass[rec.LabelID]++
		img, err := readPNG(rec.Image)
		if err != nil {
			return err
		}
		cells = append(cells, gan.GridCell{Image: img, Caption: rec.Label + ": " + rec.Texts[0]})
	}
	if len(cells) == 0 {
		return nil
	}
	return gan.WriteGrid(filepath.Join(dir, samplesFile), cells, gan.GridOptions{Cols: 8, Title: fmt.Sprintf("GAN round %d: kept samples (class: generated text)", r)})
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// ganConfidence returns the current classifier's probability of each
// record's label and the label's rank (0 = the most probable class).
func (t *trainer) ganConfidence(recs []data.Record) ([]float64, []int, error) {
	l, err := data.NewLoader(recs, infer.LoaderConfig(t.cfg))
	if err != nil {
		return nil, nil, err
	}
	ev, err := t.model.Predict(l)
	if err != nil {
		return nil, nil, fmt.Errorf("gan confidence: %w", err)
	}
	out := make([]float64, len(recs))
	rank := make([]int, len(recs))
	for i, p := range ev.Probs {
		y := ev.Labels[i]
		out[i] = p[y]
		for _, q := range p {
			if q > p[y] {
				rank[i]++
			}
		}
	}
	return out, rank, nil
}

// ganMixed returns the generated records to train on: the latest round's
// (mix.keep latest) or every round's, newest first (all), capped at
// mix.ratio × the real training set.
func (t *trainer) ganMixed() ([]data.Record, error) {
	g, gc := t.gan, t.cfg.GAN
	first := g.rounds
	if gc.Mix.Keep == "all" {
		first = 1
	}
	var out []data.Record
	for r := g.rounds; r >= first && r >= 1; r-- {
		recs, ok := g.records[r]
		if !ok {
			var err error
			if recs, err = readRound(filepath.Join(t.dir, GANDir, fmt.Sprintf("round-%d", r))); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
			g.records[r] = recs
		}
		out = append(out, recs...)
	}
	if limit := int(gc.Mix.Ratio * float64(len(t.ds.Train))); len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// readRound reads the kept records of a complete round folder.
func readRound(dir string) ([]data.Record, error) {
	if _, err := os.Stat(filepath.Join(dir, roundInfoFile)); err != nil {
		return nil, fmt.Errorf("gan round %s is incomplete (no %s): %w", dir, roundInfoFile, err)
	}
	f, err := os.Open(filepath.Join(dir, recordsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []data.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var r data.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", filepath.Join(dir, recordsFile), line, err)
		}
		r.Image = filepath.Join(dir, r.Image)
		out = append(out, r)
	}
	return out, sc.Err()
}

// ganState returns the GAN's tensors to store in checkpoints under names
// starting with "gan.". The tensors stay owned by the GAN.
func (t *trainer) ganState() map[string]*ts.Tensor {
	g := t.gan
	if g == nil {
		return nil
	}
	out := g.tr.State()
	tensor.Drop(g.meta)
	var err error
	if g.meta, err = tensor.FromSlice([]int64{int64(g.rounds)}, []int64{1}, gotch.CPU); err == nil {
		out["gan.rounds"] = g.meta
	}
	return out
}

// restoreGAN loads the GAN's tensors from a checkpoint.
func (t *trainer) restoreGAN(saved map[string]*ts.Tensor) error {
	if !t.cfg.GAN.Enabled {
		return nil
	}
	rounds, ok := saved["gan.rounds"]
	if !ok {
		// Saved before the loop set up (cannot happen: the GAN is built at the first epoch).
		return errors.New("gan: the checkpoint has no gan.rounds")
	}
	g, err := t.ganSetup()
	if err != nil {
		return err
	}
	if err := g.tr.Restore(saved); err != nil {
		return err
	}
	n, err := tensor.Int64s(rounds)
	if err != nil || len(n) != 1 {
		return fmt.Errorf("gan: gan.rounds: %v", err)
	}
	g.rounds = int(n[0])
	return nil
}

// SampleOptions configure SampleGAN.
type SampleOptions struct {
	Class   string // class name (or its slug, or its id)
	N       int    // images
	Seed    uint64 // noise and text seed
	Out     string // PNG path; empty = RUN_DIR/gan/sample-<class>.png
	Threads int    // libtorch threads; 0 = one per core
}

// SampleGAN loads the GAN of a run folder from its last checkpoint and
// writes a PNG grid of N generated images of one class, each with a
// generated text under it. It returns the PNG's path.
func SampleGAN(runDir string, o SampleOptions) (string, error) {
	cfg, err := experiment.Load(filepath.Join(runDir, runfolder.ConfigFile), nil)
	if err != nil {
		return "", err
	}
	if !cfg.GAN.Enabled {
		return "", fmt.Errorf("gan sample: %s was trained without the GAN (gan.enabled is false)", runDir)
	}
	labels, class, err := sampleClass(runDir, o.Class)
	if err != nil {
		return "", err
	}
	if o.N < 1 {
		return "", fmt.Errorf("gan sample: -n %d: want at least 1 image", o.N)
	}
	table, err := gan.LoadAttributeTable(filepath.Join(runDir, GANDir, AttributesFile))
	if err != nil {
		return "", err
	}
	text, err := gan.NewTemplateText(table, cfg.GAN.Text.Templates)
	if err != nil {
		return "", err
	}
	out := o.Out
	if out == "" {
		out = filepath.Join(runDir, GANDir, "sample-"+gan.Slug(labels[class])+".png")
	}
	w, err := device.Start(device.Config{Device: cfg.Device, Threads: o.Threads})
	if err != nil {
		return "", err
	}
	defer w.Close()
	err = w.Do(func() error {
		tr, err := gan.NewTrainer(gan.Options{Config: experiment.GANConfig(cfg), Classes: len(labels), Table: table, Device: w.Device,
			Seed: uint64(seed.Torch(uint64(cfg.Seed), 0x67616e))})
		if err != nil {
			return err
		}
		ck, err := checkpoint.Load(filepath.Join(runDir, runfolder.CheckDir, runfolder.LastFile))
		if err != nil {
			return err
		}
		err = tr.Restore(ck.Extra)
		ck.Drop()
		if err != nil {
			return fmt.Errorf("gan sample: %w", err)
		}
		return writeSampleGrid(tr, text, out, labels[class], class, o)
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// sampleClass reads the run's labels and finds the class named by name
// (its label, case-insensitively, its slug, or its id).
func sampleClass(runDir, name string) (labels []string, class int, err error) {
	b, err := os.ReadFile(filepath.Join(runDir, runfolder.LabelsFile))
	if err == nil {
		err = json.Unmarshal(b, &labels)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("gan sample: labels: %w", err)
	}
	class = -1
	for i, l := range labels {
		if l == name || strings.EqualFold(l, name) || gan.Slug(l) == name {
			class = i
		}
	}
	if id, err := strconv.Atoi(name); err == nil && class < 0 && id >= 0 && id < len(labels) {
		class = id
	}
	if class < 0 {
		return nil, 0, fmt.Errorf("gan sample: no class %q; the classes are %q", name, labels)
	}
	return labels, class, nil
}

// writeSampleGrid samples o.N images of class with tr and writes them with
// texts from text as a grid at out.
func writeSampleGrid(tr *gan.Trainer, text gan.TextGenerator, out, label string, class int, o SampleOptions) error {
	classes := make([]int64, o.N)
	for i := range classes {
		classes[i] = int64(class)
	}
	images, realness, err := tr.Sample(classes, o.Seed)
	if err != nil {
		return err
	}
	s := tr.Cfg.ImageSize
	per := 3 * s * s
	rng := rand.New(rand.NewPCG(o.Seed, 0x74657874))
	cells := make([]gan.GridCell, o.N)
	for i := range cells {
		txt, err := text.Text(class, rng)
		if err != nil {
			return err
		}
		cells[i] = gan.GridCell{Image: gan.ToImage(images[i*per:(i+1)*per], s), Caption: fmt.Sprintf("%s (D %.2f)", txt, realness[i])}
	}
	return gan.WriteGrid(out, cells, gan.GridOptions{Cols: 8,
		Title: fmt.Sprintf("%s: %d generated images with generated texts (D = discriminator's D(x))", label, o.N)})
}
