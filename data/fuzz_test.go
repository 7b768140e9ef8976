package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets of the data package. Their seeds (f.Add) run as ordinary tests; to fuzz
// one, see FUZZ.md, e.g.
//
//	go test ./data -run '^$' -fuzz '^FuzzManifestCSV$' -fuzztime 3m -parallel 1

// fuzzRoot is an image folder shared by the fuzz iterations: img/0.jpg ... img/3.jpg and
// <id>.jpg for MET ids 1..3.
func fuzzRoot(f *testing.F) string {
	f.Helper()
	dir := f.TempDir()
	for i := 0; i < 4; i++ {
		writeJPEG(f, filepath.Join(dir, "img", fmt.Sprintf("%d.jpg", i)), 8, 8, i)
	}
	for i := 1; i <= 3; i++ {
		writeJPEG(f, filepath.Join(dir, "met", fmt.Sprintf("%d.jpg", i)), 8, 8, i)
	}
	return dir
}

// checkCandidates runs the field checks on what a reader produced and checks invariants that
// hold for any input: every problem has a kind and counts at least once; records that pass
// have an id, a label, a text and an image path inside the root.
func checkCandidates(t *testing.T, c *candidates) {
	t.Helper()
	for _, p := range c.problems {
		if p.Kind == "" || p.weight() < 1 {
			t.Fatalf("problem without kind or weight: %+v", p)
		}
	}
	probs := make([]*Problem, len(c.recs))
	for _, i := range checkFields(c, probs) {
		r := c.recs[i]
		if r.ID == "" || r.Label == "" || len(r.Texts) == 0 || probs[i] != nil {
			t.Fatalf("record passed the checks: %+v", r)
		}
		if _, err := relUnder(r.Image); err != nil {
			t.Fatalf("record %q: image %q passed but %v", r.ID, r.Image, err)
		}
	}
}

// csvSeeds are manifest CSVs: good ones and every hostile shape issue 12 and the tests name.
var csvSeeds = []string{
	"image,text,label\nimg/0.jpg,a cat,cat\nimg/1.jpg,a dog,dog\n",
	"\ufeffimage,text,label\r\nimg/0.jpg,\"a cat, white\",cat\r\n",
	"image,text,label\nimg/0.jpg,\"a cat,cat\nimg/1.jpg,a dog,dog\nimg/2.jpg,a bird,bird\n", // quote left open
	"image,text,label\nimg/0.jpg,\"a cat,cat\nimg/1.jpg,a\" dog,dog\n",                      // closed by a stray quote
	"image,text,label\nimg/0.jpg,a \"bare\" quote,cat\n",
	"image,text,label\nimg/0.jpg,too,many,fields\nimg/1.jpg\n",
	"image,text,label\n../outside.jpg,escape,cat\n/etc/passwd,abs,cat\n/dev/zero,dev,cat\n/proc/self/environ,proc,cat\n",
	"image,text,label\nimg/0.jpg,,cat\nimg/0.jpg,dup,cat\nimg/1.jpg,no label,\n",
	"\xff\xfei\x00m\x00a\x00g\x00e\x00\n\x00", // UTF-16 LE
	"\xfe\xff\x00i\x00m", // UTF-16 BE
	"image,te\x00xt,label\n",
	"",
	"image\n",
	"\"",
	"image,text,label\n\"\"\"\n",
	"image,text,label\nimg/0.jpg,\"multi\nline\ntext\",cat\n",
}

// FuzzManifestCSV feeds any bytes to the manifest CSV reader: it never panics, accounts for
// every physical line, and only well-formed rows become records.
func FuzzManifestCSV(f *testing.F) {
	root := fuzzRoot(f)
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(work, "m.csv")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := ManifestOptions{PrepareOptions: PrepareOptions{Quiet: true}, File: file,
			ImageColumn: "image", LabelColumn: "label", TextColumns: []string{"text"}}
		c := &candidates{imageRoot: root}
		err := readManifestCSV(c, o)
		if err != nil {
			return
		}
		// Every line is part of the header, a record or a problem, or blank.
		lines, accounted := c.lines["m.csv"], c.accounted["m.csv"]
		blank := 0
		for i, l := range strings.Split(string(data), "\n") {
			if (l == "" || l == "\r") && !(i > 0 && strings.HasSuffix(string(data), "\n") && i == strings.Count(string(data), "\n")) {
				blank++
			}
		}
		if accounted > lines || lines-accounted > blank {
			t.Fatalf("%d of %d lines accounted for, %d blank", accounted, lines, blank)
		}
		weights := 0
		for _, p := range c.problems {
			weights += p.weight()
		}
		if weights+len(c.recs) > accounted {
			t.Fatalf("%d problem lines and %d records in %d accounted lines", weights, len(c.recs), accounted)
		}
		checkCandidates(t, c)
	})
}

