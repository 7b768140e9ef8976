package pretrained

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// DefaultBasePrefixes are the base-model prefixes LoadInto adds or strips,
// as transformers does when a checkpoint of a bare model (BertModel) is loaded
// into a model with a head (BertForSequenceClassification), or back.
var DefaultBasePrefixes = []string{"bert.", "vit."}

// alwaysIgnoredUnexpected reports checkpoint tensors that are never worth
// reporting when the model lacks them: buffers older transformers versions
// saved although the model recomputes them ("embeddings.position_ids", under
// any prefix).
func alwaysIgnoredUnexpected(name string) bool {
	const buf = "embeddings.position_ids"
	return name == buf || strings.HasSuffix(name, "."+buf)
}

// LoadOptions configures LoadInto.
type LoadOptions struct {
	// Strict makes LoadInto fail when anything is missing, unexpected or
	// mis-shaped. Tensors that match are still copied.
	Strict bool
	// Rename maps checkpoint names to new names before anything else.
	Rename map[string]string
	// RenameFunc, when set, renames checkpoint names after Rename and after
	// the layout translation; return the name unchanged to keep it.
	RenameFunc func(string) string
	// ModelPrefix restricts loading to the model variables whose names start
	// with it (for example "text." in a multimodal model); it is removed
	// before matching, and other variables are neither loaded nor reported.
	ModelPrefix string
	// BasePrefixes are stripped from checkpoint names when the model does not
	// use them, and stripped from model names (for matching) when the
	// checkpoint does not use them. nil means DefaultBasePrefixes; an empty
	// non-nil slice turns this off.
	BasePrefixes []string
	// Layout is the checkpoint's naming scheme; LayoutAuto detects it.
	Layout Layout
	// IgnoreMissing and IgnoreUnexpected are regular expressions of names
	// not to report (transformers' _keys_to_ignore_on_load_*). Missing names
	// are model names; unexpected names are checkpoint names.
	IgnoreMissing, IgnoreUnexpected []string
}

// ShapeMismatch is a model variable whose checkpoint tensor has another shape.
type ShapeMismatch struct {
	Name       string // model name
	Source     string // checkpoint name
	Model      []int64
	Checkpoint []int64
}

// LoadReport says what LoadInto did, in the terms transformers uses.
type LoadReport struct {
	// Layout is the checkpoint layout that was used.
	Layout Layout
	// Loaded lists the model variables that were copied.
	Loaded []string
	// Missing lists model variables the checkpoint does not provide
	// (left as initialised).
	Missing []string
	// Unexpected lists checkpoint tensors the model has no variable for.
	Unexpected []string
	// Mismatched lists variables left as initialised because the shapes differ.
	Mismatched []ShapeMismatch
}

// Clean reports whether nothing was missing, unexpected or mis-shaped.
func (r *LoadReport) Clean() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Mismatched) == 0
}

// String summarises the report over a few lines, listing at most 10 names per
// category.
func (r *LoadReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loaded %d tensors (layout %s)", len(r.Loaded), r.Layout)
	list := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s (%d): %s", title, len(names), strings.Join(firstN(names, 10), ", "))
		if len(names) > 10 {
			b.WriteString(", ...")
		}
	}
	list("missing, newly initialised", r.Missing)
	list("unexpected, unused", r.Unexpected)
	if len(r.Mismatched) > 0 {
		var ms []string
		for _, m := range r.Mismatched {
			ms = append(ms, fmt.Sprintf("%s: checkpoint %v, model %v", m.Name, m.Checkpoint, m.Model))
		}
		list("mis-shaped, newly initialised", ms)
	}
	return b.String()
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// LoadError is returned in strict mode when the checkpoint and the model do
// not match exactly; Report says how.
type LoadError struct {
	Report *LoadReport
}

// Error summarises the report.
func (e *LoadError) Error() string {
	return "checkpoint does not match the model (strict): " + e.Report.String()
}

// LoadIntoVarStore is LoadInto for all variables (parameters and buffers) of
// a gotch VarStore.
func LoadIntoVarStore(vs *nn.VarStore, src Source, opts LoadOptions) (*LoadReport, error) {
	vars := vs.Variables()
	dst := make(map[string]*ts.Tensor, len(vars))
	for name, t := range vars {
		t := t
		dst[name] = &t
	}
	return LoadInto(dst, src, opts)
}

