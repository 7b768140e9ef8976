package data

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Kind classifies a problem found while preparing a dataset. Bad kinds are input errors
// that count towards the bad share; skip kinds are expected filtering. Both are reported.
type Kind string

// Bad kinds: input errors, counted towards PrepareOptions.MaxBadShare.
const (
	BadMissingImage     Kind = "missing_image"            // image file named but not there
	BadCorruptImage     Kind = "corrupt_image"            // image unreadable or undecodable
	BadUnsupportedImage Kind = "unsupported_image_format" // not JPEG or PNG
	BadImageTooLarge    Kind = "image_too_large"          // header size above the pixel limit
	BadEmptyText        Kind = "empty_text"               // no non-blank text
	BadEmptyLabel       Kind = "empty_label"              // blank label value
	BadUnknownLabel     Kind = "unknown_label"            // label not in the mapping or category list
	BadDuplicateID      Kind = "duplicate_id"             // id seen before (the first one is kept)
	BadPathEscapes      Kind = "path_escapes_root"        // image path leaves the image root
	BadMalformedRow     Kind = "malformed_row"            // CSV row or JSON line that cannot be read
	BadHeader           Kind = "bad_header"               // CSV header without the expected columns
	BadInputFile        Kind = "bad_input_file"           // input file missing or unreadable as a whole
)

// Skip kinds: expected filtering, reported but not counted as bad.
const (
	SkipNoImage   Kind = "no_image"              // source object has no image (MET, emoji vendor)
	SkipNoLabel   Kind = "no_label"              // MET object with an empty label column
	SkipNoObjects Kind = "no_objects"            // COCO image without instance annotations
	SkipExcluded  Kind = "excluded"              // excluded by an option (emoji category)
	SkipMinCount  Kind = "class_below_min_count" // class has fewer records than MinCount
)

// Bad reports whether the kind is an input error rather than expected filtering.
func (k Kind) Bad() bool {
	switch k {
	case SkipNoImage, SkipNoLabel, SkipNoObjects, SkipExcluded, SkipMinCount:
		return false
	}
	return true
}

// Problem is one skipped or bad input.
type Problem struct {
	Kind Kind `json:"kind"`
	// Where is the input position, as file:line where that applies.
	Where  string `json:"where,omitempty"`
	ID     string `json:"id,omitempty"`
	Detail string `json:"detail"`
	// Lines is the number of input lines the problem covers when it is more than one (a CSV
	// quote left open swallows the lines after it); each counts as one bad record.
	Lines int `json:"lines,omitempty"`
}

// weight is the number of records the problem counts as: its lines, at least one.
func (p Problem) weight() int { return max(p.Lines, 1) }

// String formats the problem as "where: kind: id: detail".
func (p Problem) String() string {
	var sb strings.Builder
	if p.Where != "" {
		sb.WriteString(p.Where + ": ")
	}
	sb.WriteString(string(p.Kind))
	if p.ID != "" {
		sb.WriteString(" (id " + p.ID + ")")
	}
	if p.Detail != "" {
		sb.WriteString(": " + p.Detail)
	}
	return sb.String()
}

// ClassCount is one class's row in the data card.
type ClassCount struct {
	Label  string `json:"label"`
	ID     int    `json:"id"`
	Train  int    `json:"train"`
	Val    int    `json:"val"`
	Test   int    `json:"test"`
	Total  int    `json:"total"`
	Groups int    `json:"groups"`
}

// DroppedClass is a class removed as a whole, with the reason.
type DroppedClass struct {
	Label   string `json:"label"`
	Records int    `json:"records"`
	Reason  string `json:"reason"`
}