// jsonlSeeds are manifest JSON lines, good and hostile.
var jsonlSeeds = []string{
	`{"id": 1, "image": "img/0.jpg", "text": ["a cat", "feline"], "label": "cat", "year": 1900}` + "\n",
	`{"image": "img/1.jpg", "text": "a dog", "label": "dog"}` + "\n\n" + `not json` + "\n",
	`{"image": "/etc/passwd", "text": "abs", "label": "cat"}` + "\n" + `{"image": "../x.jpg", "text": "up", "label": "cat"}`,
	`{"image": "img/0.jpg", "text": null, "label": {"a": 1}}` + "\n" + `null` + "\n" + `[1,2]`,
	`{"image": "img/0.jpg"} {"image": "img/1.jpg"}`,
	"\ufeff" + `{"image": "img/0.jpg", "text": "bom", "label": "cat"}`,
	"\xff\xfe{\x00}\x00",
	`{"image": "img/0.jpg", "text": "` + strings.Repeat("x", 3000) + `", "label": "cat"}`,
}

// FuzzManifestJSONL feeds any bytes to the manifest JSON-lines reader.
func FuzzManifestJSONL(f *testing.F) {
	root := fuzzRoot(f)
	for _, s := range jsonlSeeds {
		f.Add([]byte(s))
	}
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(work, "m.jsonl")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := ManifestOptions{PrepareOptions: PrepareOptions{Quiet: true}, File: file,
			ImageColumn: "image", LabelColumn: "label", TextColumns: []string{"text"}}
		c := &candidates{imageRoot: root}
		if err := readManifestJSONL(c, o); err != nil {
			return
		}
		checkCandidates(t, c)
	})
}

// metSeed builds a MetObjects.csv from rows of column values.
func metSeed(rows ...map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("\ufeff" + strings.Join(METColumns, ",") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(metRow(r), ",") + "\n")
	}
	return b.Bytes()
}

// FuzzMETObjects feeds any bytes to the MetObjects.csv reader, then measures the text fields
// for leakage and builds the records.
func FuzzMETObjects(f *testing.F) {
	root := fuzzRoot(f)
	good := metSeed(map[string]string{"Object ID": "1", "Object Name": "Painting", "Title": "Wheat", "Classification": "Paintings"},
		map[string]string{"Object ID": "2", "Object Name": "Vase", "Medium": "Clay", "Classification": "Ceramics|Pottery"},
		map[string]string{"Object ID": "3", "Title": "Untitled", "Classification": ""},
		map[string]string{"Object ID": "4", "Title": "no image", "Classification": "Prints"})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(",Wheat,"), []byte(`,"Wheat,`), 1)) // quote left open
	f.Add(metSeed())
	f.Add([]byte("Object ID,Classification\n1,x\n"))
	f.Add([]byte("\xff\xfe\x00\x00"))
	f.Add(good[:len(good)/2])
	index, err := indexImages(filepath.Join(root, "met"))
	if err != nil {
		f.Fatal(err)
	}
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(work, "MetObjects.csv")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := METOptions{PrepareOptions: PrepareOptions{Quiet: true}, CSV: file, Images: filepath.Join(root, "met"),
			LabelColumn: "Classification", TextFields: []string{"Title", "Object Name", "Medium"}}
		c := &candidates{imageRoot: filepath.Join(root, "met")}
		objs, err := readMET(c, o, index, nil)
		if err != nil {
			return
		}
		keep := chooseMETFields(c, o.TextFields, objs, true)
		for _, l := range c.leakage {
			if l.Lookup < 0 || l.Lookup > 1 || l.Mentions < 0 || l.Mentions > 1 || l.Records > len(objs) {
				t.Fatalf("leakage out of range: %+v", l)
			}
		}
		addMETRecords(c, o, objs, keep)
		checkCandidates(t, c)
	})
}

