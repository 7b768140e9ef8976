package pretrained

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// Source is a read-only collection of named tensors: a safetensors file, a
// sharded checkpoint, a pytorch_model.bin or a plain map. Tensor returns a
// new tensor that the caller drops; Close releases the source's own
// resources.
type Source interface {
	// Names lists the tensor names in sorted order.
	Names() []string
	// Shape is a tensor's shape without reading its data.
	Shape(name string) ([]int64, bool)
	// Tensor reads one tensor (on the CPU for files).
	Tensor(name string) (*ts.Tensor, error)
	// Close releases the source. Tensors already returned stay valid.
	Close() error
}

// MapSource serves tensors from a map. Tensor returns shallow clones, so
// dropping them leaves the map's tensors alive; Close drops nothing.
type MapSource map[string]*ts.Tensor

// Names lists the map's keys in sorted order.
func (m MapSource) Names() []string { return sortedKeys(m) }

// Shape is a tensor's shape.
func (m MapSource) Shape(name string) ([]int64, bool) {
	t, ok := m[name]
	if !ok {
		return nil, false
	}
	s, err := sizeOf(t)
	if err != nil {
		return nil, false
	}
	return s, true
}

// Tensor returns a shallow clone of the named tensor.
func (m MapSource) Tensor(name string) (*ts.Tensor, error) {
	t, ok := m[name]
	if !ok || t == nil {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	c, err := t.ShallowClone()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return c, nil
}

// Close does nothing: the map's owner drops its tensors.
func (m MapSource) Close() error { return nil }

// ReadAll reads every tensor of a source. On error the tensors read so far
// are dropped.
func ReadAll(src Source) (map[string]*ts.Tensor, error) {
	out := map[string]*ts.Tensor{}
	for _, n := range src.Names() {
		t, err := src.Tensor(n)
		if err != nil {
			tensor.DropMap(out)
			return nil, err
		}
		out[n] = t
	}
	return out, nil
}

// ShardIndex is the content of a model.safetensors.index.json (or
// pytorch_model.bin.index.json) file.
type ShardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ReadShardIndex reads and checks a shard index: a non-empty weight map whose
// shard names are plain relative paths inside the index's folder.
func ReadShardIndex(path string) (*ShardIndex, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard index: %w", err)
	}
	var idx ShardIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("shard index %s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("shard index %s: empty or missing weight_map", path)
	}
	for name, shard := range idx.WeightMap {
		if shard == "" || filepath.IsAbs(shard) || strings.Contains(shard, "..") || strings.ContainsRune(shard, '\\') {
			return nil, fmt.Errorf("shard index %s: tensor %q: invalid shard file name %q", path, name, shard)
		}
	}
	return &idx, nil
}

// Shards lists the distinct shard files in sorted order.
func (idx *ShardIndex) Shards() []string {
	set := map[string]bool{}
	for _, s := range idx.WeightMap {
		set[s] = true
	}
	return sortedKeys(set)
}

// ShardedSource is a checkpoint split over several files, read through its
// index. Every shard is opened up front (cheap for safetensors: only the
// headers are read).
type ShardedSource struct {
	index  string
	shards map[string]Source
	where  map[string]string // tensor name -> shard file
}

var _ Source = (*ShardedSource)(nil)

// OpenSharded opens a sharded checkpoint from its index file. Shards ending
// in .safetensors are memory-mapped; others are read as PyTorch files. It
// fails when a shard is missing or does not hold a tensor the index puts
// there.
func OpenSharded(indexPath string) (*ShardedSource, error) {
	idx, err := ReadShardIndex(indexPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	s := &ShardedSource{index: indexPath, shards: map[string]Source{}, where: idx.WeightMap}
	for _, shard := range idx.Shards() {
		p := filepath.Join(dir, shard)
		var src Source
		if strings.HasSuffix(shard, ".safetensors") {
			src, err = OpenSafetensors(p)
		} else {
			src, err = OpenTorchBin(p)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("shard index %s: %w", indexPath, err)
		}
		s.shards[shard] = src
	}
	for _, name := range sortedKeys(idx.WeightMap) {
		shard := idx.WeightMap[name]
		if _, ok := s.shards[shard].Shape(name); !ok {
			s.Close()
			return nil, fmt.Errorf("shard index %s: tensor %q: not found in shard %s", indexPath, name, shard)
		}
	}
	return s, nil
}

// Names lists the tensors of the weight map in sorted order.
func (s *ShardedSource) Names() []string { return sortedKeys(s.where) }

// Shape is a tensor's shape.
func (s *ShardedSource) Shape(name string) ([]int64, bool) {
	shard, ok := s.where[name]
	if !ok {
		return nil, false
	}
	return s.shards[shard].Shape(name)
}

// Tensor reads one tensor from its shard.
func (s *ShardedSource) Tensor(name string) (*ts.Tensor, error) {
	shard, ok := s.where[name]
	if !ok {
		return nil, fmt.Errorf("shard index %s: no tensor %q", s.index, name)
	}
	return s.shards[shard].Tensor(name)
}

// Close closes every shard.
func (s *ShardedSource) Close() error {
	var first error
	keys := make([]string, 0, len(s.shards))
	for k := range s.shards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.shards[k].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.shards = map[string]Source{}
	return first
}

// OpenWeights opens a weights file by its name: *.safetensors, a shard index
// (*.index.json), or a PyTorch file (*.bin, *.pt, *.pth). A folder is
// opened with OpenFolderWeights.
func OpenWeights(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open weights: %w", err)
	}
	if st.IsDir() {
		src, _, err := OpenFolderWeights(path)
		return src, err
	}
	switch {
	case strings.HasSuffix(path, ".safetensors"):
		return OpenSafetensors(path)
	case strings.HasSuffix(path, ".index.json"):
		return OpenSharded(path)
	case strings.HasSuffix(path, ".bin"), strings.HasSuffix(path, ".pt"), strings.HasSuffix(path, ".pth"):
		return OpenTorchBin(path)
	}
	return nil, fmt.Errorf("open weights %s: unknown file type (want .safetensors, .index.json, .bin, .pt or .pth)", path)
}