// LoadInto copies checkpoint tensors into a model's variables, in place and
// without recording gradients, converting dtype and device as needed.
//
// Names are matched after: opts.Rename; translating a timm or torchvision
// ViT layout onto the Hugging Face ViTModel names (splitting fused q/k/v
// projections); opts.RenameFunc; renaming legacy LayerNorm gamma/beta to
// weight/bias (unless the model has such names); and adding or stripping
// base-model prefixes ("bert.", "vit.") the way transformers does. The report
// lists loaded, missing, unexpected and mis-shaped names. In strict mode any
// mismatch is an error (a *LoadError carrying the report), after the matching
// tensors have been copied. Copy failures are always errors.
func LoadInto(dst map[string]*ts.Tensor, src Source, opts LoadOptions) (*LoadReport, error) {
	shapes := make(map[string][]int64, len(dst))
	for name, t := range dst {
		if !strings.HasPrefix(name, opts.ModelPrefix) {
			continue
		}
		s, err := sizeOf(t)
		if err != nil {
			return nil, fmt.Errorf("model variable %q: %w", name, err)
		}
		shapes[name] = s
	}
	rep, jobs, err := PlanLoad(shapes, src, opts)
	if err != nil {
		return nil, err
	}
	// Copy, grouped by source so a fused tensor is read once.
	var cur *ts.Tensor
	curName := ""
	defer func() {
		if cur != nil {
			cur.Drop()
		}
	}()
	for _, j := range jobs {
		if j.Source != curName || cur == nil {
			if cur != nil {
				cur.Drop()
				cur = nil
			}
			t, err := src.Tensor(j.Source)
			if err != nil {
				return nil, fmt.Errorf("load %q: %w", j.Name, err)
			}
			cur, curName = t, j.Source
		}
		piece := cur
		if j.Parts > 0 {
			shape, _ := sizeOf(cur)
			n := shape[0] / int64(j.Parts)
			piece, err = cur.Narrow(0, int64(j.Part)*n, n, false)
			if err != nil {
				return nil, fmt.Errorf("load %q: split %q: %w", j.Name, j.Source, err)
			}
		}
		err := tensor.CopyInto(dst[j.Name], piece)
		if piece != cur {
			piece.Drop()
		}
		if err != nil {
			return nil, fmt.Errorf("load %q from checkpoint tensor %q: %w", j.Name, j.Source, err)
		}
	}
	if opts.Strict && !rep.Clean() {
		return rep, &LoadError{Report: rep}
	}
	return rep, nil
}

// LoadStep is one copy of a load plan: model variable Name gets checkpoint
// tensor Source, or part Part of Parts equal chunks of it along dimension 0
// (fused q/k/v projections).
type LoadStep struct {
	Name   string
	Source string
	Part   int
	Parts  int
}

// PlanLoad matches model variables (name -> shape) with a checkpoint's
// tensors exactly as LoadInto does, without reading any tensor data. It
// returns the report LoadInto would give (Loaded lists the variables the
// steps fill) and the copy steps, ordered by checkpoint tensor. Strict is
// not applied here.
func PlanLoad(model map[string][]int64, src Source, opts LoadOptions) (*LoadReport, []LoadStep, error) {
	// Model names considered, keyed by their name for matching.
	match := map[string]string{} // match name -> model name
	for name := range model {
		if strings.HasPrefix(name, opts.ModelPrefix) {
			match[strings.TrimPrefix(name, opts.ModelPrefix)] = name
		}
	}
	srcNames := src.Names()
	layout, trs, err := translateNames(srcNames, opts, match)
	if err != nil {
		return nil, nil, err
	}
	match = applyBasePrefixes(trs, match, opts.BasePrefixes)
	byName := map[string]recipe{}
	for _, t := range trs {
		if prev, dup := byName[t.Name]; dup {
			return nil, nil, fmt.Errorf("checkpoint tensors %q and %q both map to %q", prev.Source, t.Source, t.Name)
		}
		byName[t.Name] = t.recipe
	}
	ignMissing, err := compileAll(opts.IgnoreMissing)
	if err != nil {
		return nil, nil, err
	}
	ignUnexpected, err := compileAll(opts.IgnoreUnexpected)
	if err != nil {
		return nil, nil, err
	}
	rep := &LoadReport{Layout: layout}
	used := map[string]bool{}
	var steps []LoadStep
	for _, key := range sortedKeys(match) {
		name := match[key]
		r, ok := byName[key]
		if !ok {
			if !matchAny(ignMissing, name) {
				rep.Missing = append(rep.Missing, name)
			}
			continue
		}
		used[r.Source] = true
		want := model[name]
		have, _ := src.Shape(r.Source)
		have = partShape(have, r)
		if !slices.Equal(want, have) {
			rep.Mismatched = append(rep.Mismatched, ShapeMismatch{Name: name, Source: r.Source, Model: want, Checkpoint: have})
			continue
		}
		steps = append(steps, LoadStep{Name: name, Source: r.Source, Part: r.Part, Parts: r.Parts})
		rep.Loaded = append(rep.Loaded, name)
	}
	for _, n := range srcNames {
		if !used[n] && !matchAny(ignUnexpected, n) && !alwaysIgnoredUnexpected(n) {
			rep.Unexpected = append(rep.Unexpected, n)
		}
	}
	sort.Strings(rep.Loaded)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Source < steps[j].Source })
	return rep, steps, nil
}