// FuzzCOCO feeds any captions and instances JSON to the COCO reader.
func FuzzCOCO(f *testing.F) {
	root := fuzzRoot(f)
	caps := `{"info": {}, "images": [{"id": 1, "file_name": "img/0.jpg", "width": 8, "height": 8}],
		"annotations": [{"id": 5, "image_id": 1, "caption": "a cat"}, {"id": 4, "image_id": 1, "caption": " two "}]}`
	inst := `{"images": [{"id": 1, "file_name": "img/0.jpg"}, {"id": 2, "file_name": "../x.jpg"}],
		"annotations": [{"id": 7, "image_id": 1, "category_id": 3, "area": 10.5, "iscrowd": 0, "bbox": [0, 0, 1, 1]},
		{"id": 8, "image_id": 2, "category_id": 99, "area": 1, "iscrowd": 1}],
		"categories": [{"id": 3, "name": "cat", "supercategory": "animal"}]}`
	f.Add([]byte(caps), []byte(inst))
	f.Add([]byte(caps), []byte(`{"images": [], "annotations": []}`))
	f.Add([]byte(`[]`), []byte(`{`))
	f.Add([]byte(`{"images": [{"id": "x"}]}`), []byte(inst))
	f.Add([]byte(`{"annotations": [{"image_id": 1e400}]}`), []byte(inst))
	f.Add([]byte(`{"images": {"id": 1}}`), []byte(`{"categories": [{"id": 1}], "categories": 3}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, captions, instances []byte) {
		o := COCOOptions{PrepareOptions: PrepareOptions{Quiet: true}, Captions: filepath.Join(dir, "c.json"),
			Instances: filepath.Join(dir, "i.json"), Images: root}
		if err := os.WriteFile(o.Captions, captions, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(o.Instances, instances, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := readCOCO(o)
		if err != nil {
			return
		}
		c := &candidates{imageRoot: root}
		addCOCORecords(c, o, d)
		checkCandidates(t, c)
	})
}

// FuzzImageHeader feeds any bytes to the image path of prepare and the loader: the header
// checks, then (for an image within a small pixel limit) decoding, conversion to RGB and the
// training transform. Nothing panics, nothing larger than the limit is decoded, and a decoded
// image has the size its header announced.
func FuzzImageHeader(f *testing.F) {
	f.Add(encodePNG(f, testImage(5, 3, 1)))
	f.Add(encodeJPEG(f, testImage(9, 7, 2)))
	f.Add(hugePNG(100000, 100000))
	f.Add(hugePNG(0, 5))
	f.Add(hugeJPEG(65000, 65000))
	f.Add(hugeJPEG(1, 1))
	f.Add([]byte("GIF89a...."))
	f.Add([]byte("<html>not found</html>"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0x00, 0x01})
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	jpg := encodeJPEG(f, testImage(16, 16, 3))
	f.Add(jpg[:len(jpg)/2])
	cfg := DefaultLoaderConfig(true)
	cfg.ImageSize, cfg.ResizeSize = 8, 9
	tf, err := newTransform(cfg)
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "x")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		chk := imageCheck{root: realRoot(dir), maxPixels: 1 << 16}
		fh, _, h, err := chk.open(path)
		if err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Path != path {
				t.Fatalf("error %T %v does not name the file", err, err)
			}
			return
		}
		fh.Close()
		if px := int64(h.width) * int64(h.height); px > 1<<16 || px <= 0 {
			t.Fatalf("header %dx%d passed a limit of %d pixels", h.width, h.height, 1<<16)
		}
		img, err := chk.decode(path)
		if err != nil {
			return
		}
		if b := img.Bounds(); b.Dx() != h.width || b.Dy() != h.height {
			t.Fatalf("decoded %v, header said %dx%d", b, h.width, h.height)
		}
		base := toRGB(img, tf.bg)
		dst := make([]float32, 3*8*8)
		tf.apply(base, true, newRNG(uint64(len(data))), dst)
		tf.apply(base, false, nil, dst)
	})
}

// FuzzOpenManifest edits the manifest.jsonl of a prepared folder: Open refuses what does not
// fit (bad labels, duplicate ids, paths outside the image root) and never panics; every
// record it accepts has its image inside the root.
func FuzzOpenManifest(f *testing.F) {
	dir := f.TempDir()
	var rows []string
	for i := 0; i < 12; i++ {
		writeJPEG(f, filepath.Join(dir, "set", "img", fmt.Sprintf("%d.jpg", i)), 8, 8, i)
		rows = append(rows, fmt.Sprintf("img/%d.jpg,thing %d,%s", i, i, []string{"cat", "dog"}[i%2]))
	}
	file := writeFile(f, filepath.Join(dir, "set", "m.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
	out := filepath.Join(dir, "out")
	o := DefaultPrepareOptions(out)
	o.Quiet = true
	if _, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file}); err != nil {
		f.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(out, ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(manifest)
	for _, bad := range []string{"/etc/passwd", "/proc/self/environ", "/dev/zero", "../outside.jpg", "img/../../x.jpg", "", "."} {
		f.Add(bytes.Replace(manifest, []byte(`"image":"img/0.jpg"`), []byte(fmt.Sprintf(`"image":%q`, bad)), 1))
	}
	f.Add(bytes.Replace(manifest, []byte(`"label_id":0`), []byte(`"label_id":7`), 1))
	f.Add(append(manifest[:bytes.IndexByte(manifest, '\n')+1:bytes.IndexByte(manifest, '\n')+1], manifest...))
	f.Add([]byte(`{"id":"img/0.jpg","image":"img/0.jpg","base":"../../etc/passwd","texts":["x"],"label":"cat","label_id":0}`))
	root := filepath.Join(dir, "set")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(out, ManifestFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Open(out)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range p.Records {
			if seen[r.ID] || !within(root, filepath.Clean(r.Image)) {
				t.Fatalf("accepted record %+v (root %s)", r, root)
			}
			seen[r.ID] = true
		}
		n := 0
		for _, s := range SplitNames {
			n += len(p.Split(s))
		}
		if n > len(p.Records) {
			t.Fatalf("splits hold %d of %d records", n, len(p.Records))
		}
		_, _ = json.Marshal(p.Records)
	})
}
