package pretrained

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is a parsed Hugging Face config.json, kept as a generic map so any
// model type can be read. Numbers are json.Number (exact integers).
type Config struct {
	// Path is the file it was read from ("" when parsed from bytes).
	Path string
	// Values holds the top-level keys.
	Values map[string]any
}

// ReadConfig reads a config.json.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// ParseConfig parses config.json content; it must be a JSON object.
func ParseConfig(b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("config is not a JSON object")
	}
	return &Config{Values: v}, nil
}

func (c *Config) where() string {
	if c.Path != "" {
		return c.Path
	}
	return "config"
}

// Has reports whether a key is present (even if null).
func (c *Config) Has(key string) bool { _, ok := c.Values[key]; return ok }

// String returns a string value; ok is false when absent or not a string.
func (c *Config) String(key string) (string, bool) {
	s, ok := c.Values[key].(string)
	return s, ok
}

// Int returns an integer value. Absent keys give ok == false; present keys
// that are not integers give an error.
func (c *Config) Int(key string) (v int, ok bool, err error) {
	raw, present := c.Values[key]
	if !present || raw == nil {
		return 0, false, nil
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return 0, true, fmt.Errorf("%s: %s is %T, want an integer", c.where(), key, raw)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, true, fmt.Errorf("%s: %s = %s is not an integer", c.where(), key, n)
	}
	return int(i), true, nil
}

// Float returns a numeric value (ok false when absent; error when not a
// number).
func (c *Config) Float(key string) (v float64, ok bool, err error) {
	raw, present := c.Values[key]
	if !present || raw == nil {
		return 0, false, nil
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return 0, true, fmt.Errorf("%s: %s is %T, want a number", c.where(), key, raw)
	}
	f, err := n.Float64()
	if err != nil {
		return 0, true, fmt.Errorf("%s: %s = %s: %w", c.where(), key, n, err)
	}
	return f, true, nil
}

// Bool returns a boolean value (ok false when absent or not a boolean).
func (c *Config) Bool(key string) (v, ok bool) {
	v, ok = c.Values[key].(bool)
	return v, ok
}

// Strings returns a list of strings (ok false when absent or not a list of
// strings).
func (c *Config) Strings(key string) ([]string, bool) {
	list, ok := c.Values[key].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// IntOr returns an integer value, or def when absent. A present non-integer
// is an error.
func (c *Config) IntOr(key string, def int) (int, error) {
	v, ok, err := c.Int(key)
	if err != nil || !ok {
		return def, err
	}
	return v, nil
}

// FloatOr returns a numeric value, or def when absent.
func (c *Config) FloatOr(key string, def float64) (float64, error) {
	v, ok, err := c.Float(key)
	if err != nil || !ok {
		return def, err
	}
	return v, nil
}

// StringOr returns a string value, or def when absent or not a string.
func (c *Config) StringOr(key, def string) string {
	if s, ok := c.String(key); ok {
		return s
	}
	return def
}

// ModelType is "model_type" ("bert", "vit", ...), or "".
func (c *Config) ModelType() string { return c.StringOr("model_type", "") }

// Architectures is the "architectures" list ("BertModel", ...).
func (c *Config) Architectures() []string {
	a, _ := c.Strings("architectures")
	return a
}

// Labels returns id2label as a slice indexed by class id (nil when absent).
// It fails when the ids are not exactly 0..n-1.
func (c *Config) Labels() ([]string, error) {
	m, ok := c.Values["id2label"].(map[string]any)
	if !ok {
		return nil, nil
	}
	out := make([]string, len(m))
	seen := make([]bool, len(m))
	for k, v := range m {
		var id int
		if _, err := fmt.Sscanf(k, "%d", &id); err != nil || fmt.Sprint(id) != k || id < 0 || id >= len(m) || seen[id] {
			return nil, fmt.Errorf("%s: id2label key %q is not one of 0..%d", c.where(), k, len(m)-1)
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: id2label[%s] is not a string", c.where(), k)
		}
		out[id], seen[id] = s, true
	}
	return out, nil
}

// Decode decodes the whole config into a struct (with json tags), for
// typed model configs.
func (c *Config) Decode(v any) error {
	b, err := json.Marshal(c.Values)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", c.where(), err)
	}
	return nil
}

// Folder describes a Hugging Face model folder: config.json, weights in one
// of the standard file names, and tokenizer files.
type Folder struct {
	Dir    string
	Config *Config // nil when there is no config.json
	// Weights is the weights file (or shard index) that OpenWeights uses,
	// chosen in transformers' order: model.safetensors,
	// model.safetensors.index.json, pytorch_model.bin,
	// pytorch_model.bin.index.json. Empty when there is none.
	Weights string
	// Tokenizer is tokenizer.json when present, else vocab.txt, else "".
	Tokenizer string
}

// WeightFileNames are the weight file names a folder is searched for, in
// order of preference.
var WeightFileNames = []string{
	"model.safetensors",
	"model.safetensors.index.json",
	"pytorch_model.bin",
	"pytorch_model.bin.index.json",
}

// InspectFolder looks at a model folder without reading any weights.
func InspectFolder(dir string) (*Folder, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("model folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model folder %s: not a folder", dir)
	}
	f := &Folder{Dir: dir}
	if p := filepath.Join(dir, "config.json"); fileExists(p) {
		if f.Config, err = ReadConfig(p); err != nil {
			return nil, err
		}
	}
	for _, n := range WeightFileNames {
		if p := filepath.Join(dir, n); fileExists(p) {
			f.Weights = p
			break
		}
	}
	for _, n := range []string{"tokenizer.json", "vocab.txt"} {
		if p := filepath.Join(dir, n); fileExists(p) {
			f.Tokenizer = p
			break
		}
	}
	return f, nil
}

// OpenWeights opens the folder's weights.
func (f *Folder) OpenWeights() (Source, error) {
	if f.Weights == "" {
		return nil, fmt.Errorf("model folder %s: no weights (looked for %s)", f.Dir, strings.Join(WeightFileNames, ", "))
	}
	if strings.HasSuffix(f.Weights, ".index.json") {
		return OpenSharded(f.Weights)
	}
	return OpenWeights(f.Weights)
}

// LoadTokenizer loads the folder's tokenizer (tokenizer.json, else
// vocab.txt with tokenizer_config.json's settings).
func (f *Folder) LoadTokenizer() (*Tokenizer, error) {
	if f.Tokenizer == "" {
		return nil, fmt.Errorf("model folder %s: no tokenizer.json or vocab.txt", f.Dir)
	}
	return LoadTokenizer(f.Dir)
}

// OpenFolderWeights opens the weights of a model folder and returns them with
// the folder's description.
func OpenFolderWeights(dir string) (Source, *Folder, error) {
	f, err := InspectFolder(dir)
	if err != nil {
		return nil, nil, err
	}
	src, err := f.OpenWeights()
	if err != nil {
		return nil, nil, err
	}
	return src, f, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
