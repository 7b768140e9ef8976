package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Record is one image+text example.
type Record struct {
	// ID is unique within a dataset (for example the MET Object ID or "google/1f600").
	ID string `json:"id"`
	// Image is the image path. In manifest.jsonl it is relative to the dataset's image root;
	// records returned by Open carry the resolved path.
	Image string `json:"image"`
	// Texts holds one or more descriptions (COCO has about five captions per image).
	Texts []string `json:"texts"`
	// Label is the class name; LabelID its index in the label map (-1 before labelling).
	Label   string `json:"label"`
	LabelID int    `json:"label_id"`
	// Group is the split group: records that share one always land in the same split
	// (emoji vendor and skin-tone variants share their base code). Empty means the ID.
	Group string `json:"group,omitempty"`
	// Attrs holds optional attributes such as period, culture, medium or vendor.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Origin says where the record came from, as file:line where that applies.
	Origin string `json:"origin,omitempty"`
	// Base is the record's image stored shrunk by prepare (PrepareOptions.BaseSize): in
	// manifest.jsonl relative to the prepared folder, in records returned by Open resolved.
	// Empty when the original is small enough to be used as it is.
	Base string `json:"base,omitempty"`

	// roots, set by Open, confines the record's files to its dataset's folders.
	roots *datasetRoots
	// fieldTexts holds the record's value of each candidates.textFields entry (prepare only).
	fieldTexts []string
}

// datasetRoots are the resolved folders a prepared dataset's files must stay in, and what
// its stored base images are.
type datasetRoots struct {
	images   string      // the image root, symbolic links resolved
	prepared string      // the prepared folder, symbolic links resolved (base images)
	base     *BaseImages // nil: no base images
}

// GroupKey returns the record's split group: Group, or the ID when Group is empty.
func (r Record) GroupKey() string {
	if r.Group != "" {
		return r.Group
	}
	return r.ID
}

// Split names.
const (
	Train = "train" // training split
	Val   = "val"   // validation split (model selection, early stopping)
	Test  = "test"  // held-out test split
)

// SplitNames lists the split names in order.
var SplitNames = []string{Train, Val, Test}

// File names inside a prepared dataset folder.
const (
	ManifestFile = "manifest.jsonl" // one Record per line, image paths relative to the image root
	LabelsFile   = "labels.json"    // JSON array of label names, index = label id
	MetaFile     = "dataset.json"   // Meta; written last, so its presence marks a complete folder
	CardJSONFile = "card.json"      // the data card (Card)
	CardMDFile   = "card.md"        // the data card for people
	ProblemsFile = "problems.jsonl" // every skipped or bad input, one Problem per line
	SplitsDir    = "splits"         // train.txt, val.txt, test.txt: one record id per line
)

// FormatVersion is the version of the prepared folder layout written by this package.
const FormatVersion = 1

// Meta is the content of dataset.json: what a prepared folder holds and where its images are.
type Meta struct {
	Version int    `json:"version"`
	Source  string `json:"source"`
	// ImageRoot is the folder the manifest's image paths are relative to. A relative
	// ImageRoot is relative to the prepared folder itself.
	ImageRoot string `json:"image_root"`
	// LabelField names what the label means (for example "Classification" or "category").
	LabelField string `json:"label_field,omitempty"`
	Records    int    `json:"records"`
	Classes    int    `json:"classes"`
	// Base describes the shrunk copies of the images stored with the dataset (nil: none).
	Base *BaseImages `json:"base,omitempty"`
}

// Prepared is a prepared dataset folder read back by Open.
type Prepared struct {
	// Dir is the prepared folder.
	Dir string
	// Meta is the content of dataset.json.
	Meta Meta
	// Labels maps label ids to names.
	Labels []string
	// Records holds every record in manifest order, image paths resolved.
	Records []Record

	splits map[string][]int
	byID   map[string]int
}

// Split returns the records of one split (Train, Val or Test) in manifest order, or nil for
// an unknown name.
func (p *Prepared) Split(name string) []Record {
	idx := p.splits[name]
	out := make([]Record, len(idx))
	for i, j := range idx {
		out[i] = p.Records[j]
	}
	return out
}

// LabelIndex returns the id of a label name, or -1.
func (p *Prepared) LabelIndex(name string) int {
	return slices.Index(p.Labels, name)
}

// Open reads a prepared dataset folder written by one of the Prepare functions. Image paths
// are resolved against the image root stored in dataset.json.
//
// Every record's image path must be relative and stay inside the image root (an absolute
// path such as /etc/passwd, or one with "..", is refused, naming the record); the records
// remember the resolved root, and the loader checks again, with symbolic links resolved,
// when it opens each file. Ids are unique, and every id is in at most one split.
func Open(dir string) (*Prepared, error) {
	return OpenWithImageRoot(dir, "")
}

