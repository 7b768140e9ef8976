package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
)

// PrepareOptions are the settings every Prepare function shares. Start from
// DefaultPrepareOptions.
type PrepareOptions struct {
	// Out is the folder to write the prepared dataset into (created if needed). No input
	// file may be one of the files prepare writes there.
	Out string
	// MinCount drops classes with fewer records (reported in the card).
	MinCount int
	// MaxBadShare is the largest share of bad records (of those checked) that prepare
	// accepts; above it prepare fails and writes only the card and problems.jsonl.
	MaxBadShare float64
	// Ratios are the train:val:test shares (zero value: 8:1:1); Seed fixes the split.
	Ratios Ratios
	Seed   uint64
	// VerifyImages decodes every image fully; otherwise only the header is read (fast, but a
	// truncated file is then found by the loader instead).
	VerifyImages bool
	// MaxImagePixels bounds width × height of every image, read from its header before
	// anything is decoded (0: DefaultMaxImagePixels). A larger image is a bad record
	// (image_too_large).
	MaxImagePixels int64
	// BaseSize, when positive, also stores every image whose shorter side is longer than
	// BaseSize pixels shrunk to that side (antialiased, as JPEG) under base-<BaseSize>/ in
	// Out, and records the setting in dataset.json: the loader then decodes these small
	// files instead of the full-size photos (see BaseImages). It implies a full decode of
	// every image, as VerifyImages does. At most MaxBaseSize.
	BaseSize int
	// Workers is the number of goroutines checking images (0: GOMAXPROCS).
	Workers int
	// Quiet silences progress bars; Progress is where they go (nil: stderr). Bars are only
	// drawn on a terminal.
	Quiet    bool
	Progress io.Writer
}

// Bounds of PrepareOptions.
const (
	// MaxWorkers bounds PrepareOptions.Workers and LoaderConfig.Workers.
	MaxWorkers = 1024
	// MaxBaseSize bounds PrepareOptions.BaseSize.
	MaxBaseSize = 4096
)

// DefaultPrepareOptions returns the paper's settings: 8:1:1 split with seed 42, at most 5%
// bad records, no minimum class size.
func DefaultPrepareOptions(out string) PrepareOptions {
	return PrepareOptions{Out: out, MinCount: 1, MaxBadShare: 0.05, Ratios: DefaultRatios, Seed: DefaultSeed}
}

// check returns the first invalid option.
func (o PrepareOptions) check() error {
	switch {
	case o.Out == "":
		return errors.New("no output folder")
	case !(o.MaxBadShare >= 0 && o.MaxBadShare <= 1):
		return fmt.Errorf("max bad share %v: must be in [0, 1]", o.MaxBadShare)
	case o.Workers < 0 || o.Workers > MaxWorkers:
		return fmt.Errorf("workers %d: must be in [0, %d] (0: one per core)", o.Workers, MaxWorkers)
	case o.MinCount < 0:
		return fmt.Errorf("min count %d: must not be negative", o.MinCount)
	case o.MaxImagePixels < 0:
		return fmt.Errorf("max image pixels %d: must not be negative (0: the default %d)", o.MaxImagePixels, DefaultMaxImagePixels)
	case o.BaseSize < 0 || o.BaseSize > MaxBaseSize:
		return fmt.Errorf("base size %d: must be in [0, %d] (0: store no shrunk images)", o.BaseSize, MaxBaseSize)
	}
	for _, r := range o.Ratios {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return fmt.Errorf("ratios %v: shares must be finite and non-negative", o.Ratios)
		}
	}
	return nil
}

// outputNames are the files prepare writes into its output folder.
var outputNames = []string{ManifestFile, LabelsFile, MetaFile, CardJSONFile, CardMDFile, ProblemsFile}

// checkInputs refuses an output folder where prepare would overwrite one of its inputs (for
// example --file DIR/manifest.jsonl --out DIR), before anything is read or written.
func (o PrepareOptions) checkInputs(inputs ...string) error {
	outs := make([]string, 0, len(outputNames)+len(SplitNames))
	for _, n := range outputNames {
		outs = append(outs, filepath.Join(o.Out, n))
	}
	for _, n := range SplitNames {
		outs = append(outs, filepath.Join(o.Out, SplitsDir, n+".txt"))
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		absIn, _ := filepath.Abs(in)
		for _, out := range outs {
			absOut, _ := filepath.Abs(out)
			if absIn == absOut || sameFile(in, out) {
				return fmt.Errorf("the output folder %s would overwrite the input %s: choose another --out", o.Out, in)
			}
		}
	}
	return nil
}

