package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// METColumns is the header of MetObjects.csv as The Met publishes it (54 columns).
var METColumns = []string{
	"Object Number", "Is Highlight", "Is Timeline Work", "Is Public Domain", "Object ID",
	"Gallery Number", "Department", "AccessionYear", "Object Name", "Title", "Culture", "Period",
	"Dynasty", "Reign", "Portfolio", "Constituent ID", "Artist Role", "Artist Prefix",
	"Artist Display Name", "Artist Display Bio", "Artist Suffix", "Artist Alpha Sort",
	"Artist Nationality", "Artist Begin Date", "Artist End Date", "Artist Gender",
	"Artist ULAN URL", "Artist Wikidata URL", "Object Date", "Object Begin Date",
	"Object End Date", "Medium", "Dimensions", "Credit Line", "Geography Type", "City", "State",
	"County", "Country", "Region", "Subregion", "Locale", "Locus", "Excavation", "River",
	"Classification", "Rights and Reproduction", "Link Resource", "Object Wikidata URL",
	"Metadata Date", "Repository", "Tags", "Tags AAT URL", "Tags Wikidata URL",
}

// METTextFields are the columns joined into a MET record's text by default.
var METTextFields = []string{"Title", "Object Name", "Culture", "Period", "Dynasty", "Medium", "Tags"}

// metAttrs maps MetObjects.csv columns to record attribute names.
var metAttrs = [][2]string{
	{"Object Number", "object_number"}, {"Department", "department"}, {"Object Name", "object_name"},
	{"Classification", "classification"}, {"Culture", "culture"}, {"Period", "period"},
	{"Dynasty", "dynasty"}, {"Medium", "medium"}, {"Object Date", "object_date"},
	{"Object Begin Date", "object_begin_date"}, {"Artist Display Name", "artist"},
	{"Is Public Domain", "public_domain"},
}

// METOptions configures PrepareMET.
type METOptions struct {
	PrepareOptions
	// CSV is MetObjects.csv; Images the folder of "<Object ID>.jpg" (or .jpeg/.png) files,
	// or of "<Object ID>/" folders of images as in The Met Dataset.
	CSV, Images string
	// LabelColumn is the column holding the label: Classification (default), Department or
	// Object Name. The first of several "|"-joined values is used.
	LabelColumn string
	// Mapping is an optional file of "pattern,class" lines merging raw label values into
	// coarse classes (see ReadLabelMapping).
	Mapping string
	// TextFields are the columns joined into the text (nil: METTextFields).
	TextFields []string
	// AllImages keeps every image of an object folder as its own record (grouped by object);
	// otherwise the first image in name order is used.
	AllImages bool
}

// PrepareMET prepares MetObjects.csv plus an image folder. Objects without an image are
// skipped and listed (kind no_image), as are objects with an empty label column (no_label).
//
// The text never includes the label column. Every text field is measured for label leakage
// (FieldLeak) on the objects read; with the default text fields (TextFields nil) a field
// that leaks is left out of the texts and named in the card's notes, with given TextFields
// it is kept and the card warns.
func PrepareMET(o METOptions) (*Card, error) {
	if o.LabelColumn == "" {
		o.LabelColumn = "Classification"
	}
	explicit := o.TextFields != nil
	if !explicit {
		o.TextFields = METTextFields
	}
	if o.CSV == "" || o.Images == "" {
		return nil, errors.New("prepare met: need the MetObjects.csv path and the image folder")
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("prepare met: %w", err)
	}
	if err := o.checkInputs(o.CSV, o.Mapping); err != nil {
		return nil, fmt.Errorf("prepare met: %w", err)
	}
	var mapping *LabelMapping
	if o.Mapping != "" {
		m, err := ReadLabelMapping(o.Mapping)
		if err != nil {
			return nil, fmt.Errorf("prepare met: %w", err)
		}
		mapping = m
	}
	imgRoot, err := filepath.Abs(o.Images)
	if err != nil {
		return nil, fmt.Errorf("prepare met: %w", err)
	}
	c := &candidates{
		source: "met", imageRoot: imgRoot, labelField: o.LabelColumn,
		inputs:  map[string]string{"csv": o.CSV, "images": o.Images},
		options: map[string]string{"label_column": o.LabelColumn, "text_fields": strings.Join(o.TextFields, ", "), "all_images": strconv.FormatBool(o.AllImages)},
	}
	if o.Mapping != "" {
		c.inputs["mapping"] = o.Mapping
	}
	if slices.Contains(o.TextFields, o.LabelColumn) {
		c.notes = append(c.notes, fmt.Sprintf("the label column %q is left out of the text: a text-only model could read the label", o.LabelColumn))
		o.TextFields = slices.DeleteFunc(slices.Clone(o.TextFields), func(f string) bool { return f == o.LabelColumn })
	}
	index, err := indexImages(imgRoot)
	if err != nil {
		return abort(c, o.PrepareOptions, err)
	}
	objs, err := readMET(c, o, index, mapping)
	if err != nil {
		return abort(c, o.PrepareOptions, err)
	}
	keep := chooseMETFields(c, o.TextFields, objs, !explicit)
	c.options["text_fields"] = strings.Join(keep, ", ")
	addMETRecords(c, o, objs, keep)
	return finish(c, o.PrepareOptions)
}

