package runfolder

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vbg-museum/vbg/atomicfile"
)

// DataFile records the data a run trained on, so that resuming, evaluating
// or predicting from another directory reads the same data, and refuses
// data that changed since.
const DataFile = "data.json"

// Data is data.json.
type Data struct {
	Source string `json:"source"` // data.source: prepared or synthetic
	// Dir is the prepared folder (or the generated one), absolute, with
	// symbolic links resolved.
	Dir string `json:"dir"`
	// Digest is a SHA-256 of what defines the dataset: a prepared folder's
	// metadata, labels and manifest (records, labels, image paths, splits),
	// or the parameters of a generated one.
	Digest string `json:"digest"`
	// Records per split as trained on.
	Train int `json:"train"`
	Val   int `json:"val"`
	Test  int `json:"test"`
}

// WriteData writes dir's data.json.
func WriteData(dir string, d Data) error {
	return atomicfile.WriteJSON(filepath.Join(dir, DataFile), d)
}

// ReadData reads dir's data.json.
func ReadData(dir string) (Data, error) {
	var d Data
	path := filepath.Join(dir, DataFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	if d.Dir == "" || !filepath.IsAbs(d.Dir) || d.Digest == "" {
		return d, fmt.Errorf("%s: want an absolute dir and a digest", path)
	}
	return d, nil
}