// candidates is what a source adapter hands to the common prepare pipeline.
type candidates struct {
	source     string
	imageRoot  string // absolute; record images are relative to it (slash or OS form)
	labelField string
	inputs     map[string]string
	options    map[string]string
	notes      []string
	lines      map[string]int // physical lines read per tabular input
	accounted  map[string]int // of those, the lines of the header, records and problems
	recs       []Record
	problems   []Problem // found by the adapter: skips and bad rows
	// textFields, when the texts come from several named fields (manifest text columns),
	// names them; each record's fieldTexts holds its values, for measuring how well each
	// field alone predicts the label.
	textFields []string
	// leakage holds measurements the adapter made itself (MET measures before it chooses
	// the text fields); when set, finish does not measure again.
	leakage []FieldLeak
	// holdout, when set, sends matching records to test and splits the rest into train
	// and val only.
	holdout func(Record) bool
}

func (c *candidates) skip(kind Kind, where, id, detail string) {
	c.problems = append(c.problems, Problem{Kind: kind, Where: where, ID: id, Detail: detail})
}

// headerError is a CSV header that lacks expected columns.
type headerError struct{ msg string }

func (e *headerError) Error() string { return e.msg }

// abort handles an input that fails as a whole (unreadable file, wrong header): when o.Out is
// set it writes a failed card with one problem (bad_header or bad_input_file) and
// problems.jsonl, so the failure is on record like any other; the error is returned.
func abort(c *candidates, o PrepareOptions, err error) (*Card, error) {
	err = fmt.Errorf("prepare %s: %w", c.source, err)
	if o.Out == "" {
		return nil, err
	}
	kind := BadInputFile
	var he *headerError
	if errors.As(err, &he) {
		kind = BadHeader
	}
	card := newCard(c.source)
	card.Inputs, card.LabelField, card.MaxBadShare = c.inputs, c.labelField, o.MaxBadShare
	for k, v := range c.options {
		card.Options[k] = v
	}
	card.Failed = err.Error()
	ps := []Problem{{Kind: kind, Detail: err.Error()}}
	card.addProblems(ps)
	if os.MkdirAll(o.Out, 0o755) == nil {
		_ = os.Remove(filepath.Join(o.Out, MetaFile))
		_ = writeCard(o.Out, card, ps)
	}
	return card, err
}

// finish checks the candidates, applies MinCount, labels, splits and writes the folder.
func finish(c *candidates, o PrepareOptions) (*Card, error) {
	fail := func(err error) (*Card, error) { return nil, fmt.Errorf("prepare %s: %w", c.source, err) }
	if err := o.check(); err != nil {
		return fail(err)
	}
	if o.Ratios == (Ratios{}) {
		o.Ratios = DefaultRatios
	}
	if err := os.MkdirAll(filepath.Join(o.Out, SplitsDir), 0o755); err != nil {
		return fail(err)
	}
	card := newPrepareCard(c, o)
	problems := slices.Clone(c.problems)
	adapterBad := 0
	for _, p := range problems {
		if p.Kind.Bad() {
			adapterBad += p.weight()
		}
	}
	recs, checkProblems := checkRecords(c, o)
	problems = append(problems, checkProblems...)
	card.addProblems(problems)
	card.Candidates = len(c.recs) + adapterBad
	if card.Candidates > 0 {
		card.BadShare = float64(card.BadTotal()) / float64(card.Candidates)
	}
	failed := func(msg string) (*Card, error) {
		card.Failed = msg
		_ = os.Remove(filepath.Join(o.Out, MetaFile)) // a stale dataset must not be opened
		if err := writeCard(o.Out, card, problems); err != nil {
			return fail(err)
		}
		return card, fmt.Errorf("prepare %s: %s (details: %s)", c.source, msg, filepath.Join(o.Out, CardMDFile))
	}
	if card.BadShare > o.MaxBadShare {
		return failed(badShareMessage(card, problems, o.MaxBadShare))
	}
	recs, dropped := applyMinCount(card, recs, o.MinCount)
	problems = append(problems, dropped...)
	if len(recs) == 0 {
		return failed("no usable records")
	}
	labels := assignLabels(recs)
	card.addLeakage(measureTextFields(c, recs))
	split, err := splitWithHoldout(recs, o, c.holdout)
	if err != nil {
		return fail(err)
	}
	fillCardCounts(card, recs, labels, split)
	if err := writeDataset(o, c, recs, labels, split); err != nil {
		return fail(err)
	}
	if err := writeCard(o.Out, card, problems); err != nil {
		return fail(err)
	}
	return card, nil
}

