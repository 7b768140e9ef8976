package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareManifest(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "set")
	for i := 0; i < 12; i++ {
		writeJPEG(t, filepath.Join(base, "img", fmt.Sprintf("c%d.jpg", i)), 16, 16, i)
		writePNG(t, filepath.Join(base, "img", fmt.Sprintf("d%d.png", i)), 16, 16, i)
	}
	writeJPEG(t, filepath.Join(dir, "outside.jpg"), 8, 8, 1)

	var csvRows []string
	var jsonRows []string
	for i := 0; i < 12; i++ {
		csvRows = append(csvRows, fmt.Sprintf("img/c%d.jpg,\"a cat, number %d\",cat,museum", i, i))
		csvRows = append(csvRows, fmt.Sprintf("img/d%d.png,a dog %d,dog,", i, i))
		jsonRows = append(jsonRows, fmt.Sprintf(`{"id": %d, "path": "img/c%d.jpg", "caption": ["a cat", "feline %d"], "class": "cat", "year": 1900}`, i, i, i))
		jsonRows = append(jsonRows, fmt.Sprintf(`{"id": "d%d", "path": "img/d%d.png", "caption": "a dog", "class": "dog"}`, i, i))
	}
	csvBad := []string{
		"../outside.jpg,escape,cat,",         // path escapes
		"img/none.jpg,missing,cat,",          // missing image
		"img/c0.jpg,duplicate image id,cat,", // duplicate id (the image path)
		"img/c1.jpg,,cat,",                   // empty text (also a duplicate: first check wins)
		"img/c2.jpg,too,many,fields,here",    // malformed
	}
	csvFile := writeFile(t, filepath.Join(base, "pairs.csv"),
		[]byte("\ufeffimage,text,label,source\n"+strings.Join(append(csvRows, csvBad...), "\n")+"\n"))
	jsonBad := []string{
		`{"id": "x1", "path": "/etc/passwd", "caption": "abs", "class": "cat"}`,
		`{"id": "x2", "path": "img/c3.jpg", "caption": "no label"}`,
		`not json`,
		`{"id": "x3", "path": "img/c4.jpg", "caption": "", "class": "cat"}`,
	}
	jsonFile := writeFile(t, filepath.Join(base, "pairs.jsonl"), []byte(strings.Join(append(jsonRows, jsonBad...), "\n")+"\n"))

	t.Run("csv", func(t *testing.T) {
		o := quietOptions(filepath.Join(dir, "out-csv"))
		o.MaxBadShare = 0.3
		card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: csvFile})
		if err != nil {
			t.Fatal(err)
		}
		want := map[Kind]int{BadPathEscapes: 1, BadMissingImage: 1, BadDuplicateID: 2, BadMalformedRow: 1}
		if fmt.Sprint(card.Bad) != fmt.Sprint(want) {
			t.Errorf("bad %v, want %v", card.Bad, want)
		}
		p, err := Open(filepath.Join(dir, "out-csv"))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 24 || p.Records[0].ID != "img/c0.jpg" || p.Records[0].Texts[0] != "a cat, number 0" ||
			p.Records[0].Attrs["source"] != "museum" || p.Records[0].Origin != "pairs.csv:2" {
			t.Errorf("records: %d, first %+v", len(p.Records), p.Records[0])
		}
		probs := readProblems(t, filepath.Join(dir, "out-csv"))
		if probs[0].Kind != BadMalformedRow || probs[0].Where != "pairs.csv:30" {
			t.Errorf("first problem %+v", probs[0])
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		o := quietOptions(filepath.Join(dir, "out-jsonl"))
		o.MaxBadShare = 0.3
		card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: jsonFile, ImageColumn: "path",
			TextColumns: []string{"caption"}, LabelColumn: "class"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[Kind]int{BadPathEscapes: 1, BadEmptyLabel: 1, BadMalformedRow: 1, BadEmptyText: 1}
		if fmt.Sprint(card.Bad) != fmt.Sprint(want) {
			t.Errorf("bad %v, want %v", card.Bad, want)
		}
		p, err := Open(filepath.Join(dir, "out-jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r := p.Records[0]
		if r.ID != "0" || len(r.Texts) != 2 || r.Texts[1] != "feline 0" || r.Attrs["year"] != "1900" {
			t.Errorf("first record %+v", r)
		}
	})
	t.Run("header lacks columns", func(t *testing.T) {
		_, err := PrepareManifest(ManifestOptions{PrepareOptions: quietOptions(filepath.Join(dir, "x")), File: csvFile, TextColumns: []string{"caption"}})
		if err == nil || !strings.Contains(err.Error(), `lacks the column(s) "caption"`) || !strings.Contains(err.Error(), `"image", "text", "label", "source"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		x := writeFile(t, filepath.Join(dir, "m.xml"), []byte("<x/>"))
		_, err := PrepareManifest(ManifestOptions{PrepareOptions: quietOptions(filepath.Join(dir, "x")), File: x})
		if err == nil || !strings.Contains(err.Error(), "unknown manifest type") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("moved images", func(t *testing.T) {
		// The prepared folder keeps the image root relative to itself; another root can be given.
		moved := filepath.Join(dir, "moved")
		if err := os.Rename(base, moved); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(moved, base)
		p, err := OpenWithImageRoot(filepath.Join(dir, "out-csv"), moved)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p.Records[0].Image); err != nil {
			t.Error(err)
		}
	})
}