// imageExts are the file name endings taken as images (others are reported when checked).
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true,
	".tif": true, ".tiff": true, ".bmp": true}

// imageIndex maps a file stem (an object id) to its image paths, relative to the root.
type imageIndex map[string][]string

// indexImages lists root once: "<id>.<ext>" files, and "<id>/" folders with image files.
func indexImages(root string) (imageIndex, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	idx := imageIndex{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			sub, err := os.ReadDir(filepath.Join(root, name))
			if err != nil {
				return nil, fmt.Errorf("image folder: %w", err)
			}
			for _, s := range sub { // ReadDir returns names sorted
				if !s.IsDir() && imageExts[strings.ToLower(filepath.Ext(s.Name()))] {
					idx[name] = append(idx[name], name+"/"+s.Name())
				}
			}
			continue
		}
		ext := filepath.Ext(name)
		if imageExts[strings.ToLower(ext)] {
			stem := strings.TrimSuffix(name, ext)
			idx[stem] = append(idx[stem], name)
		}
	}
	for k := range idx {
		slices.Sort(idx[k])
	}
	return idx, nil
}

// headerIndex maps column names to positions and reports the missing ones.
func headerIndex(header []string, need []string) (map[string]int, []string) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := pos[h]; !dup {
			pos[h] = i
		}
	}
	var missing []string
	for _, n := range need {
		if _, ok := pos[n]; !ok {
			missing = append(missing, n)
		}
	}
	return pos, missing
}

// metObject is one MetObjects.csv row that passed the reader's filters.
type metObject struct {
	id, where  string
	images     []string
	label, raw string
	fields     []string // the values of METOptions.TextFields, in order
	attrs      map[string]string
}

