package gan

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Attribute is one phrase of the category-attribute mapping table.
type Attribute struct {
	Phrase string `json:"phrase"`
	// Count is the number of distinct training texts of the class that
	// contain the phrase; Share is Count over the class's distinct texts
	// (p(a | c)); Specificity is Count over all distinct texts containing
	// the phrase (how much the phrase belongs to this class).
	Count       int     `json:"count"`
	Share       float64 `json:"share"`
	Specificity float64 `json:"specificity"`
	// Given marks a phrase from the YAML rather than mined.
	Given bool `json:"given,omitempty"`
}

// AttributeTable is the category-attribute mapping table: per class, the
// attribute phrases (period, material, technique, ...) that generated
// texts of the class may use. No phrase of one class contains, as a run
// of words, a phrase of another class, so a text built only from a
// class's phrases and template words never names another class's
// attribute (the paper's rule: no "blue-and-white" text for the Song
// dynasty Ru kiln class).
type AttributeTable struct {
	Classes []string      `json:"classes"`
	Attrs   [][]Attribute `json:"attrs"` // by class id, best first
	// Vocab is every phrase of every class in table order; it indexes the
	// discriminator's attribute outputs.
	Vocab []string `json:"vocab"`
	// Reserved are words that no phrase may contain (stop words and the
	// templates' own words).
	Reserved []string `json:"reserved"`
}

// MineOptions configures MineAttributes.
type MineOptions struct {
	MaxPerClass    int
	MaxWords       int
	MinCount       int
	MinShare       float64
	MinSpecificity float64
	// Given maps class names to phrases that replace mining for that class.
	Given map[string][]string
	// Reserved words never appear in a phrase: the templates' words.
	Reserved []string
}

// stopWords are never attribute words on their own or inside a phrase.
var stopWords = strings.Fields(`a an and are as at be by for from has have in into is it its of on or
	that the their this to was were with without which who whose s`)