// Card is the data card of a prepared dataset (card.json; card.md renders it).
type Card struct {
	Source     string            `json:"source"`
	Inputs     map[string]string `json:"inputs"`
	Options    map[string]string `json:"options"`
	LabelField string            `json:"label_field"`
	// Failed is set when prepare refused the input; the dataset was then not written.
	Failed string `json:"failed,omitempty"`

	Records int `json:"records"`
	Groups  int `json:"groups"`
	Classes int `json:"classes"`
	// Candidates counts the records that reached checking: kept plus bad (a bad row that
	// swallowed several input lines counts once per line).
	Candidates int `json:"candidates"`
	// InputLines is the number of physical lines read from each tabular input (CSV), every
	// one of them part of the header, a record, a reported problem or blank.
	InputLines  map[string]int `json:"input_lines,omitempty"`
	BadShare    float64        `json:"bad_share"`
	MaxBadShare float64        `json:"max_bad_share"`

	Bad      map[Kind]int       `json:"bad"`
	Skipped  map[Kind]int       `json:"skipped"`
	Examples map[Kind][]Problem `json:"examples"`

	SplitRecords map[string]int `json:"split_records"`
	SplitGroups  map[string]int `json:"split_groups"`
	PerClass     []ClassCount   `json:"per_class"`
	// SmallClasses cannot be present in every split (fewer than three groups).
	SmallClasses   []SmallClass   `json:"small_classes,omitempty"`
	DroppedClasses []DroppedClass `json:"dropped_classes,omitempty"`
	MixedGroups    []string       `json:"mixed_groups,omitempty"`
	Notes          []string       `json:"notes,omitempty"`
	// Warnings are problems with the dataset as a whole that prepare did not refuse (label
	// leakage through a text field); the command line prints them.
	Warnings []string `json:"warnings,omitempty"`
	// TextFields measures, for a source whose texts join several fields, how well each
	// field alone predicts the label (see FieldLeak).
	TextFields []FieldLeak `json:"text_fields,omitempty"`
}

// maxExamples is the number of problems per kind quoted in the card (problems.jsonl has all).
const maxExamples = 10

func newCard(source string) *Card {
	return &Card{
		Source:       source,
		Inputs:       map[string]string{},
		Options:      map[string]string{},
		Bad:          map[Kind]int{},
		Skipped:      map[Kind]int{},
		Examples:     map[Kind][]Problem{},
		SplitRecords: map[string]int{},
		SplitGroups:  map[string]int{},
	}
}

func (c *Card) addProblems(ps []Problem) {
	for _, p := range ps {
		if p.Kind.Bad() {
			c.Bad[p.Kind] += p.weight()
		} else {
			c.Skipped[p.Kind] += p.weight()
		}
		if len(c.Examples[p.Kind]) < maxExamples {
			c.Examples[p.Kind] = append(c.Examples[p.Kind], p)
		}
	}
}

// BadTotal returns the number of bad records.
func (c *Card) BadTotal() int {
	n := 0
	for _, v := range c.Bad {
		n += v
	}
	return n
}