// newPrepareCard starts the card of a prepare run with its inputs and options.
func newPrepareCard(c *candidates, o PrepareOptions) *Card {
	card := newCard(c.source)
	card.LabelField = c.labelField
	card.MaxBadShare = o.MaxBadShare
	card.Inputs = c.inputs
	card.InputLines = c.lines
	card.Notes = c.notes
	for k, v := range c.options {
		card.Options[k] = v
	}
	card.Options["min_count"] = strconv.Itoa(o.MinCount)
	card.Options["max_bad_share"] = strconv.FormatFloat(o.MaxBadShare, 'g', -1, 64)
	card.Options["ratios"] = fmt.Sprintf("%g:%g:%g", o.Ratios[0], o.Ratios[1], o.Ratios[2])
	card.Options["seed"] = strconv.FormatUint(o.Seed, 10)
	card.Options["verify_images"] = strconv.FormatBool(o.VerifyImages)
	card.Options["max_image_pixels"] = strconv.FormatInt(imageCheck{maxPixels: o.MaxImagePixels}.limit(), 10)
	if o.BaseSize > 0 {
		card.Options["base_size"] = strconv.Itoa(o.BaseSize)
	}
	return card
}

// badShareMessage says why prepare refused the input: the bad share and the first problem.
func badShareMessage(card *Card, problems []Problem, maxShare float64) string {
	first := ""
	for _, p := range problems {
		if p.Kind.Bad() {
			first = "; first: " + p.String()
			break
		}
	}
	return fmt.Sprintf("%d of %d records are bad (%.1f%%, more than the allowed %.1f%%): %s%s",
		card.BadTotal(), card.Candidates, 100*card.BadShare, 100*maxShare, badSummary(card.Bad), first)
}

// applyMinCount drops the records of classes with fewer than minCount records, noting the
// classes in the card; it returns the kept records and a problem per dropped record.
func applyMinCount(card *Card, recs []Record, minCount int) ([]Record, []Problem) {
	if minCount <= 1 {
		return recs, nil
	}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Label]++
	}
	var dropped []Problem
	kept := recs[:0]
	for _, r := range recs {
		if counts[r.Label] < minCount {
			dropped = append(dropped, Problem{Kind: SkipMinCount, Where: r.Origin, ID: r.ID,
				Detail: fmt.Sprintf("class %q has %d records, fewer than %d", r.Label, counts[r.Label], minCount)})
			continue
		}
		kept = append(kept, r)
	}
	for _, l := range sortedLabels(counts) {
		if counts[l] < minCount {
			card.DroppedClasses = append(card.DroppedClasses, DroppedClass{Label: l, Records: counts[l],
				Reason: fmt.Sprintf("fewer than min count %d", minCount)})
		}
	}
	card.addProblems(dropped)
	return kept, dropped
}

// assignLabels numbers the labels in sorted order, sets every record's LabelID and returns
// the label names.
func assignLabels(recs []Record) []string {
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Label]++
	}
	labels := sortedLabels(counts)
	ids := make(map[string]int, len(labels))
	for i, l := range labels {
		ids[l] = i
	}
	for i := range recs {
		recs[i].LabelID = ids[recs[i].Label]
	}
	return labels
}

