package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
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
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("prepare manifest: %w", err)
	}
	if err := o.checkInputs(o.File); err != nil {
		return nil, fmt.Errorf("prepare manifest: %w", err)
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
	if len(o.TextColumns) > 1 {
		c.textFields = o.TextColumns
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
		if len(o.TextColumns) > 1 {
			r.fieldTexts = append(r.fieldTexts, strings.Join(v, " "))
		}
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
	tab := strings.EqualFold(filepath.Ext(o.File), ".tsv")
	rows, err := openCSVRows(o.File, tab, o.PrepareOptions, "reading "+filepath.Base(o.File))
	if err != nil {
		return err
	}
	defer rows.close()
	header := rows.header
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
	for {
		row, where, ok, err := rows.next(c)
		if err != nil {
			return err
		}
		if !ok {
			return rows.finish(c)
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
	f, err := openRegular(o.File)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(4096)
	if err := checkTextEncoding(head); err != nil {
		return fmt.Errorf("%s: %w", o.File, err)
	}
	base := filepath.Base(o.File)
	sc := bufio.NewScanner(br)
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
		obj, err := decodeJSONObject(text)
		if err != nil {
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
		return fmt.Errorf("%s line %d: %w", o.File, line+1, err)
	}
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	c.lines[base] = line
	return nil
}

// decodeJSONObject decodes one JSON object with numbers kept as written; anything after the
// object is an error.
func decodeJSONObject(text string) (map[string]any, error) {
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("null")
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	return obj, nil
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