// translateNames renames the checkpoint's tensors into the model's
// namespace: opts.Rename, the layout translation (detected when
// LayoutAuto), opts.RenameFunc and legacy LayerNorm names (unless the model
// has the name as it is). The recipes refer to the original names.
func translateNames(srcNames []string, opts LoadOptions, match map[string]string) (Layout, []translated, error) {
	renamed := make([]string, len(srcNames))
	orig := make(map[string]string, len(srcNames))
	for i, n := range srcNames {
		renamed[i] = n
		if r, ok := opts.Rename[n]; ok {
			renamed[i] = r
		}
		orig[renamed[i]] = n
	}
	layout := opts.Layout
	if layout == LayoutAuto {
		layout = DetectLayout(renamed)
	}
	trs, err := translateLayout(layout, renamed)
	if err != nil {
		return layout, nil, err
	}
	for i := range trs {
		trs[i].Source = orig[trs[i].Source]
		if opts.RenameFunc != nil {
			trs[i].Name = opts.RenameFunc(trs[i].Name)
		}
		if _, ok := match[trs[i].Name]; !ok {
			trs[i].Name = fixLegacyName(trs[i].Name)
		}
	}
	return layout, trs, nil
}

// applyBasePrefixes adds or strips base-model prefixes the way transformers
// does: a prefix only the checkpoint uses is stripped from its names (trs,
// in place); a prefix only the model uses is stripped from the match names
// (the returned map), when that keeps them distinct. nil prefixes means
// DefaultBasePrefixes.
func applyBasePrefixes(trs []translated, match map[string]string, prefixes []string) map[string]string {
	if prefixes == nil {
		prefixes = DefaultBasePrefixes
	}
	for _, p := range prefixes {
		srcHas := slices.ContainsFunc(trs, func(t translated) bool { return strings.HasPrefix(t.Name, p) })
		modelHas := false
		for n := range match {
			if strings.HasPrefix(n, p) {
				modelHas = true
				break
			}
		}
		switch {
		case srcHas && !modelHas:
			for i := range trs {
				trs[i].Name = strings.TrimPrefix(trs[i].Name, p)
			}
		case modelHas && !srcHas:
			stripped := map[string]string{}
			for n, full := range match {
				stripped[strings.TrimPrefix(n, p)] = full
			}
			if len(stripped) == len(match) {
				match = stripped
			}
		}
	}
	return match
}

// partShape is the shape of a recipe's result given its source shape.
func partShape(shape []int64, r recipe) []int64 {
	if shape == nil {
		return nil
	}
	out := append([]int64{}, shape...)
	if r.Parts > 0 {
		if len(out) == 0 || out[0]%int64(r.Parts) != 0 {
			return append(out, -1) // cannot split evenly: never equal to a model shape
		}
		out[0] /= int64(r.Parts)
	}
	return out
}

func compileAll(patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("ignore pattern %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// IsLoadError reports whether err is a strict-mode mismatch.
func IsLoadError(err error) bool {
	var le *LoadError
	return errors.As(err, &le)
}