// readMET reads the objects of MetObjects.csv that have an image and a label (mapped when
// there is a mapping); the others are recorded as skipped or bad.
func readMET(c *candidates, o METOptions, index imageIndex, mapping *LabelMapping) ([]metObject, error) {
	rows, err := openCSVRows(o.CSV, false, o.PrepareOptions, "reading MetObjects.csv")
	if err != nil {
		return nil, err
	}
	defer rows.close()
	header := rows.header
	need := append([]string{"Object ID", o.LabelColumn}, o.TextFields...)
	pos, missing := headerIndex(header, need)
	if len(missing) > 0 {
		return nil, &headerError{fmt.Sprintf("%s: the header lacks %s (found %d columns: %s); expected MetObjects.csv as published (%d columns, starting %q)",
			o.CSV, quoteList(missing), len(header), strings.Join(firstN(header, 8), ", "), len(METColumns), METColumns[0])}
	}
	var objs []metObject
	for {
		row, where, ok, err := rows.next(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return objs, rows.finish(c)
		}
		get := func(col string) string {
			if i, ok := pos[col]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		if obj, ok := metRowObject(c, o, get, where, index, mapping); ok {
			objs = append(objs, obj)
		}
	}
}

// metRowObject turns one row into an object, or records why it is skipped.
func metRowObject(c *candidates, o METOptions, get func(string) string, where string, index imageIndex, mapping *LabelMapping) (metObject, bool) {
	id := get("Object ID")
	if id == "" {
		c.skip(BadMalformedRow, where, "", "empty Object ID")
		return metObject{}, false
	}
	images := index[id]
	if len(images) == 0 {
		c.skip(SkipNoImage, where, id, "no image named "+id+" in "+o.Images)
		return metObject{}, false
	}
	raw := firstValue(get(o.LabelColumn))
	if raw == "" {
		c.skip(SkipNoLabel, where, id, "empty "+o.LabelColumn)
		return metObject{}, false
	}
	label := raw
	if mapping != nil {
		cls, ok := mapping.Map(raw)
		if !ok {
			c.skip(BadUnknownLabel, where, id, fmt.Sprintf("%s %q matches no line of %s", o.LabelColumn, raw, o.Mapping))
			return metObject{}, false
		}
		if cls == MappingExclude {
			c.skip(SkipExcluded, where, id, fmt.Sprintf("%s %q is excluded by %s", o.LabelColumn, raw, o.Mapping))
			return metObject{}, false
		}
		label = cls
	}
	obj := metObject{id: id, where: where, images: images, label: label, raw: raw, attrs: map[string]string{}}
	for _, fld := range o.TextFields {
		obj.fields = append(obj.fields, get(fld))
	}
	for _, a := range metAttrs {
		if v := get(a[0]); v != "" {
			obj.attrs[a[1]] = v
		}
	}
	if raw != label {
		obj.attrs["raw_label"] = raw
	}
	return obj, true
}

// chooseMETFields measures every text field for label leakage and returns the fields the
// texts are made of: all of them, or with drop set those that do not leak.
func chooseMETFields(c *candidates, fields []string, objs []metObject, drop bool) []string {
	labels := make([]string, len(objs))
	for i, ob := range objs {
		labels[i] = ob.label
	}
	values := make([]string, len(objs))
	var keep []string
	c.leakage = []FieldLeak{}
	for k, field := range fields {
		for i, ob := range objs {
			values[i] = ob.fields[k]
		}
		l := measureLeak(field, values, labels)
		l.Excluded = drop && l.Leaks
		c.leakage = append(c.leakage, l)
		if !l.Excluded {
			keep = append(keep, field)
		}
	}
	return keep
}

// addMETRecords adds a record per object (per image with AllImages), its text joined from
// the kept fields.
func addMETRecords(c *candidates, o METOptions, objs []metObject, keep []string) {
	for _, ob := range objs {
		var parts []string
		for k, fld := range o.TextFields {
			v := ob.fields[k]
			if v == "" || !slices.Contains(keep, fld) {
				continue
			}
			v = strings.Join(splitMulti(v), ", ")
			if fld == "Tags" {
				v = "Tags: " + v
			}
			parts = append(parts, v)
		}
		images := ob.images
		if !o.AllImages {
			images = images[:1]
		}
		for k, img := range images {
			rid := ob.id
			if o.AllImages && len(images) > 1 {
				rid = ob.id + "/" + strconv.Itoa(k)
			}
			c.recs = append(c.recs, Record{ID: rid, Image: img, Texts: []string{strings.Join(parts, ". ")},
				Label: ob.label, Group: ob.id, Attrs: ob.attrs, Origin: ob.where})
		}
	}
}

// splitMulti splits a "|"-joined MET value and drops blanks.
func splitMulti(v string) []string {
	var out []string
	for _, p := range strings.Split(v, "|") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstValue(v string) string {
	if p := splitMulti(v); len(p) > 0 {
		return p[0]
	}
	return ""
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// MappingExclude is the class that drops matching records (reported as excluded).
const MappingExclude = "-"

// LabelMapping merges raw label values into coarse classes.
type LabelMapping struct {
	rules []mappingRule
}

type mappingRule struct {
	pattern, class string
	line           int
}

// ReadLabelMapping reads a mapping file: one "pattern,class" per line (a tab also
// separates), "#" comments, blank lines ignored, an optional "pattern,class" header. Patterns
// are case-insensitive globs ("Metalwork*", "*Paintings", "*" for the rest) matched in file
// order; the first match wins. Class "-" drops the record (reported as excluded).
//
//	# pattern,class
//	Paintings,Painting
//	Sculpture*,Sculpture
//	Ceramics*,Crafts
//	*,Other
func ReadLabelMapping(file string) (*LabelMapping, error) {
	lines, err := readLinesKeepNumbers(file)
	if err != nil {
		return nil, fmt.Errorf("label mapping: %w", err)
	}
	m := &LabelMapping{}
	for n, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		sep := strings.IndexAny(t, ",\t")
		if sep < 0 {
			return nil, fmt.Errorf("label mapping %s:%d: want \"pattern,class\", got %q", file, n+1, t)
		}
		pat, cls := strings.TrimSpace(t[:sep]), strings.TrimSpace(t[sep+1:])
		if len(m.rules) == 0 && strings.EqualFold(pat, "pattern") && strings.EqualFold(cls, "class") {
			continue
		}
		if pat == "" || cls == "" {
			return nil, fmt.Errorf("label mapping %s:%d: empty pattern or class in %q", file, n+1, t)
		}
		m.rules = append(m.rules, mappingRule{pattern: strings.ToLower(pat), class: cls, line: n + 1})
	}
	if len(m.rules) == 0 {
		return nil, fmt.Errorf("label mapping %s: no rules", file)
	}
	return m, nil
}

// Map returns the class of a raw value and whether any rule matched.
func (m *LabelMapping) Map(raw string) (string, bool) {
	low := strings.ToLower(raw)
	for _, r := range m.rules {
		if globMatch(r.pattern, low) {
			return r.class, true
		}
	}
	return "", false
}

func readLinesKeepNumbers(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s := strings.TrimPrefix(string(b), "\ufeff")
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), nil
}

// globMatch matches s against a pattern where "*" is any run of characters (including "/")
// and "?" any one character.
func globMatch(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
