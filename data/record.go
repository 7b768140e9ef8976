package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
func Open(dir string) (*Prepared, error) {
	return OpenWithImageRoot(dir, "")
}

// OpenWithImageRoot is Open with the image root replaced, for a prepared folder whose images
// moved to another place. An empty imageRoot keeps the stored one.
func OpenWithImageRoot(dir, imageRoot string) (*Prepared, error) {
	p := &Prepared{Dir: dir, splits: map[string][]int{}}
	if err := readJSON(filepath.Join(dir, MetaFile), &p.Meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open dataset %s: no %s (not a prepared folder, or prepare failed: see %s): %w",
				dir, MetaFile, CardMDFile, err)
		}
		return nil, fmt.Errorf("open dataset %s: %w", dir, err)
	}
	if p.Meta.Version != FormatVersion {
		return nil, fmt.Errorf("open dataset %s: format version %d, this build reads %d", dir, p.Meta.Version, FormatVersion)
	}
	if err := readJSON(filepath.Join(dir, LabelsFile), &p.Labels); err != nil {
		return nil, fmt.Errorf("open dataset %s: %w", dir, err)
	}
	root := imageRoot
	if root == "" {
		root = p.Meta.ImageRoot
		if !filepath.IsAbs(root) {
			root = filepath.Join(dir, root)
		}
	}
	recs, err := readManifest(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("open dataset %s: %w", dir, err)
	}
	byID := make(map[string]int, len(recs))
	for i := range recs {
		r := &recs[i]
		if r.LabelID < 0 || r.LabelID >= len(p.Labels) || p.Labels[r.LabelID] != r.Label {
			return nil, fmt.Errorf("open dataset %s: %s line %d: label %q (id %d) does not match %s",
				dir, ManifestFile, i+1, r.Label, r.LabelID, LabelsFile)
		}
		if !filepath.IsAbs(r.Image) {
			r.Image = filepath.Join(root, filepath.FromSlash(r.Image))
		}
		byID[r.ID] = i
	}
	p.Records = recs
	for _, name := range SplitNames {
		path := filepath.Join(dir, SplitsDir, name+".txt")
		ids, err := readLines(path)
		if err != nil {
			return nil, fmt.Errorf("open dataset %s: %w", dir, err)
		}
		idx := make([]int, 0, len(ids))
		for n, id := range ids {
			j, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("open dataset %s: %s line %d: id %q is not in the manifest", dir, path, n+1, id)
			}
			idx = append(idx, j)
		}
		slices.Sort(idx)
		p.splits[name] = idx
	}
	return p, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
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
	return writeFileAtomic(path, buf.Bytes())
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

// writeFileAtomic writes via a temporary file and a rename, so a reader never sees half a file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readManifest(path string) ([]Record, error) {
	f, err := os.Open(path)
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
	return writeFileAtomic(path, b)
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
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