// badSummary lists kinds with counts, most frequent first, e.g. "missing_image 3, ...".
func badSummary(m map[Kind]int) string {
	kinds := sortedKinds(m)
	sort.SliceStable(kinds, func(a, b int) bool { return m[kinds[a]] > m[kinds[b]] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKinds(m map[Kind]int) []Kind {
	out := make([]Kind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Summary is a few lines for a terminal: sizes, splits, bad and skipped counts by kind.
func (c *Card) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d records in %d groups, %d classes (label: %s)\n", c.Source, c.Records, c.Groups, c.Classes, c.LabelField)
	for _, s := range SplitNames {
		fmt.Fprintf(&b, "  %-5s %7d records %6d groups\n", s, c.SplitRecords[s], c.SplitGroups[s])
	}
	bad := badSummary(c.Bad)
	if bad == "" {
		bad = "none"
	}
	fmt.Fprintf(&b, "  bad: %d of %d checked (%.2f%%): %s\n", c.BadTotal(), c.Candidates, 100*c.BadShare, bad)
	if len(c.Skipped) > 0 {
		fmt.Fprintf(&b, "  skipped: %s\n", badSummary(c.Skipped))
	}
	if len(c.SmallClasses) > 0 {
		fmt.Fprintf(&b, "  %d classes have fewer than 3 groups and are not in every split\n", len(c.SmallClasses))
	}
	if len(c.DroppedClasses) > 0 {
		fmt.Fprintf(&b, "  %d classes dropped (min count)\n", len(c.DroppedClasses))
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}

// Markdown renders the card for people.
func (c *Card) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Data card: %s\n\n", c.Source)
	if c.Failed != "" {
		fmt.Fprintf(&b, "**PREPARE FAILED:** %s\n\nThe dataset was not written. Every problem is in %s.\n\n", c.Failed, ProblemsFile)
	}
	fmt.Fprintf(&b, "- label: %s\n- records: %d in %d groups, %d classes\n", c.LabelField, c.Records, c.Groups, c.Classes)
	fmt.Fprintf(&b, "- bad: %d of %d checked (%.2f%%, limit %.2f%%)\n", c.BadTotal(), c.Candidates, 100*c.BadShare, 100*c.MaxBadShare)
	for _, s := range SplitNames {
		fmt.Fprintf(&b, "- %s: %d records, %d groups\n", s, c.SplitRecords[s], c.SplitGroups[s])
	}
	b.WriteString("\n## Inputs and options\n\n")
	for _, k := range sortedKeys(c.Inputs) {
		fmt.Fprintf(&b, "- input %s: `%s`\n", k, c.Inputs[k])
	}
	for _, k := range sortedKeys(c.Options) {
		fmt.Fprintf(&b, "- %s: `%s`\n", k, c.Options[k])
	}
	if len(c.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range c.Warnings {
			fmt.Fprintf(&b, "- **%s**\n", mdEscape(w))
		}
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	c.textFieldsMarkdown(&b)
	if len(c.PerClass) > 0 {
		b.WriteString("\n## Classes (records per split)\n\n| id | class | train | val | test | total | groups |\n|---:|---|---:|---:|---:|---:|---:|\n")
		var t ClassCount
		for _, cc := range c.PerClass {
			fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d | %d |\n", cc.ID, mdEscape(cc.Label), cc.Train, cc.Val, cc.Test, cc.Total, cc.Groups)
			t.Train += cc.Train
			t.Val += cc.Val
			t.Test += cc.Test
			t.Total += cc.Total
			t.Groups += cc.Groups
		}
		fmt.Fprintf(&b, "| | **all** | %d | %d | %d | %d | %d |\n", t.Train, t.Val, t.Test, t.Total, t.Groups)
	}
	if len(c.SmallClasses) > 0 {
		b.WriteString("\n## Classes too small for every split (fewer than 3 groups)\n\n")
		for _, s := range c.SmallClasses {
			fmt.Fprintf(&b, "- %s: %d groups, %d records\n", mdEscape(s.Label), s.Groups, s.Records)
		}
	}
	if len(c.DroppedClasses) > 0 {
		b.WriteString("\n## Dropped classes\n\n")
		for _, d := range c.DroppedClasses {
			fmt.Fprintf(&b, "- %s: %d records (%s)\n", mdEscape(d.Label), d.Records, d.Reason)
		}
	}
	if len(c.MixedGroups) > 0 {
		fmt.Fprintf(&b, "\n## Groups with mixed labels: %d\n\nStratified under their majority label: %s\n",
			len(c.MixedGroups), strings.Join(firstN(c.MixedGroups, 20), ", "))
	}
	for _, sec := range []struct {
		title string
		m     map[Kind]int
	}{{"Bad input", c.Bad}, {"Skipped", c.Skipped}} {
		if len(sec.m) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n| kind | count |\n|---|---:|\n", sec.title)
		for _, k := range sortedKinds(sec.m) {
			fmt.Fprintf(&b, "| %s | %d |\n", k, sec.m[k])
		}
		b.WriteString("\nExamples (all in " + ProblemsFile + "):\n\n")
		for _, k := range sortedKinds(sec.m) {
			for _, p := range c.Examples[k] {
				fmt.Fprintf(&b, "- %s\n", mdEscape(p.String()))
			}
		}
	}
	return b.String()
}

// textFieldsMarkdown renders the label-leakage measurements of the text fields.
func (c *Card) textFieldsMarkdown(b *strings.Builder) {
	if len(c.TextFields) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Text fields and the label\n\nHow well each text field alone predicts the label "+
		"(leave-one-out lookup of the label by the field's value; a field leaks at >= %.0f%% lookup accuracy "+
		"or when >= %.0f%% of the records name their label in it):\n\n"+
		"| field | records | values | lookup | baseline | names label | leaks | in texts |\n|---|---:|---:|---:|---:|---:|---|---|\n",
		100*LeakLookup, 100*LeakMentions)
	for _, f := range c.TextFields {
		fmt.Fprintf(b, "| %s | %d | %d | %.1f%% | %.1f%% | %.1f%% | %v | %v |\n", mdEscape(f.Field), f.Records, f.Values,
			100*f.Lookup, 100*f.Baseline, 100*f.Mentions, f.Leaks, !f.Excluded)
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeProblems(path string, ps []Problem) error {
	b, err := jsonLines(ps)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, b)
}

// ReadCard reads card.json from a prepared folder (also present when prepare failed).
func ReadCard(dir string) (*Card, error) {
	c := newCard("")
	if err := readJSON(filepath.Join(dir, CardJSONFile), c); err != nil {
		return nil, fmt.Errorf("read data card: %w", err)
	}
	return c, nil
}
