package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// PrepareOptions are the settings every Prepare function shares. Start from
// DefaultPrepareOptions.
type PrepareOptions struct {
	// Out is the folder to write the prepared dataset into (created if needed).
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
	// Workers is the number of goroutines checking images (0: GOMAXPROCS).
	Workers int
	// Quiet silences progress bars; Progress is where they go (nil: stderr). Bars are only
	// drawn on a terminal.
	Quiet    bool
	Progress io.Writer
}

// DefaultPrepareOptions returns the paper's settings: 8:1:1 split with seed 42, at most 5%
// bad records, no minimum class size.
func DefaultPrepareOptions(out string) PrepareOptions {
	return PrepareOptions{Out: out, MinCount: 1, MaxBadShare: 0.05, Ratios: DefaultRatios, Seed: DefaultSeed}
}

// candidates is what a source adapter hands to the common prepare pipeline.
type candidates struct {
	source     string
	imageRoot  string // absolute; record images are relative to it (slash or OS form)
	labelField string
	inputs     map[string]string
	options    map[string]string
	notes      []string
	recs       []Record
	problems   []Problem // found by the adapter: skips and bad rows
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
	if o.Out == "" {
		return fail(errors.New("no output folder"))
	}
	if o.Ratios == (Ratios{}) {
		o.Ratios = DefaultRatios
	}
	if o.MaxBadShare < 0 || o.MaxBadShare > 1 {
		return fail(fmt.Errorf("max bad share %v: must be in [0, 1]", o.MaxBadShare))
	}
	card := newCard(c.source)
	card.LabelField = c.labelField
	card.MaxBadShare = o.MaxBadShare
	card.Inputs = c.inputs
	card.Notes = c.notes
	for k, v := range c.options {
		card.Options[k] = v
	}
	card.Options["min_count"] = strconv.Itoa(o.MinCount)
	card.Options["max_bad_share"] = strconv.FormatFloat(o.MaxBadShare, 'g', -1, 64)
	card.Options["ratios"] = fmt.Sprintf("%g:%g:%g", o.Ratios[0], o.Ratios[1], o.Ratios[2])
	card.Options["seed"] = strconv.FormatUint(o.Seed, 10)
	card.Options["verify_images"] = strconv.FormatBool(o.VerifyImages)

	problems := slices.Clone(c.problems)
	adapterBad := 0
	for _, p := range problems {
		if p.Kind.Bad() {
			adapterBad++
		}
	}
	recs, checkProblems := checkRecords(c, o)
	problems = append(problems, checkProblems...)
	card.addProblems(problems)
	card.Candidates = len(c.recs) + adapterBad
	if card.Candidates > 0 {
		card.BadShare = float64(card.BadTotal()) / float64(card.Candidates)
	}

	if err := os.MkdirAll(filepath.Join(o.Out, SplitsDir), 0o755); err != nil {
		return fail(err)
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
		first := ""
		for _, p := range problems {
			if p.Kind.Bad() {
				first = "; first: " + p.String()
				break
			}
		}
		return failed(fmt.Sprintf("%d of %d records are bad (%.1f%%, more than the allowed %.1f%%): %s%s",
			card.BadTotal(), card.Candidates, 100*card.BadShare, 100*o.MaxBadShare, badSummary(card.Bad), first))
	}

	// Minimum class size.
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Label]++
	}
	if o.MinCount > 1 {
		var dropped []Problem
		kept := recs[:0]
		for _, r := range recs {
			if counts[r.Label] < o.MinCount {
				dropped = append(dropped, Problem{Kind: SkipMinCount, Where: r.Origin, ID: r.ID,
					Detail: fmt.Sprintf("class %q has %d records, fewer than %d", r.Label, counts[r.Label], o.MinCount)})
				continue
			}
			kept = append(kept, r)
		}
		recs = kept
		for _, l := range sortedLabels(counts) {
			if counts[l] < o.MinCount {
				card.DroppedClasses = append(card.DroppedClasses, DroppedClass{Label: l, Records: counts[l],
					Reason: fmt.Sprintf("fewer than min count %d", o.MinCount)})
				delete(counts, l)
			}
		}
		card.addProblems(dropped)
		problems = append(problems, dropped...)
	}
	if len(recs) == 0 {
		return failed("no usable records")
	}

	labels := sortedLabels(counts)
	ids := make(map[string]int, len(labels))
	for i, l := range labels {
		ids[l] = i
	}
	for i := range recs {
		recs[i].LabelID = ids[recs[i].Label]
	}

	split, err := splitWithHoldout(recs, o, c.holdout)
	if err != nil {
		return fail(err)
	}
	fillCardCounts(card, recs, labels, split)
	if err := writeDataset(o.Out, c, recs, labels, split); err != nil {
		return fail(err)
	}
	if err := writeCard(o.Out, card, problems); err != nil {
		return fail(err)
	}
	return card, nil
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
	n := len(c.recs)
	probs := make([]*Problem, n)
	seen := make(map[string]bool, n)
	needImage := make([]int, 0, n)
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
	bar := newProgress(o.Progress, o.Quiet, len(needImage), "checking images")
	errs := parallel(len(needImage), o.Workers, func(k int) error {
		r := c.recs[needImage[k]]
		return checkImage(filepath.Join(c.imageRoot, filepath.FromSlash(r.Image)), o.VerifyImages)
	}, func() { bar.add(1) })
	bar.finish()
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

// underRoot cleans an image path and checks that it stays inside root. It returns the path
// relative to root in slash form.
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

func writeDataset(out string, c *candidates, recs []Record, labels []string, split SplitResult) error {
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
		if err := writeFileAtomic(filepath.Join(out, SplitsDir, name+".txt"), []byte(sb.String())); err != nil {
			return err
		}
	}
	meta := Meta{Version: FormatVersion, Source: c.source, ImageRoot: root, LabelField: c.labelField,
		Records: len(recs), Classes: len(labels)}
	// dataset.json last: its presence marks a complete folder.
	return writeJSON(filepath.Join(out, MetaFile), meta)
}

func writeCard(out string, card *Card, problems []Problem) error {
	if err := writeJSON(filepath.Join(out, CardJSONFile), card); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(out, CardMDFile), []byte(card.Markdown())); err != nil {
		return err
	}
	return writeProblems(filepath.Join(out, ProblemsFile), problems)
}

// nextCSVRow reads the next well-formed row of a CSV whose header has
// fields columns. Malformed rows, and rows with another number of fields,
// are recorded as BadMalformedRow (base:line) and skipped. It returns the
// row, where it is (base:line), and ok = false at the end of the file; err
// is an error reading file itself.
func (c *candidates) nextCSVRow(cr *csv.Reader, base, file string, fields int) (row []string, where string, ok bool, err error) {
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil, "", false, nil
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("%s:%d", base, line)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				c.skip(BadMalformedRow, fmt.Sprintf("%s:%d", base, pe.Line), "", err.Error())
				continue
			}
			return nil, "", false, fmt.Errorf("%s: %w", file, err)
		}
		if len(row) != fields {
			c.skip(BadMalformedRow, where, "", fmt.Sprintf("%d fields, the header has %d", len(row), fields))
			continue
		}
		return row, where, true, nil
	}
}
