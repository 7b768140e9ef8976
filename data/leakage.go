package data

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// FieldLeak measures how well one text field, alone, gives away the label: a field that
// nearly repeats the label (MET's Object Name "Painting" for the class "Paintings") lets a
// text-only model read the answer and inflates text and fusion scores.
//
// The rule (LeakLookup, LeakMentions): a field leaks when it is filled in for at least
// LeakMinRecords records and either
//   - its leave-one-out lookup accuracy is at least LeakLookup and removes at least half of
//     the majority baseline's errors: predicting each record's label as the most common
//     label among the other records with the same (normalised) value gets nearly every
//     record right, which no honest description does across thousands of objects; or
//   - at least LeakMentions of the records name their own label in the field (label words
//     of four or more letters, case and plural folded): the field repeats the label.
//
// The first test catches a field that determines the label even in other words (Medium
// "Oil on canvas" for Paintings); the second one a field that spells it out even when its
// values are too varied to repeat (Object Name "Painting, miniature").
type FieldLeak struct {
	Field string `json:"field"`
	// Records is the number of records with a non-empty value; Values the number of
	// distinct normalised values.
	Records int `json:"records"`
	Values  int `json:"values"`
	// Lookup is the leave-one-out lookup accuracy, Baseline the share of the most common
	// label among the same records.
	Lookup   float64 `json:"lookup_accuracy"`
	Baseline float64 `json:"baseline"`
	// Mentions is the share of the records whose value names their label.
	Mentions float64 `json:"mentions_label"`
	// Leaks is the verdict of the rule; Excluded says that prepare left the field out of
	// the texts for it (MET's default text fields).
	Leaks    bool `json:"leaks"`
	Excluded bool `json:"excluded,omitempty"`
}

// Thresholds of the leakage rule (see FieldLeak).
const (
	LeakLookup     = 0.95
	LeakMentions   = 0.5
	LeakMinRecords = 20
)

// String is one line with the numbers, for warnings.
func (f FieldLeak) String() string {
	return fmt.Sprintf("text field %q predicts the label for %.1f%% of %d records by its value alone "+
		"(majority baseline %.1f%%, %d distinct values) and names the label in %.1f%% of them",
		f.Field, 100*f.Lookup, f.Records, 100*f.Baseline, f.Values, 100*f.Mentions)
}

// measureLeak measures one field: values[i] is record i's value ("" when absent), labels[i]
// its label.
func measureLeak(field string, values, labels []string) FieldLeak {
	f := FieldLeak{Field: field}
	byValue := map[string]map[string]int{}
	labelCount := map[string]int{}
	mentions := 0
	var norm []string
	for i, v := range values {
		nv := normValue(v)
		norm = append(norm, nv)
		if nv == "" {
			continue
		}
		f.Records++
		m := byValue[nv]
		if m == nil {
			m = map[string]int{}
			byValue[nv] = m
		}
		m[labels[i]]++
		labelCount[labels[i]]++
		if namesLabel(nv, labels[i]) {
			mentions++
		}
	}
	if f.Records == 0 {
		return f
	}
	f.Values = len(byValue)
	best := 0
	for _, n := range labelCount {
		best = max(best, n)
	}
	f.Baseline = float64(best) / float64(f.Records)
	hits := 0.0
	for i, nv := range norm {
		if nv != "" {
			hits += looHit(byValue[nv], labels[i])
		}
	}
	f.Lookup = hits / float64(f.Records)
	f.Mentions = float64(mentions) / float64(f.Records)
	f.Leaks = f.Records >= LeakMinRecords &&
		((f.Lookup >= LeakLookup && f.Lookup-f.Baseline >= (1-f.Baseline)/2) || f.Mentions >= LeakMentions)
	return f
}

// looHit is the chance that the majority label of the other records with this value (counts,
// which include the record itself) is the record's label; ties are broken at random and a
// value seen only once predicts nothing.
func looHit(counts map[string]int, label string) float64 {
	own := counts[label] - 1
	if own <= 0 {
		return 0
	}
	tied := 1
	for l, n := range counts {
		if l == label {
			continue
		}
		switch {
		case n > own:
			return 0
		case n == own:
			tied++
		}
	}
	return 1 / float64(tied)
}

// normValue lowercases a value, turns "|" separators and punctuation runs into spaces and
// collapses white space.
func normValue(v string) string {
	return strings.Join(words(v), " ")
}

// words splits a lowercased text into runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// fold folds a plural: "paintings" -> "painting", "boxes" -> "box".
func fold(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 4 && (strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes")):
		return w[:len(w)-2]
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return w[:len(w)-1]
	}
	return w
}

// namesLabel reports whether a normalised value contains a word of four or more letters of
// the label (plurals folded).
func namesLabel(value, label string) bool {
	var want []string
	for _, w := range words(label) {
		if len(w) >= 4 {
			want = append(want, fold(w))
		}
	}
	if len(want) == 0 {
		return false
	}
	for _, w := range strings.Fields(value) {
		if slices.Contains(want, fold(w)) {
			return true
		}
	}
	return false
}

// measureTextFields measures every text field of a source with several (c.textFields), on
// the records that survived checking, unless the adapter measured already (c.leakage).
func measureTextFields(c *candidates, recs []Record) []FieldLeak {
	if c.leakage != nil || len(c.textFields) < 2 {
		return c.leakage
	}
	labels := make([]string, len(recs))
	for i, r := range recs {
		labels[i] = r.Label
	}
	out := make([]FieldLeak, len(c.textFields))
	values := make([]string, len(recs))
	for k, field := range c.textFields {
		for i, r := range recs {
			values[i] = ""
			if k < len(r.fieldTexts) {
				values[i] = r.fieldTexts[k]
			}
		}
		out[k] = measureLeak(field, values, labels)
	}
	return out
}

// addLeakage records the measurements in the card and warns about every field that leaks
// and is still part of the texts.
func (c *Card) addLeakage(ls []FieldLeak) {
	c.TextFields = ls
	for _, l := range ls {
		switch {
		case l.Excluded:
			c.Notes = append(c.Notes, "left out of the texts because it nearly repeats the label: "+l.String())
		case l.Leaks:
			c.Warnings = append(c.Warnings, "label leakage: "+l.String()+
				"; a text-only or fusion score on this dataset would be inflated: leave the field out of the texts")
		}
	}
}
