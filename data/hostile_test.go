package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// manifestSet writes n 8x8 images img/<i>.jpg under dir and returns the CSV rows
// "img/<i>.jpg,a thing <i>,<label>" (labels cat/dog alternating).
func manifestSet(t *testing.T, dir string, n int) []string {
	t.Helper()
	rows := make([]string, n)
	for i := range rows {
		writeJPEG(t, filepath.Join(dir, "img", fmt.Sprintf("%d.jpg", i)), 8, 8, i)
		rows[i] = fmt.Sprintf("img/%d.jpg,a thing %d,%s", i, i, []string{"cat", "dog"}[i%2])
	}
	return rows
}

// TestCSVQuoteLeftOpen reproduces issue 12's silent row loss: an unclosed quote on line 502
// of a 1,000-row manifest made prepare exit 0 with 500 records ("bad: 1 of 501"), 499 rows
// gone without a word. Now every swallowed line is reported and counted.
func TestCSVQuoteLeftOpen(t *testing.T) {
	dir := t.TempDir()
	rows := manifestSet(t, dir, 1000)
	tests := []struct {
		name      string
		line      int // 1-based file line of the broken row (the header is line 1)
		closeAt   int // a later line that holds a stray quote closing it (0: none)
		wantWhere string
		wantLines int
		wantErr   bool // more than --max-bad
	}{
		{"line 502 to the end", 502, 0, "pairs.csv:502-1001", 500, true},
		{"line 3 to the end", 3, 0, "pairs.csv:3-1001", 999, true},
		{"closed by a stray quote", 600, 610, "pairs.csv:600-610", 11, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := append([]string(nil), rows...)
			rs[tc.line-2] = strings.Replace(rs[tc.line-2], ",a thing", `,"a thing`, 1)
			if tc.closeAt > 0 {
				rs[tc.closeAt-2] = strings.Replace(rs[tc.closeAt-2], ",a thing", `,a" thing`, 1)
			}
			file := writeFile(t, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rs, "\n")+"\n"))
			o := quietOptions(filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-")))
			card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			var p Problem
			for _, q := range readProblems(t, o.Out) {
				if q.Kind == BadMalformedRow {
					p = q
				}
			}
			if p.Where != tc.wantWhere || p.Lines != tc.wantLines ||
				!strings.Contains(p.Detail, fmt.Sprintf("opened on line %d", tc.line)) ||
				!strings.Contains(p.Detail, fmt.Sprintf("(%d lines)", tc.wantLines)) {
				t.Errorf("problem %+v, want %s covering %d lines", p, tc.wantWhere, tc.wantLines)
			}
			// Every line is accounted for: header + records + bad lines.
			if card.Bad[BadMalformedRow] != tc.wantLines || card.Candidates != 1000 || card.InputLines["pairs.csv"] != 1001 {
				t.Errorf("bad %v of %d candidates, %v lines; want %d of 1000, 1001 lines", card.Bad, card.Candidates, card.InputLines, tc.wantLines)
			}
			if tc.wantErr && !strings.Contains(err.Error(), fmt.Sprintf("%d of 1000 records are bad", tc.wantLines)) {
				t.Errorf("error does not count the lines: %v", err)
			}
		})
	}
}