// OpenWithImageRoot is Open with the image root replaced, for a prepared folder whose images
// moved to another place. An empty imageRoot keeps the stored one.
func OpenWithImageRoot(dir, imageRoot string) (*Prepared, error) {
	p := &Prepared{Dir: dir, splits: map[string][]int{}}
	wrap := func(err error) (*Prepared, error) { return nil, fmt.Errorf("open dataset %s: %w", dir, err) }
	if err := readJSON(filepath.Join(dir, MetaFile), &p.Meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open dataset %s: no %s (not a prepared folder, or prepare failed: see %s): %w",
				dir, MetaFile, CardMDFile, err)
		}
		return wrap(err)
	}
	if p.Meta.Version != FormatVersion {
		return wrap(fmt.Errorf("format version %d, this build reads %d", p.Meta.Version, FormatVersion))
	}
	if err := readJSON(filepath.Join(dir, LabelsFile), &p.Labels); err != nil {
		return wrap(err)
	}
	root := imageRoot
	if root == "" {
		root = p.Meta.ImageRoot
		if !filepath.IsAbs(root) {
			root = filepath.Join(dir, root)
		}
	}
	roots := &datasetRoots{images: realRoot(root), prepared: realRoot(dir), base: p.Meta.Base}
	recs, err := readManifest(filepath.Join(dir, ManifestFile))
	if err != nil {
		return wrap(err)
	}
	if err := p.resolveRecords(recs, root, roots); err != nil {
		return wrap(err)
	}
	if err := p.readSplits(); err != nil {
		return wrap(err)
	}
	return p, nil
}

// resolveRecords checks each record (label, unique id, confined image and base paths),
// resolves its paths and keeps the records.
func (p *Prepared) resolveRecords(recs []Record, root string, roots *datasetRoots) error {
	byID := make(map[string]int, len(recs))
	for i := range recs {
		r := &recs[i]
		where := fmt.Sprintf("%s line %d: record %q", ManifestFile, i+1, r.ID)
		if r.LabelID < 0 || r.LabelID >= len(p.Labels) || p.Labels[r.LabelID] != r.Label {
			return fmt.Errorf("%s line %d: label %q (id %d) does not match %s", ManifestFile, i+1, r.Label, r.LabelID, LabelsFile)
		}
		if j, dup := byID[r.ID]; dup {
			return fmt.Errorf("%s: the id is also on line %d", where, j+1)
		}
		byID[r.ID] = i
		rel, err := relUnder(r.Image)
		if err != nil {
			return fmt.Errorf("%s: %w (image root %s)", where, err, root)
		}
		r.Image = filepath.Join(root, filepath.FromSlash(rel))
		if r.Base != "" {
			rel, err := relUnder(r.Base)
			if err != nil || roots.base == nil {
				return fmt.Errorf("%s: base image %q: not a stored base image of this folder", where, r.Base)
			}
			r.Base = filepath.Join(p.Dir, filepath.FromSlash(rel))
		}
		r.roots = roots
	}
	p.Records = recs
	p.byID = byID
	return nil
}

// readSplits reads splits/*.txt: every id must be in the manifest and in at most one split.
func (p *Prepared) readSplits() error {
	in := make(map[string]string, len(p.Records))
	for _, name := range SplitNames {
		path := filepath.Join(p.Dir, SplitsDir, name+".txt")
		ids, err := readLines(path)
		if err != nil {
			return err
		}
		idx := make([]int, 0, len(ids))
		for n, id := range ids {
			j, ok := p.byID[id]
			if !ok {
				return fmt.Errorf("%s line %d: id %q is not in the manifest", path, n+1, id)
			}
			if prev, dup := in[id]; dup {
				return fmt.Errorf("%s line %d: id %q is already in split %s: splits must be disjoint", path, n+1, id, prev)
			}
			in[id] = name
			idx = append(idx, j)
		}
		slices.Sort(idx)
		p.splits[name] = idx
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := readRegular(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes())
}

// jsonLines encodes values as JSON lines without HTML escaping ("&" stays "&").
func jsonLines[T any](vs []T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func readManifest(path string) ([]Record, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// WriteManifest writes records as JSON lines, one record per line.
func WriteManifest(path string, recs []Record) error {
	b, err := jsonLines(recs)
	if err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	return atomicfile.Write(path, b)
}

func readLines(path string) ([]string, error) {
	b, err := readRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// readRegular reads a whole regular file (a FIFO or device is refused, not read).
func readRegular(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
