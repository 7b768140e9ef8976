package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ManifestOptions configures PrepareManifest.
type ManifestOptions struct {
	PrepareOptions
	// File is a CSV (.csv; .tsv is tab-separated) with a header row, or JSON lines
	// (.jsonl, .ndjson). Image paths in it are relative to the file's folder.
	File string
	// ImageColumn, LabelColumn name the image and label columns ("image", "label").
	ImageColumn, LabelColumn string
	// TextColumns name the text columns (default "text"); each non-blank one gives a text.
	// In JSON lines a text value may also be an array of strings.
	TextColumns []string
	// IDColumn names the id column; default "id" when present, else the image path is the id.
	IDColumn string
	// GroupColumn optionally names a column whose equal values must share a split.
	GroupColumn string
}

// PrepareManifest prepares any CSV or JSON-lines file of image, text and label columns.
// Columns other than these become record attributes.
func PrepareManifest(o ManifestOptions) (*Card, error) {
	if o.File == "" {
		return nil, errors.New("prepare manifest: no manifest file")
	}
	if o.ImageColumn == "" {
		o.ImageColumn = "image"
	}
	if o.LabelColumn == "" {
		o.LabelColumn = "label"
	}
	if len(o.TextColumns) == 0 {
		o.TextColumns = []string{"text"}
	}
	abs, err := filepath.Abs(o.File)
	if err != nil {
		return nil, fmt.Errorf("prepare manifest: %w", err)
	}
	c := &candidates{
		source: "manifest", imageRoot: filepath.Dir(abs), labelField: o.LabelColumn,
		inputs: map[string]string{"file": o.File},
		options: map[string]string{"image_column": o.ImageColumn, "label_column": o.LabelColumn,
			"text_columns": strings.Join(o.TextColumns, ", "), "id_column": o.IDColumn, "group_column": o.GroupColumn},
	}
	switch strings.ToLower(filepath.Ext(o.File)) {
	case ".csv", ".tsv":
		err = readManifestCSV(c, o)
	case ".jsonl", ".ndjson":
		err = readManifestJSONL(c, o)
	default:
		err = fmt.Errorf("%s: unknown manifest type %q: use .csv, .tsv, .jsonl or .ndjson", o.File, filepath.Ext(o.File))
	}
	if err != nil {
		return abort(c, o.PrepareOptions, err)
	}
	return finish(c, o.PrepareOptions)
}

// manifestRow turns one row's values into a record.
func manifestRow(o ManifestOptions, where string, get func(string) ([]string, bool), rest map[string]string) Record {
	one := func(col string) string {
		v, _ := get(col)
		if len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	r := Record{Image: one(o.ImageColumn), Label: one(o.LabelColumn), Origin: where}
	for _, tc := range o.TextColumns {
		v, _ := get(tc)
		r.Texts = append(r.Texts, v...)
	}
	idCol := o.IDColumn
	if idCol == "" {
		idCol = "id"
	}
	r.ID = one(idCol)
	if r.ID == "" && o.IDColumn == "" {
		r.ID = filepath.ToSlash(filepath.Clean(filepath.FromSlash(r.Image)))
		if r.Image == "" {
			r.ID = where
		}
	}
	if o.GroupColumn != "" {
		r.Group = one(o.GroupColumn)
	}
	if len(rest) > 0 {
		r.Attrs = rest
	}
	return r
}

func (o ManifestOptions) known(col string) bool {
	return col == o.ImageColumn || col == o.LabelColumn || col == o.IDColumn || col == o.GroupColumn ||
		(o.IDColumn == "" && col == "id") || slices.Contains(o.TextColumns, col)
}

func readManifestCSV(c *candidates, o ManifestOptions) error {
	f, cr, bar, err := openCSV(o.File, o.PrepareOptions, "reading "+filepath.Base(o.File))
	if err != nil {
		return err
	}
	defer f.Close()
	defer bar.finish()
	if strings.EqualFold(filepath.Ext(o.File), ".tsv") {
		cr.Comma = '\t'
	}
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: reading the header: %w", o.File, err)
	}
	header = slices.Clone(header)
	need := append([]string{o.ImageColumn, o.LabelColumn}, o.TextColumns...)
	for _, col := range []string{o.IDColumn, o.GroupColumn} {
		if col != "" {
			need = append(need, col)
		}
	}
	pos, missing := headerIndex(header, need)
	if len(missing) > 0 {
		return &headerError{fmt.Sprintf("%s: the header lacks the column(s) %s; it has: %s (set the column names with flags)",
			o.File, quoteList(missing), quoteList(header))}
	}
	base := filepath.Base(o.File)
	for {
		row, where, ok, err := c.nextCSVRow(cr, base, o.File, len(header))
		if err != nil || !ok {
			return err
		}
		get := func(col string) ([]string, bool) {
			i, ok := pos[col]
			if !ok {
				return nil, false
			}
			return []string{row[i]}, true
		}
		rest := map[string]string{}
		for i, h := range header {
			if v := strings.TrimSpace(row[i]); v != "" && !o.known(h) {
				rest[h] = v
			}
		}
		c.recs = append(c.recs, manifestRow(o, where, get, rest))
	}
}

func readManifestJSONL(c *candidates, o ManifestOptions) error {
	f, err := os.Open(o.File)
	if err != nil {
		return err
	}
	defer f.Close()
	base := filepath.Base(o.File)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		where := fmt.Sprintf("%s:%d", base, line)
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			c.skip(BadMalformedRow, where, "", "not a JSON object: "+err.Error())
			continue
		}
		get := func(col string) ([]string, bool) {
			v, ok := obj[col]
			if !ok {
				return nil, false
			}
			return jsonStrings(v), true
		}
		rest := map[string]string{}
		for k, v := range obj {
			if o.known(k) {
				continue
			}
			if s := jsonStrings(v); len(s) == 1 && strings.TrimSpace(s[0]) != "" {
				rest[k] = s[0]
			}
		}
		c.recs = append(c.recs, manifestRow(o, where, get, rest))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", o.File, err)
	}
	return nil
}

// jsonStrings turns a JSON value into strings: a string, a number or bool, or an array of those.
func jsonStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case json.Number:
		return []string{t.String()}
	case bool:
		return []string{strconv.FormatBool(t)}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}
