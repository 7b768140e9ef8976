// Package checkpoint writes and reads VBG's training checkpoints: one
// safetensors file holding the model's variables ("model.<name>"), the
// optimizer's moments ("optim.*"), any extra state (the GAN's "gan.*"), the
// training State and the class names. A SHA-256 in the header covers the
// whole file (header, dtypes, shapes, state, labels and every tensor byte),
// so a truncated, edited or corrupted file is refused with one line naming
// it.
package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/atomicfile"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/tensor"
)

// State is where training stands: enough, with the weights and optimizer
// moments, to continue a run as if it had never stopped.
type State struct {
	Epoch      int     `json:"epoch"`       // epochs completed
	Step       int64   `json:"step"`        // optimizer steps taken
	Best       float64 `json:"best"`        // best value of the selection metric so far (-Inf before the first epoch)
	BestEpoch  int     `json:"best_epoch"`  // epoch (1-based) of Best; 0 = none yet
	SinceBest  int     `json:"since_best"`  // epochs without improvement (early stopping)
	ConfigHash string  `json:"config_hash"` // the resolved config the run was started with
	// Partial is the epoch under way when a step checkpoint was written
	// (nil at an epoch's end).
	Partial *Partial `json:"partial,omitempty"`
}

// Partial is the part of epoch State.Epoch+1 that a step checkpoint covers.
type Partial struct {
	Batches int     `json:"batches"`  // micro-batches trained on
	LossSum float64 `json:"loss_sum"` // Σ loss·batch size over them
	Correct int     `json:"correct"`
	Seen    int     `json:"seen"`
	Seconds float64 `json:"seconds"` // training time spent on them
	// StartStep is the optimizer steps taken before the epoch began.
	StartStep int64 `json:"start_step"`
}

// Format is the value of a checkpoint's "vbg.format" metadata.
const Format = "vbg-checkpoint/2"

// Metadata keys of a checkpoint file.
const (
	metaFormat = "vbg.format"
	metaState  = "vbg.state"
	metaLabels = "vbg.labels"
	metaSHA256 = "vbg.sha256"
)

// placeholder stands for the checksum while the file is hashed.
var placeholder = strings.Repeat("0", sha256.Size*2)

// Contents is what a checkpoint holds besides the model's variables.
type Contents struct {
	State  State
	Labels []string
	// Extra tensors are stored under their own names (the optimizer's
	// "optim.*", the GAN's "gan.*"); they are not freed.
	Extra map[string]*ts.Tensor
}

// entry is one tensor to write.
type entry struct {
	name string
	t    *ts.Tensor
}

// Save writes vs's variables and c to path atomically. midway, when not
// nil, is called after half of the tensor bytes are written (tests kill
// the process there to prove that an interrupted write loses nothing).
func Save(path string, vs *nn.VarStore, c Contents, midway func()) error {
	entries, infos, err := collect(vs, c.Extra)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	md, err := metadata(c)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	header, err := pretrained.EncodeHeader(infos, md)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	slot := []byte(`"` + metaSHA256 + `":"` + placeholder)
	at := bytes.Index(header, slot)
	if at < 0 {
		return fmt.Errorf("checkpoint %s: the header has no checksum slot", path)
	}
	at += len(slot) - len(placeholder)
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	h := sha256.New()
	if err := writeData(io.MultiWriter(f, h), header, entries, infos, midway); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(hex.EncodeToString(h.Sum(nil))), int64(at)); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return f.Commit()
}

// collect lists the tensors in name order with their safetensors entries.
func collect(vs *nn.VarStore, extra map[string]*ts.Tensor) ([]entry, []pretrained.TensorInfo, error) {
	var entries []entry
	for name, v := range vs.Variables() {
		v := v
		entries = append(entries, entry{"model." + name, &v})
	}
	for name, t := range extra {
		entries = append(entries, entry{name, t})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	infos := make([]pretrained.TensorInfo, len(entries))
	for i, e := range entries {
		shape, err := e.t.Size()
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", e.name, err)
		}
		dt, err := pretrained.DTypeOf(e.t.DType())
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", e.name, err)
		}
		infos[i] = pretrained.TensorInfo{Name: e.name, DType: dt, Shape: shape}
	}
	return entries, infos, nil
}

// metadata is the header's metadata, with the checksum's placeholder.
func metadata(c Contents) (map[string]string, error) {
	st := c.State
	if st.BestEpoch == 0 || math.IsInf(st.Best, 0) {
		st.Best = 0 // JSON has no infinity; BestEpoch 0 says there is no best yet
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	labels, err := json.Marshal(c.Labels)
	if err != nil {
		return nil, err
	}
	return map[string]string{metaFormat: Format, metaState: string(stJSON), metaLabels: string(labels), metaSHA256: placeholder}, nil
}

// writeData writes the header and every tensor's bytes.
func writeData(w io.Writer, header []byte, entries []entry, infos []pretrained.TensorInfo, midway func()) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(header); err != nil {
		return err
	}
	var total, done int64
	for _, in := range infos {
		total += in.End - in.Begin
	}
	for i, e := range entries {
		b, _, _, err := pretrained.TensorBytes(e.t)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", e.name, err)
		}
		if int64(len(b)) != infos[i].End-infos[i].Begin {
			return fmt.Errorf("tensor %s: %d bytes, want %d", e.name, len(b), infos[i].End-infos[i].Begin)
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
		if done < total/2 && done+int64(len(b)) >= total/2 && midway != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			midway()
		}
		done += int64(len(b))
	}
	return bw.Flush()
}