// Words splits a text into lower-case words: runs of letters and digits,
// with inner hyphens and apostrophes kept ("blue-and-white" is one word).
func Words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		for len(cur) > 0 && (cur[len(cur)-1] == '-' || cur[len(cur)-1] == '\'') {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			out = append(out, string(cur))
		}
		cur = cur[:0]
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, r)
		case (r == '-' || r == '\'') && len(cur) > 0:
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// TemplateWords returns the words of the templates outside placeholders.
func TemplateWords(templates []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range templates {
		for _, ph := range []string{"{1}", "{2}", "{3}"} {
			t = strings.ReplaceAll(t, ph, " ")
		}
		for _, w := range Words(t) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.Strings(out)
	return out
}

// MineAttributes builds the table from training texts: texts[i] are the
// texts of a record of class labels[i]. Each distinct text counts once per
// class (vendor variants of one emoji, or several records sharing one
// description, do not inflate counts). A class with fewer than MaxPerClass
// phrases passing the thresholds is filled up with phrases found only in
// its texts, most frequent first, and a class without any text gets the
// words of its name.
func MineAttributes(texts [][]string, labels []int, classes []string, o MineOptions) (*AttributeTable, error) {
	if len(texts) != len(labels) {
		return nil, fmt.Errorf("attribute table: %d texts for %d labels", len(texts), len(labels))
	}
	o.MaxWords, o.MaxPerClass = max(o.MaxWords, 1), max(o.MaxPerClass, 1)
	for name := range o.Given {
		if !slices.Contains(classes, name) {
			return nil, fmt.Errorf("attribute table: gan.text.attributes names %q, which is not a class", name)
		}
	}
	m := &miner{o: o, reserved: map[string]bool{}}
	for _, w := range append(append([]string(nil), stopWords...), o.Reserved...) {
		m.reserved[w] = true
	}
	if err := m.count(texts, labels, len(classes)); err != nil {
		return nil, err
	}
	tab := &AttributeTable{Classes: classes, Attrs: make([][]Attribute, len(classes))}
	for w := range m.reserved {
		tab.Reserved = append(tab.Reserved, w)
	}
	sort.Strings(tab.Reserved)
	for c, name := range classes {
		var err error
		if given, ok := o.Given[name]; ok {
			tab.Attrs[c], err = m.given(c, name, given)
		} else {
			tab.Attrs[c] = m.mined(c)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := tab.resolveConflicts(); err != nil {
		return nil, err
	}
	for c, name := range classes {
		if len(tab.Attrs[c]) == 0 { // no usable text at all: the class name
			p := strings.Join(dropReserved(Words(name), m.reserved), " ")
			if p == "" {
				p = fmt.Sprintf("class-%d", c)
			}
			tab.Attrs[c] = []Attribute{{Phrase: p, Given: true}}
		}
	}
	if err := tab.resolveConflicts(); err != nil {
		return nil, err
	}
	for _, as := range tab.Attrs {
		for _, a := range as {
			tab.Vocab = append(tab.Vocab, a.Phrase)
		}
	}
	return tab, nil
}

// miner holds the counts MineAttributes ranks phrases by.
type miner struct {
	o        MineOptions
	reserved map[string]bool
	docs     [][][]string     // per class, its distinct texts as words, in first-seen order
	df       map[string][]int // phrase -> per class, the distinct texts containing it
	total    map[string]int   // phrase -> distinct texts of all classes containing it
}

// count collects the distinct texts per class and the document frequency
// of every candidate phrase.
func (m *miner) count(texts [][]string, labels []int, k int) error {
	m.docs = make([][][]string, k)
	seen := make([]map[string]bool, k)
	for c := range seen {
		seen[c] = map[string]bool{}
	}
	for i, ts := range texts {
		c := labels[i]
		if c < 0 || c >= k {
			return fmt.Errorf("attribute table: record %d has label %d of %d classes", i, c, k)
		}
		for _, t := range ts {
			key := strings.Join(Words(t), " ")
			if key == "" || seen[c][key] {
				continue
			}
			seen[c][key] = true
			m.docs[c] = append(m.docs[c], Words(t))
		}
	}
	m.df, m.total = map[string][]int{}, map[string]int{}
	for c, ds := range m.docs {
		for _, words := range ds {
			for p := range phrases(words, m.o.MaxWords, m.reserved) {
				if m.df[p] == nil {
					m.df[p] = make([]int, k)
				}
				m.df[p][c]++
				m.total[p]++
			}
		}
	}
	return nil
}

// stat is phrase p's statistics in class c.
func (m *miner) stat(p string, c int) Attribute {
	a := Attribute{Phrase: p}
	if counts := m.df[p]; counts != nil {
		a.Count = counts[c]
		a.Specificity = float64(counts[c]) / float64(m.total[p])
	}
	if len(m.docs[c]) > 0 {
		a.Share = float64(a.Count) / float64(len(m.docs[c]))
	}
	return a
}

// given is the attribute list of class c (named name) from the YAML.
func (m *miner) given(c int, name string, phrases []string) ([]Attribute, error) {
	var out []Attribute
	for _, p := range phrases {
		p = strings.Join(Words(p), " ")
		if p == "" {
			return nil, fmt.Errorf("attribute table: class %q: an attribute phrase has no words", name)
		}
		for _, w := range strings.Fields(p) {
			if m.reserved[w] {
				return nil, fmt.Errorf("attribute table: class %q: phrase %q contains the template or stop word %q", name, p, w)
			}
		}
		a := m.stat(p, c)
		a.Given = true
		out = append(out, a)
	}
	return out, nil
}

// mined picks class c's phrases: those passing the thresholds, then, for a
// scarce class with too few, phrases that only its texts use.
func (m *miner) mined(c int) []Attribute {
	var cands, exclusive []Attribute
	for p, counts := range m.df {
		if counts[c] == 0 {
			continue
		}
		a := m.stat(p, c)
		switch {
		case a.Count >= m.o.MinCount && a.Share >= m.o.MinShare && a.Specificity >= m.o.MinSpecificity:
			cands = append(cands, a)
		case a.Specificity == 1:
			exclusive = append(exclusive, a)
		}
	}
	return pickDiverse(exclusive, m.o.MaxPerClass, pickDiverse(cands, m.o.MaxPerClass, nil))
}

func dropReserved(words []string, reserved map[string]bool) []string {
	var out []string
	for _, w := range words {
		if !reserved[w] {
			out = append(out, w)
		}
	}
	return out
}

// phrases returns the set of runs of 1..maxWords words of a text that
// contain no reserved word.
func phrases(words []string, maxWords int, reserved map[string]bool) map[string]bool {
	out := map[string]bool{}
	for i := range words {
		for n := 1; n <= maxWords && i+n <= len(words); n++ {
			if reserved[words[i+n-1]] || slices.Contains(words[i:i+n-1], words[i+n-1]) {
				break // no stop words, no repeated word ("dolls dolls")
			}
			out[strings.Join(words[i:i+n], " ")] = true
		}
	}
	return out
}

// pickDiverse ranks candidates by Share·Specificity (then count, then
// longer, then alphabetically) and appends them to kept, up to max in all,
// skipping any that shares a word with a phrase already kept, so the table
// lists distinct attributes rather than variants of one.
func pickDiverse(cands []Attribute, max int, kept []Attribute) []Attribute {
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		sa, sb := a.Share*a.Specificity, b.Share*b.Specificity
		if sa != sb {
			return sa > sb
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		// A phrase as frequent as its words says more ("ru kiln" over "ru").
		if la, lb := len(strings.Fields(a.Phrase)), len(strings.Fields(b.Phrase)); la != lb {
			return la > lb
		}
		return a.Phrase < b.Phrase
	})
	used := map[string]bool{}
	out := kept
	for _, a := range kept {
		for _, w := range strings.Fields(a.Phrase) {
			used[w] = true
		}
	}
	for _, a := range cands {
		if len(out) == max {
			break
		}
		ws := strings.Fields(a.Phrase)
		clash := false
		for _, w := range ws {
			clash = clash || used[w]
		}
		if clash {
			continue
		}
		for _, w := range ws {
			used[w] = true
		}
		out = append(out, a)
	}
	return out
}

// resolveConflicts removes every mined phrase that contains, or is, a
// phrase of another class (a text using it would name the other class's
// attribute). A given phrase that contains another class's given phrase is
// an error.
func (t *AttributeTable) resolveConflicts() error {
	for {
		changed := false
		for c := range t.Attrs {
			for i := 0; i < len(t.Attrs[c]); i++ {
				a := t.Attrs[c][i]
				for d := range t.Attrs {
					if d == c {
						continue
					}
					for _, b := range t.Attrs[d] {
						if !containsPhrase(strings.Fields(a.Phrase), b.Phrase) {
							continue
						}
						if a.Given && b.Given {
							return fmt.Errorf("attribute table: %q of class %q contains %q of class %q", a.Phrase, t.Classes[c], b.Phrase, t.Classes[d])
						}
						// Drop the mined one of the two.
						if a.Given {
							t.Attrs[d] = slices.DeleteFunc(t.Attrs[d], func(x Attribute) bool { return x.Phrase == b.Phrase })
						} else {
							t.Attrs[c] = slices.Delete(t.Attrs[c], i, i+1)
							i--
						}
						changed = true
						break
					}
					if changed {
						break
					}
				}
				if changed {
					break
				}
			}
			if changed {
				break
			}
		}
		if !changed {
			return nil
		}
	}
}

// containsPhrase reports whether the words contain phrase as a run of
// whole words.
func containsPhrase(words []string, phrase string) bool {
	pw := strings.Fields(phrase)
	if len(pw) == 0 || len(pw) > len(words) {
		return false
	}
	for i := 0; i+len(pw) <= len(words); i++ {
		if slices.Equal(words[i:i+len(pw)], pw) {
			return true
		}
	}
	return false
}

// Foreign returns the phrases of classes other than class that text
// contains: empty for every text a generator may emit for class.
func (t *AttributeTable) Foreign(class int, text string) []string {
	words := Words(text)
	var out []string
	for d, as := range t.Attrs {
		if d == class {
			continue
		}
		for _, a := range as {
			if containsPhrase(words, a.Phrase) {
				out = append(out, a.Phrase)
			}
		}
	}
	return out
}

// Targets returns the attribute vector of a real text: 1 for each
// vocabulary phrase the texts contain, else 0.
func (t *AttributeTable) Targets(texts []string) []float32 {
	out := make([]float32, len(t.Vocab))
	var words []string
	for _, s := range texts {
		words = append(append(words, Words(s)...), "\x00") // no phrase spans two texts
	}
	for i, p := range t.Vocab {
		if containsPhrase(words, p) {
			out[i] = 1
		}
	}
	return out
}

// Prior returns p(a | class) over the vocabulary: the class's own phrases
// carry their Share, every other phrase 0. It is the attribute target of
// an image generated for class.
func (t *AttributeTable) Prior(class int) []float32 {
	out := make([]float32, len(t.Vocab))
	i := 0
	for c, as := range t.Attrs {
		for _, a := range as {
			if c == class {
				out[i] = float32(a.Share)
			}
			i++
		}
	}
	return out
}

// Save writes the table as indented JSON (atomically, see package
// atomicfile).
func (t *AttributeTable) Save(path string) error {
	if err := atomicfile.WriteJSON(path, t); err != nil {
		return fmt.Errorf("attribute table: %w", err)
	}
	return nil
}

// LoadAttributeTable reads a table written by Save.
func LoadAttributeTable(path string) (*AttributeTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("attribute table: %w", err)
	}
	t := &AttributeTable{}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("attribute table %s: %w", path, err)
	}
	if len(t.Attrs) != len(t.Classes) {
		return nil, fmt.Errorf("attribute table %s: %d attribute lists for %d classes", path, len(t.Attrs), len(t.Classes))
	}
	return t, nil
}