// TestCSVRowSpanningLines: a quote that closes later and leaves a row with the wrong number
// of fields is reported with its line range.
func TestCSVRowSpanningLines(t *testing.T) {
	dir := t.TempDir()
	rows := manifestSet(t, dir, 40)
	rows[9] = `img/9.jpg,"a thing 9,dog` // line 11
	rows[12] = `img/12.jpg,a thing 12",x,dog`
	file := writeFile(t, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	o := quietOptions(filepath.Join(dir, "out"))
	o.MaxBadShare = 0.5
	card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
	if err != nil {
		t.Fatal(err)
	}
	ps := readProblems(t, o.Out)
	if len(ps) != 1 || ps[0].Where != "pairs.csv:11-14" || ps[0].Lines != 4 || !strings.Contains(ps[0].Detail, "4 lines") {
		t.Fatalf("problems %+v", ps)
	}
	if card.Records+card.Bad[BadMalformedRow] != 40 {
		t.Errorf("%d records + %d bad lines, want 40", card.Records, card.Bad[BadMalformedRow])
	}
}

// TestMETQuoteLeftOpen: the MET reader shares the CSV row reader.
func TestMETQuoteLeftOpen(t *testing.T) {
	f := writeMETFixture(t)
	b, err := os.ReadFile(f.csv)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	// Line 20 (a filler row) gets a quote that is never closed.
	lines[19] = strings.Replace(lines[19], ",Object ", `,"Object `, 1)
	writeFile(t, f.csv, []byte(strings.Join(lines, "\n")))
	o := quietOptions(filepath.Join(f.dir, "out"))
	o.MaxBadShare = 0.9
	card, err := PrepareMET(METOptions{PrepareOptions: o, CSV: f.csv, Images: f.images, Mapping: f.mapping})
	if err != nil {
		t.Fatal(err)
	}
	var p Problem
	for _, q := range readProblems(t, o.Out) {
		if q.Kind == BadMalformedRow && q.Lines > 1 {
			p = q
		}
	}
	if p.Where != "MetObjects.csv:20-43" || p.Lines != 24 {
		t.Errorf("problem %+v, want MetObjects.csv:20-43 (24 lines)", p)
	}
	if card.InputLines["MetObjects.csv"] != 43 {
		t.Errorf("input lines %v", card.InputLines)
	}
}

// hugePNG is a 65-byte PNG whose header claims w x h pixels (issue 12: 100000 x 100000
// passed prepare and then killed run, eval, predict and explain with a 40 GB allocation).
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// hugeJPEG is a JPEG whose frame header claims w x h pixels.
func hugeJPEG(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xdb, 0x00, 0x43, 0x00}
	for i := 0; i < 64; i++ {
		b = append(b, 1)
	}
	b = append(b, 0xff, 0xc0, 0x00, 0x0b, 0x08, byte(h>>8), byte(h), byte(w>>8), byte(w), 0x01, 0x01, 0x11, 0x00)
	return append(b, 0xff, 0xd9)
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestImageTooLarge: the header's size is checked before decoding, everywhere images are
// opened (prepare, --verify-images, the loader, LoadImage), without allocating.
func TestImageTooLarge(t *testing.T) {
	dir := t.TempDir()
	png := writeFile(t, filepath.Join(dir, "img", "huge.png"), hugePNG(100000, 100000))
	jpg := writeFile(t, filepath.Join(dir, "img", "huge.jpg"), hugeJPEG(65000, 65000))
	for _, path := range []string{png, jpg} {
		for _, full := range []bool{false, true} {
			var err error
			n := allocated(func() { err = imageCheck{}.check(path, full) })
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Kind != BadImageTooLarge || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), "more than the limit of 89478485") {
				t.Errorf("%s full=%v: %v", path, full, err)
			}
			if n > 8<<20 {
				t.Errorf("%s full=%v: allocated %d bytes", path, full, n)
			}
		}
	}
	recs := []Record{{ID: "a", Image: png, Texts: []string{"x"}, LabelID: 0}}
	l, err := NewLoader(recs, testConfig(false, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range l.Epoch(0) {
		if err == nil || !strings.Contains(err.Error(), "huge.png") || !strings.Contains(err.Error(), string(BadImageTooLarge)) {
			t.Errorf("loader: %v", err)
		}
	}
	if _, err := LoadImage(jpg, testConfig(false, 1)); err == nil || !strings.Contains(err.Error(), "image_too_large") {
		t.Errorf("LoadImage: %v", err)
	}
	// The limit is a setting.
	small := writePNG(t, filepath.Join(dir, "img", "small.png"), 64, 64, 1)
	if err := (imageCheck{maxPixels: 4095}).check(small, false); err == nil {
		t.Error("64x64 passed a limit of 4095 pixels")
	}
	cfg := testConfig(false, 1)
	cfg.MaxImagePixels = 4096
	if _, err := LoadImage(small, cfg); err != nil {
		t.Errorf("64x64 within a limit of 4096: %v", err)
	}
	// prepare reports the image by kind, with and without --verify-images.
	rows := manifestSet(t, dir, 30)
	rows = append(rows, "img/huge.png,huge,cat", "img/huge.jpg,huge too,dog")
	file := writeFile(t, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	for _, verify := range []bool{false, true} {
		o := quietOptions(filepath.Join(dir, fmt.Sprint("out", verify)))
		o.MaxBadShare, o.VerifyImages = 0.1, verify
		card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
		if err != nil || card.Bad[BadImageTooLarge] != 2 {
			t.Errorf("verify=%v: %v, bad %v", verify, err, card)
		}
	}
}

// TestPathsConfined reproduces issue 12's path findings: a symlink inside the dataset folder
// pointing outside it, and a prepared manifest.jsonl edited to name /etc/passwd,
// /proc/self/environ, /dev/zero or an image outside the root.
func TestPathsConfined(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "set")
	rows := manifestSet(t, root, 30)
	outside := writeJPEG(t, filepath.Join(dir, "outside.jpg"), 8, 8, 99)
	if err := os.Symlink(outside, filepath.Join(root, "img", "link.jpg")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	rows = append(rows, "img/link.jpg,a linked thing,cat")
	file := writeFile(t, filepath.Join(root, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	out := filepath.Join(dir, "out")
	o := quietOptions(out)
	o.MaxBadShare = 0.1
	card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
	if err != nil || card.Bad[BadPathEscapes] != 1 {
		t.Fatalf("prepare: %v, bad %v", err, card.Bad)
	}
	for _, p := range readProblems(t, out) {
		if p.Kind == BadPathEscapes && !strings.Contains(p.Detail, "outside the image root") {
			t.Errorf("problem %+v", p)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("edited manifest", func(t *testing.T) {
		for _, bad := range []string{"/etc/passwd", "/proc/self/environ", "/dev/zero", "../outside.jpg", "img/../../outside.jpg"} {
			edited := strings.Replace(string(manifest), `"image":"img/0.jpg"`, fmt.Sprintf(`"image":%q`, bad), 1)
			if edited == string(manifest) {
				t.Fatal("manifest layout changed")
			}
			writeFile(t, filepath.Join(out, ManifestFile), []byte(edited))
			_, err := Open(out)
			if err == nil || !strings.Contains(err.Error(), `record "img/0.jpg"`) || strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("%s: %v", bad, err)
			}
		}
		writeFile(t, filepath.Join(out, ManifestFile), manifest)
	})
	t.Run("symlink made after prepare", func(t *testing.T) {
		p, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(root, "img", "3.jpg")
		if err := os.Rename(target, target+".bak"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(target+".bak", target)
		if err := os.Symlink(outside, target); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(target)
		var recs []Record
		for _, r := range p.Records {
			if r.ID == "img/3.jpg" {
				recs = append(recs, r)
			}
		}
		l, err := NewLoader(recs, testConfig(false, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range l.Epoch(0) {
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Kind != BadPathEscapes {
				t.Errorf("loader: %v", err)
			}
		}
	})
	t.Run("relative dataset path", func(t *testing.T) {
		// Open with a relative folder (as data.dir often is) gives relative image paths;
		// the loader resolves them before comparing with the root.
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(wd, out)
		if err != nil {
			t.Skip(err)
		}
		p, err := Open(rel)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.IsAbs(p.Records[0].Image) {
			t.Fatalf("image path %s: want it relative, as the folder was given", p.Records[0].Image)
		}
		l, err := NewLoader(p.Records[:4], testConfig(false, 1))
		if err != nil {
			t.Fatal(err)
		}
		collect(t, l, 0, 0)
	})
	t.Run("splits overlap", func(t *testing.T) {
		train, _ := os.ReadFile(filepath.Join(out, SplitsDir, "train.txt"))
		val, _ := os.ReadFile(filepath.Join(out, SplitsDir, "val.txt"))
		first := strings.SplitN(string(train), "\n", 2)[0]
		writeFile(t, filepath.Join(out, SplitsDir, "val.txt"), append(val, []byte(first+"\n")...))
		_, err := Open(out)
		writeFile(t, filepath.Join(out, SplitsDir, "val.txt"), val)
		if err == nil || !strings.Contains(err.Error(), "already in split train") {
			t.Errorf("overlapping splits: %v", err)
		}
	})
	t.Run("duplicate id", func(t *testing.T) {
		line := strings.SplitN(string(manifest), "\n", 2)[0]
		writeFile(t, filepath.Join(out, ManifestFile), append([]byte(line+"\n"), manifest...))
		_, err := Open(out)
		writeFile(t, filepath.Join(out, ManifestFile), manifest)
		if err == nil || !strings.Contains(err.Error(), "the id is also on line 1") {
			t.Errorf("duplicate id: %v", err)
		}
	})
}

// TestTextEncoding: a UTF-16 manifest is refused with an error that names the encoding.
func TestTextEncoding(t *testing.T) {
	dir := t.TempDir()
	text := "image,text,label\nimg/0.jpg,a thing,cat\n"
	utf16le := []byte{0xff, 0xfe}
	utf16be := []byte{0xfe, 0xff}
	for _, r := range text {
		utf16le = append(utf16le, byte(r), 0)
		utf16be = append(utf16be, 0, byte(r))
	}
	tests := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"csv utf-16le", "a.csv", utf16le, "UTF-16 little-endian (byte-order mark FF FE)"},
		{"csv utf-16be", "b.csv", utf16be, "UTF-16 big-endian (byte-order mark FE FF)"},
		{"jsonl utf-16le", "c.jsonl", utf16le, "UTF-16 little-endian"},
		{"csv utf-16 without mark", "d.csv", utf16le[2:], "NUL byte at offset 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, filepath.Join(dir, tc.file), tc.data)
			_, err := PrepareManifest(ManifestOptions{PrepareOptions: quietOptions(filepath.Join(dir, "out")), File: file})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "save it as UTF-8") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPrepareRefusesBadOptions: an output that would overwrite the input, negative workers.
func TestPrepareRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	rows := manifestSet(t, dir, 4)
	var js []string
	for _, r := range rows {
		f := strings.Split(r, ",")
		js = append(js, fmt.Sprintf(`{"image":%q,"text":%q,"label":%q}`, f[0], f[1], f[2]))
	}
	input := []byte(strings.Join(js, "\n") + "\n")
	file := writeFile(t, filepath.Join(dir, ManifestFile), input)
	o := quietOptions(dir)
	_, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
	if err == nil || !strings.Contains(err.Error(), "would overwrite the input") {
		t.Errorf("--file DIR/manifest.jsonl --out DIR: %v", err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, input) {
		t.Error("the input was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, CardJSONFile)); err == nil {
		t.Error("a refused prepare wrote a card")
	}
	o = quietOptions(filepath.Join(dir, "out"))
	o.Workers = -5
	if _, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file}); err == nil || !strings.Contains(err.Error(), "workers -5") {
		t.Errorf("workers -5: %v", err)
	}
}

// TestLabelLeakageWarning: a manifest text column that repeats the label is measured and
// warned about; MET with explicit text fields keeps the field and warns.
func TestLabelLeakageWarning(t *testing.T) {
	dir := t.TempDir()
	var rows []string
	for i := 0; i < 40; i++ {
		label := []string{"paintings", "sculpture", "ceramics", "textiles"}[i%4]
		writeJPEG(t, filepath.Join(dir, "img", fmt.Sprintf("%d.jpg", i)), 8, 8, i)
		rows = append(rows, fmt.Sprintf("img/%d.jpg,object number %d,a %s piece,%s", i, i, strings.TrimSuffix(label, "s"), label))
	}
	file := writeFile(t, filepath.Join(dir, "m.csv"), []byte("image,title,kind,label\n"+strings.Join(rows, "\n")+"\n"))
	o := quietOptions(filepath.Join(dir, "out"))
	card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file, TextColumns: []string{"title", "kind"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(card.TextFields) != 2 || card.TextFields[0].Leaks || !card.TextFields[1].Leaks || card.TextFields[1].Lookup != 1 {
		t.Errorf("measurements %+v", card.TextFields)
	}
	if len(card.Warnings) != 1 || !strings.Contains(card.Warnings[0], `"kind" predicts the label for 100.0% of 40 records`) ||
		!strings.Contains(card.Summary(), "warning: label leakage") {
		t.Errorf("warnings %q", card.Warnings)
	}

	f := writeMETFixture(t)
	o = quietOptions(filepath.Join(f.dir, "explicit"))
	o.MaxBadShare = 0.5
	card, err = PrepareMET(METOptions{PrepareOptions: o, CSV: f.csv, Images: f.images, Mapping: f.mapping,
		TextFields: []string{"Title", "Object Name", "Classification"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(card.TextFields) != 2 || !card.TextFields[1].Leaks || card.TextFields[1].Excluded || len(card.Warnings) != 1 {
		t.Errorf("explicit fields: %+v, warnings %q", card.TextFields, card.Warnings)
	}
	if card.Options["text_fields"] != "Title, Object Name" {
		t.Errorf("the label column stays out of the texts: %q", card.Options["text_fields"])
	}
}

// TestBaseImages: prepare stores shrunk copies and the loader reads them instead of the
// originals (which it then no longer needs); a loader wanting a larger base reads the
// originals.
func TestBaseImages(t *testing.T) {
	dir := t.TempDir()
	var rows []string
	for i := 0; i < 20; i++ {
		writeJPEG(t, filepath.Join(dir, "img", fmt.Sprintf("%d.jpg", i)), 64, 48, i)
		rows = append(rows, fmt.Sprintf("img/%d.jpg,a thing %d,%s", i, i, []string{"cat", "dog"}[i%2]))
	}
	writePNG(t, filepath.Join(dir, "img", "small.png"), 20, 30, 1) // already small: not stored
	rows = append(rows, "img/small.png,a small thing,cat")
	file := writeFile(t, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	out := filepath.Join(dir, "out")
	o := quietOptions(out)
	o.BaseSize = 32
	if _, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file}); err != nil {
		t.Fatal(err)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta.Base == nil || p.Meta.Base.Size != 32 || p.Meta.Base.Dir != "base-32" || p.Meta.Base.Format != "jpeg" {
		t.Fatalf("meta %+v", p.Meta.Base)
	}
	for _, r := range p.Records {
		want := filepath.Join(out, "base-32", filepath.FromSlash(strings.TrimPrefix(r.Image, dir+"/"))+".jpg")
		if r.ID == "img/small.png" {
			want = ""
		}
		if r.Base != want {
			t.Errorf("%s: base %q, want %q", r.ID, r.Base, want)
		}
	}
	cfg := testConfig(true, 2)
	cfg.ImageSize, cfg.ResizeSize = 28, 32
	l, err := NewLoader(p.Records, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := collect(t, l, 0, 0)
	// The loader needs no original that has a base image.
	for i := 0; i < 20; i++ {
		os.Remove(filepath.Join(dir, "img", fmt.Sprintf("%d.jpg", i)))
	}
	after := collect(t, l, 0, 0)
	if len(before) != len(after) || !bytes.Equal(f32bytes(before[0].Images), f32bytes(after[0].Images)) {
		t.Error("batches differ once the originals are gone")
	}
	cfg.ResizeSize = 40 // base 40 > 32: the originals are needed
	l, err = NewLoader(p.Records, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range l.Epoch(0) {
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Kind != BadMissingImage {
			t.Errorf("base 40 from a base-32 store: %v", err)
		}
		break
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