func sortedLabels(counts map[string]int) []string {
	out := make([]string, 0, len(counts))
	for l := range counts {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func splitWithHoldout(recs []Record, o PrepareOptions, holdout func(Record) bool) (SplitResult, error) {
	if holdout == nil {
		return Split(recs, o.Ratios, o.Seed, nil)
	}
	var rest, held []int
	for i, r := range recs {
		if holdout(r) {
			held = append(held, i)
		} else {
			rest = append(rest, i)
		}
	}
	if len(rest) == 0 || len(held) == 0 {
		return SplitResult{}, fmt.Errorf("holdout: %d records held out and %d left: need both", len(held), len(rest))
	}
	sub := make([]Record, len(rest))
	for i, j := range rest {
		sub[i] = recs[j]
	}
	ratios := Ratios{o.Ratios[0], o.Ratios[1], 0}
	if ratios == (Ratios{}) {
		ratios = Ratios{8, 1, 0}
	}
	res, err := Split(sub, ratios, o.Seed, nil)
	if err != nil {
		return res, err
	}
	remap := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, j := range idx {
			out[i] = rest[j]
		}
		return out
	}
	res.Train, res.Val, res.Test = remap(res.Train), remap(res.Val), held
	return res, nil
}

// checkRecords runs the checks common to all sources; it returns the good records and a
// problem for each bad one (the first check that fails).
func checkRecords(c *candidates, o PrepareOptions) ([]Record, []Problem) {
	probs := make([]*Problem, len(c.recs))
	needImage := checkFields(c, probs)
	errs := checkImages(c, o, needImage)
	for k, err := range errs {
		if err == nil {
			continue
		}
		i := needImage[k]
		r := c.recs[i]
		kind := BadCorruptImage
		var ie *ImageError
		if errors.As(err, &ie) {
			kind = ie.Kind
		}
		probs[i] = &Problem{Kind: kind, Where: r.Origin, ID: r.ID, Detail: err.Error()}
	}
	var good []Record
	var out []Problem
	for i, r := range c.recs {
		if probs[i] != nil {
			out = append(out, *probs[i])
			continue
		}
		good = append(good, r)
	}
	return good, out
}

// checkFields checks ids, texts, labels and image paths (lexically), cleaning them in place.
// It fills probs for bad records and returns the indices of the records whose image is to
// be checked.
func checkFields(c *candidates, probs []*Problem) []int {
	seen := make(map[string]bool, len(c.recs))
	needImage := make([]int, 0, len(c.recs))
	for i := range c.recs {
		r := &c.recs[i]
		r.LabelID = -1
		bad := func(k Kind, d string) { probs[i] = &Problem{Kind: k, Where: r.Origin, ID: r.ID, Detail: d} }
		texts := make([]string, 0, len(r.Texts))
		for _, t := range r.Texts {
			if t = strings.TrimSpace(t); t != "" {
				texts = append(texts, t)
			}
		}
		r.Texts = texts
		r.Label = strings.TrimSpace(r.Label)
		switch {
		case r.ID == "":
			bad(BadMalformedRow, "empty id")
		case strings.ContainsAny(r.ID, "\r\n"):
			bad(BadMalformedRow, "id contains a line break")
		case seen[r.ID]:
			bad(BadDuplicateID, "id "+strconv.Quote(r.ID)+" seen before; the first is kept")
		}
		if probs[i] != nil {
			continue
		}
		seen[r.ID] = true
		rel, ok := underRoot(c.imageRoot, r.Image)
		switch {
		case r.Image == "":
			bad(BadMissingImage, "no image path")
		case !ok:
			bad(BadPathEscapes, fmt.Sprintf("image path %q leaves the image root %s", r.Image, c.imageRoot))
		case len(r.Texts) == 0:
			bad(BadEmptyText, "no non-blank text")
		case r.Label == "":
			bad(BadEmptyLabel, "blank label")
		default:
			r.Image = rel
			needImage = append(needImage, i)
		}
	}
	return needImage
}

// checkImages checks the images of the records at idx in parallel: confined to the image
// root once symbolic links are resolved, a regular JPEG or PNG file, within the pixel limit
// (header), fully decodable when VerifyImages or BaseSize asks for it. With BaseSize the
// shrunk copy is stored and the record's Base set. It returns an error per index.
func checkImages(c *candidates, o PrepareOptions, idx []int) []error {
	chk := imageCheck{root: realRoot(c.imageRoot), maxPixels: o.MaxImagePixels}
	var store *baseStore
	if o.BaseSize > 0 {
		store = newBaseStore(o.Out, o.BaseSize)
	}
	bar := newProgress(o.Progress, o.Quiet, len(idx), "checking images")
	defer bar.finish()
	return parallel(len(idx), o.Workers, func(k int) error {
		r := &c.recs[idx[k]]
		path := filepath.Join(c.imageRoot, filepath.FromSlash(r.Image))
		if store == nil {
			return chk.check(path, o.VerifyImages)
		}
		base, err := store.put(chk, path, r.Image)
		r.Base = base
		return err
	}, func() { bar.add(1) })
}

// underRoot cleans an image path and checks that it stays inside root (lexically: symbolic
// links are resolved when the image is checked). It returns the path relative to root in
// slash form.
func underRoot(root, p string) (string, bool) {
	if p == "" {
		return "", true
	}
	var rel string
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(root, p)
		if err != nil {
			return "", false
		}
		rel = r
	} else {
		rel = filepath.Clean(filepath.FromSlash(p))
	}
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) || rel == "." {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func fillCardCounts(card *Card, recs []Record, labels []string, split SplitResult) {
	card.Records = len(recs)
	card.Classes = len(labels)
	card.SmallClasses = split.Small
	card.MixedGroups = split.MixedGroups
	per := make([]ClassCount, len(labels))
	for i, l := range labels {
		per[i] = ClassCount{Label: l, ID: i}
	}
	groups := map[string]bool{}
	classGroups := make([]map[string]bool, len(labels))
	for i := range classGroups {
		classGroups[i] = map[string]bool{}
	}
	for _, r := range recs {
		groups[r.GroupKey()] = true
		classGroups[r.LabelID][r.GroupKey()] = true
		per[r.LabelID].Total++
	}
	card.Groups = len(groups)
	for i := range per {
		per[i].Groups = len(classGroups[i])
	}
	for _, name := range SplitNames {
		idx := split.Indices(name)
		g := map[string]bool{}
		for _, j := range idx {
			r := recs[j]
			g[r.GroupKey()] = true
			switch name {
			case Train:
				per[r.LabelID].Train++
			case Val:
				per[r.LabelID].Val++
			case Test:
				per[r.LabelID].Test++
			}
		}
		card.SplitRecords[name] = len(idx)
		card.SplitGroups[name] = len(g)
	}
	card.PerClass = per
}

func writeDataset(o PrepareOptions, c *candidates, recs []Record, labels []string, split SplitResult) error {
	out := o.Out
	root := c.imageRoot
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if rel, err := filepath.Rel(absOut, root); err == nil {
		root = filepath.ToSlash(rel)
	}
	_ = os.Remove(filepath.Join(out, MetaFile)) // marks the folder incomplete while writing
	if err := WriteManifest(filepath.Join(out, ManifestFile), recs); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(out, LabelsFile), labels); err != nil {
		return err
	}
	for _, name := range SplitNames {
		var sb strings.Builder
		for _, j := range split.Indices(name) {
			sb.WriteString(recs[j].ID)
			sb.WriteByte('\n')
		}
		if err := atomicfile.Write(filepath.Join(out, SplitsDir, name+".txt"), []byte(sb.String())); err != nil {
			return err
		}
	}
	meta := Meta{Version: FormatVersion, Source: c.source, ImageRoot: root, LabelField: c.labelField,
		Records: len(recs), Classes: len(labels)}
	if o.BaseSize > 0 {
		meta.Base = newBaseStore(out, o.BaseSize).meta()
	}
	// dataset.json last: its presence marks a complete folder.
	return writeJSON(filepath.Join(out, MetaFile), meta)
}

func writeCard(out string, card *Card, problems []Problem) error {
	if err := writeJSON(filepath.Join(out, CardJSONFile), card); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, CardMDFile), []byte(card.Markdown())); err != nil {
		return err
	}
	return writeProblems(filepath.Join(out, ProblemsFile), problems)
}