// TextGenerator writes the text of a generated image of a class.
type TextGenerator interface {
	Text(class int, r *rand.Rand) (string, error)
}

// TemplateText fills templates with attribute phrases of the class: a
// template with k placeholders gets k distinct phrases, drawn with
// probability proportional to their Count (given phrases count 1). Every
// text is checked with Foreign before it is returned.
type TemplateText struct {
	Table     *AttributeTable
	Templates []string
	slots     []int
}

// NewTemplateText checks the templates (one must have only {1}) and
// that no template word is an attribute phrase.
func NewTemplateText(table *AttributeTable, templates []string) (*TemplateText, error) {
	tt := &TemplateText{Table: table, Templates: templates}
	single := false
	for _, tpl := range templates {
		n, err := TemplateSlots(tpl)
		if err != nil {
			return nil, err
		}
		single = single || n == 1
		tt.slots = append(tt.slots, n)
	}
	if !single {
		return nil, fmt.Errorf("text templates: need one template with only {1}")
	}
	return tt, nil
}

// Text returns a templated sentence for class that contains no phrase of
// another class.
func (tt *TemplateText) Text(class int, r *rand.Rand) (string, error) {
	if class < 0 || class >= len(tt.Table.Attrs) {
		return "", fmt.Errorf("text: class %d of %d", class, len(tt.Table.Attrs))
	}
	attrs := tt.Table.Attrs[class]
	if len(attrs) == 0 {
		return "", fmt.Errorf("text: class %q has no attributes", tt.Table.Classes[class])
	}
	for try := 0; try < 20; try++ {
		var fit []int
		for i, n := range tt.slots {
			if n <= len(attrs) {
				fit = append(fit, i)
			}
		}
		ti := fit[r.IntN(len(fit))]
		s := fill(tt.Templates[ti], drawAttrs(attrs, tt.slots[ti], r))
		if len(tt.Table.Foreign(class, s)) == 0 {
			return s, nil
		}
	}
	// Every single phrase is clean by construction of the table; the
	// single-slot template with the best phrase is the safe fallback.
	for i, n := range tt.slots {
		if n != 1 {
			continue
		}
		s := fill(tt.Templates[i], []string{attrs[0].Phrase})
		if f := tt.Table.Foreign(class, s); len(f) == 0 {
			return s, nil
		}
	}
	return "", fmt.Errorf("text: no template gives class %q a text free of other classes' attributes", tt.Table.Classes[class])
}