// Checkpoint is a checkpoint read back and verified.
type Checkpoint struct {
	State  State
	Labels []string
	Model  map[string]*ts.Tensor // by variable name, without the "model." prefix
	Optim  map[string]*ts.Tensor // "optim.m.<param>", "optim.v.<param>"
	Extra  map[string]*ts.Tensor // anything else, e.g. "gan.*"
	Path   string
}

// Drop frees the checkpoint's tensors.
func (c *Checkpoint) Drop() {
	tensor.DropMap(c.Model)
	tensor.DropMap(c.Optim)
	tensor.DropMap(c.Extra)
}

// Load reads a checkpoint and verifies its checksum over the whole file.
func Load(path string) (*Checkpoint, error) {
	if err := Verify(path); err != nil {
		return nil, err
	}
	f, err := pretrained.OpenSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	md := f.Metadata()
	c := &Checkpoint{Path: path, Model: map[string]*ts.Tensor{}, Optim: map[string]*ts.Tensor{}, Extra: map[string]*ts.Tensor{}}
	if err := json.Unmarshal([]byte(md[metaState]), &c.State); err != nil {
		return nil, fmt.Errorf("checkpoint %s: state: %w", path, err)
	}
	if c.State.BestEpoch == 0 {
		c.State.Best = math.Inf(-1)
	}
	if err := json.Unmarshal([]byte(md[metaLabels]), &c.Labels); err != nil {
		return nil, fmt.Errorf("checkpoint %s: labels: %w", path, err)
	}
	names := f.Names()
	sort.Strings(names)
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

// Verify checks that path is a VBG checkpoint whose checksum matches the
// whole file.
func Verify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("checkpoint %s: not a regular file", path)
	}
	h, err := pretrained.ParseHeader(f, st.Size(), path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if h.Metadata[metaFormat] != Format {
		return fmt.Errorf("checkpoint %s: format %q, want %q (not a VBG checkpoint, or one from an older VBG)", path, h.Metadata[metaFormat], Format)
	}
	want := h.Metadata[metaSHA256]
	got, err := fileSum(f, h.DataStart, want)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if got != want {
		return fmt.Errorf("checkpoint %s: checksum mismatch (file says %.12s…, content hashes to %.12s…): the file is corrupt", path, want, got)
	}
	return nil
}

// fileSum hashes the file with the checksum in its header replaced by the
// placeholder, as Save hashed it.
func fileSum(f *os.File, dataStart int64, want string) (string, error) {
	if len(want) != len(placeholder) {
		return "", errors.New("no valid checksum in the header")
	}
	header := make([]byte, dataStart)
	if _, err := f.ReadAt(header, 0); err != nil {
		return "", err
	}
	n := int64(binary.LittleEndian.Uint64(header[:8]))
	key := []byte(`"` + metaSHA256 + `":"` + want + `"`)
	at := bytes.Index(header[8:8+n], key)
	if at < 0 || bytes.Index(header[8+at+len(key):8+n], []byte(`"`+metaSHA256+`"`)) >= 0 {
		return "", errors.New("the checksum is not where a VBG checkpoint keeps it")
	}
	at += 8 + len(key) - len(want) - 1
	copy(header[at:], placeholder)
	h := sha256.New()
	h.Write(header)
	if err := copyRest(h, f, dataStart); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyRest hashes the file from offset on.
func copyRest(h hash.Hash, f *os.File, offset int64) error {
	_, err := io.Copy(h, io.NewSectionReader(f, offset, math.MaxInt64-offset))
	return err
}

// Restore copies the checkpoint's model tensors into vs; every variable of
// vs must be present with its shape and dtype.
func (c *Checkpoint) Restore(vs *nn.VarStore) error {
	vars := vs.Variables()
	var missing []string
	for name, v := range vars {
		src, ok := c.Model[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if src.DType() != v.DType() {
			return fmt.Errorf("checkpoint %s: %s is %v, the model's is %v", c.Path, name, src.DType(), v.DType())
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

// CheckLabels returns an error when the checkpoint was trained on other
// class names than labels (another order included).
func (c *Checkpoint) CheckLabels(labels []string, source string) error {
	if !slices.Equal(c.Labels, labels) {
		return fmt.Errorf("checkpoint %s was trained on the classes %q, but %s lists %q", c.Path, c.Labels, source, labels)
	}
	return nil
}
