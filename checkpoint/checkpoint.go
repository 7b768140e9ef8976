// Package checkpoint writes and reads VBG's training checkpoints: one
// safetensors file holding the model's variables ("model.<name>"), the
// optimizer's moments ("optim.*"), any extra state (the GAN's "gan.*") and
// the training State, with a SHA-256 over the tensors in its header, so a
// truncated, edited or corrupted file is refused by name.
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/tensor"
)

// State is where training stands: enough, with the weights and optimizer
// moments, to continue a run as if it had never stopped.
type State struct {
	Epoch      int     `json:"epoch"`       // epochs completed
	Step       int64   `json:"step"`        // optimizer steps taken
	Best       float64 `json:"best"`        // best value of the selection metric so far
	BestEpoch  int     `json:"best_epoch"`  // epoch (1-based) of Best; 0 = none yet
	SinceBest  int     `json:"since_best"`  // epochs without improvement (early stopping)
	ConfigHash string  `json:"config_hash"` // the resolved config the run was started with
}

// Metadata keys of a checkpoint file.
const (
	metaState  = "vbg.state"
	metaSHA256 = "vbg.sha256"
)

// checksum hashes tensors in name order: name, NUL, bytes.
func checksum(names []string, data func(string) ([]byte, error)) (string, error) {
	h := sha256.New()
	for _, n := range names {
		b, err := data(n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Save writes the model's variables ("model.<name>"), extra tensors under
// their own names (the optimizer's "optim.*", the GAN's "gan.*") and the
// state to path as one safetensors file, atomically, with a SHA-256 of its
// tensors in the header.
func Save(path string, vs *nn.VarStore, extra map[string]*ts.Tensor, st State) error {
	raw := map[string]pretrained.RawTensor{}
	add := func(name string, t *ts.Tensor) error {
		b, dt, shape, err := pretrained.TensorBytes(t)
		if err != nil {
			return fmt.Errorf("checkpoint %s: tensor %s: %w", path, name, err)
		}
		raw[name] = pretrained.RawTensor{DType: dt, Shape: shape, Data: b}
		return nil
	}
	for name, v := range vs.Variables() {
		v := v
		if err := add("model."+name, &v); err != nil {
			return err
		}
	}
	for name, t := range extra {
		if err := add(name, t); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	sum, _ := checksum(names, func(n string) ([]byte, error) { return raw[n].Data, nil })
	stJSON, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return pretrained.WriteSafetensorsRaw(path, raw, map[string]string{metaState: string(stJSON), metaSHA256: sum})
}

// Checkpoint is a checkpoint read back and verified.
type Checkpoint struct {
	State State
	Model map[string]*ts.Tensor // by variable name, without the "model." prefix
	Optim map[string]*ts.Tensor // "optim.m.<param>", "optim.v.<param>"
	Extra map[string]*ts.Tensor // anything else, e.g. "gan.*"
	Path  string
}

// Drop frees the checkpoint's tensors.
func (c *Checkpoint) Drop() {
	tensor.DropMap(c.Model)
	tensor.DropMap(c.Optim)
	tensor.DropMap(c.Extra)
}

// Load reads a checkpoint and verifies its checksum; a file that
// was truncated, edited or corrupted is an error naming the file.
func Load(path string) (*Checkpoint, error) {
	f, err := pretrained.OpenSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	md := f.Metadata()
	want, ok := md[metaSHA256]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: no %s in its header: not a VBG checkpoint", path, metaSHA256)
	}
	names := f.Names()
	sort.Strings(names)
	got, err := checksum(names, f.Raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if got != want {
		return nil, fmt.Errorf("checkpoint %s: checksum mismatch (file says %.12s…, data hashes to %.12s…): the file is corrupt", path, want, got)
	}
	c := &Checkpoint{Path: path, Model: map[string]*ts.Tensor{}, Optim: map[string]*ts.Tensor{}, Extra: map[string]*ts.Tensor{}}
	if err := json.Unmarshal([]byte(md[metaState]), &c.State); err != nil {
		return nil, fmt.Errorf("checkpoint %s: state: %w", path, err)
	}
	for _, n := range names {
		t, err := f.Tensor(n)
		if err != nil {
			c.Drop()
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
		switch {
		case strings.HasPrefix(n, "model."):
			c.Model[strings.TrimPrefix(n, "model.")] = t
		case strings.HasPrefix(n, "optim."):
			c.Optim[n] = t
		default:
			c.Extra[n] = t
		}
	}
	return c, nil
}

// Restore copies the checkpoint's model tensors into vs; every variable of
// vs must be present with its shape.
func (c *Checkpoint) Restore(vs *nn.VarStore) error {
	vars := vs.Variables()
	var missing []string
	for name, v := range vars {
		src, ok := c.Model[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		v := v
		if err := tensor.CopyInto(&v, src); err != nil {
			return fmt.Errorf("checkpoint %s: %s: %w", c.Path, name, err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("checkpoint %s: %d model tensors missing (first: %s); was it written by another model config?", c.Path, len(missing), missing[0])
	}
	return nil
}