// drawAttrs draws n distinct phrases weighted by Count (at least 1).
func drawAttrs(attrs []Attribute, n int, r *rand.Rand) []string {
	w := make([]float64, len(attrs))
	for i, a := range attrs {
		w[i] = float64(max(a.Count, 1))
	}
	var out []string
	for len(out) < n {
		var sum float64
		for _, x := range w {
			sum += x
		}
		u := r.Float64() * sum
		i := 0
		for ; i < len(w)-1; i++ {
			if u < w[i] {
				break
			}
			u -= w[i]
		}
		for w[i] == 0 { // rounding landed on a drawn one: take the next free
			i = (i + 1) % len(w)
		}
		out = append(out, attrs[i].Phrase)
		w[i] = 0
	}
	return out
}

func fill(tpl string, phrases []string) string {
	for i, p := range phrases {
		tpl = strings.ReplaceAll(tpl, fmt.Sprintf("{%d}", i+1), p)
	}
	return tpl
}

// TemplateSlots returns the number of distinct attribute placeholders of a
// text template: {1}; {1} and {2}; or {1}, {2} and {3}, each used at most
// once and numbered from 1 without gaps.
func TemplateSlots(tpl string) (int, error) {
	seen := map[int]bool{}
	rest := tpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		if strings.ContainsRune(rest[:i], '}') {
			return 0, fmt.Errorf("template %q: stray }", tpl)
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return 0, fmt.Errorf("template %q: unclosed {", tpl)
		}
		var n int
		if _, err := fmt.Sscanf(rest[i:i+j+1], "{%d}", &n); err != nil || n < 1 || n > 3 || fmt.Sprintf("{%d}", n) != rest[i:i+j+1] {
			return 0, fmt.Errorf("template %q: placeholder %s is not {1}, {2} or {3}", tpl, rest[i:i+j+1])
		}
		if seen[n] {
			return 0, fmt.Errorf("template %q: {%d} appears twice", tpl, n)
		}
		seen[n] = true
		rest = rest[i+j+1:]
	}
	if strings.ContainsRune(rest, '}') {
		return 0, fmt.Errorf("template %q: stray }", tpl)
	}
	for k := 1; k <= len(seen); k++ {
		if !seen[k] {
			return 0, fmt.Errorf("template %q: placeholders must be numbered from {1} without gaps", tpl)
		}
	}
	if len(seen) == 0 {
		return 0, fmt.Errorf("template %q: has no {1} placeholder", tpl)
	}
	return len(seen), nil
}
