package pretrained

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/atomicfile"
)

// SafetensorsFile is an open, validated safetensors file. Its data is
// memory-mapped where the platform allows (read with ReadAt otherwise), so
// opening a large file costs only its header. Close it when done; byte slices
// returned by Raw are invalid afterwards.
type SafetensorsFile struct {
	path   string
	f      *os.File
	data   []byte // whole file, memory-mapped; nil when not mapped
	header *Header
	byName map[string]int
}

var _ Source = (*SafetensorsFile)(nil)

// OpenSafetensors opens and validates a safetensors file.
func OpenSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: not a regular file", path)
	}
	h, err := ParseHeader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf := &SafetensorsFile{path: path, f: f, header: h, byName: make(map[string]int, len(h.Tensors))}
	for i, t := range h.Tensors {
		sf.byName[t.Name] = i
	}
	if st.Size() > h.DataStart {
		// Mapping is an optimisation: on failure fall back to ReadAt.
		if m, err := mmapFile(f, st.Size()); err == nil {
			sf.data = m
		}
	}
	return sf, nil
}

// Path is the file's path as given to OpenSafetensors.
func (s *SafetensorsFile) Path() string { return s.path }

// Header is the file's validated header.
func (s *SafetensorsFile) Header() *Header { return s.header }

// Metadata is the file's "__metadata__" map (nil when absent).
func (s *SafetensorsFile) Metadata() map[string]string { return s.header.Metadata }

// Names lists the tensor names in sorted order.
func (s *SafetensorsFile) Names() []string {
	names := make([]string, 0, len(s.header.Tensors))
	for _, t := range s.header.Tensors {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// Info describes one tensor.
func (s *SafetensorsFile) Info(name string) (TensorInfo, bool) {
	i, ok := s.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return s.header.Tensors[i], true
}

// Shape is the shape of one tensor.
func (s *SafetensorsFile) Shape(name string) ([]int64, bool) {
	t, ok := s.Info(name)
	return t.Shape, ok
}

// Raw returns a tensor's little-endian bytes. When the file is mapped the
// slice aliases the mapping: do not modify it, and do not use it after
// Close.
func (s *SafetensorsFile) Raw(name string) ([]byte, error) {
	if s.f == nil {
		return nil, fmt.Errorf("safetensors %s: file is closed", s.path)
	}
	t, ok := s.Info(name)
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", s.path, name)
	}
	begin, end := s.header.DataStart+t.Begin, s.header.DataStart+t.End
	if s.data != nil {
		return s.data[begin:end:end], nil
	}
	buf := make([]byte, end-begin)
	if _, err := s.f.ReadAt(buf, begin); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return nil, fmt.Errorf("safetensors %s: tensor %q: read: %w", s.path, name, err)
	}
	return buf, nil
}

// Tensor reads one tensor into a new CPU tensor (BF16 widened to F32).
func (s *SafetensorsFile) Tensor(name string) (*ts.Tensor, error) {
	t, ok := s.Info(name)
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", s.path, name)
	}
	if !t.DType.Supported() {
		return nil, fmt.Errorf("safetensors %s: tensor %q: dtype %s is not supported", s.path, name, t.DType)
	}
	raw, err := s.Raw(name)
	if err != nil {
		return nil, err
	}
	x, err := NewTensorFromBytes(raw, t.DType, t.Shape)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w", s.path, name, err)
	}
	return x, nil
}

// Close unmaps and closes the file. It is safe to call twice.
func (s *SafetensorsFile) Close() error {
	if s.f == nil {
		return nil
	}
	err := munmap(s.data)
	s.data = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// ReadSafetensors loads every tensor of a safetensors file onto the CPU. The
// caller owns (and drops) the tensors.
func ReadSafetensors(path string) (map[string]*ts.Tensor, error) {
	f, err := OpenSafetensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f)
}

// RawTensor is a tensor given as little-endian row-major bytes, for writing
// without libtorch.
type RawTensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// WriteSafetensorsRaw writes raw tensors to a safetensors file atomically
// (a temporary file in the same folder, renamed into place). Names are
// written in sorted order, so equal inputs give identical files. metadata
// is stored as "__metadata__"; "format": "pt" is added when absent.
func WriteSafetensorsRaw(path string, tensors map[string]RawTensor, metadata map[string]string) error {
	names := sortedKeys(tensors)
	infos := make([]TensorInfo, len(names))
	for i, n := range names {
		t := tensors[n]
		infos[i] = TensorInfo{Name: n, DType: t.DType, Shape: t.Shape}
		if want := infos[i].NumElements() * t.DType.Size(); t.DType.Size() == 0 || int64(len(t.Data)) != want {
			return fmt.Errorf("write safetensors %s: tensor %q: %d bytes for %s %v, want %d", path, n, len(t.Data), t.DType, t.Shape, want)
		}
	}
	return writeSafetensors(path, infos, withFormat(metadata), func(i int) ([]byte, error) {
		return tensors[names[i]].Data, nil
	})
}

// WriteSafetensors writes gotch tensors (any device and dtype gotch and
// safetensors share) to a safetensors file atomically, names in sorted order,
// with "__metadata__" {"format": "pt"} plus the given metadata. Tensors are
// copied to host memory one at a time.
func WriteSafetensors(path string, tensors map[string]*ts.Tensor, metadata map[string]string) error {
	names := sortedKeys(tensors)
	infos := make([]TensorInfo, len(names))
	for i, n := range names {
		t := tensors[n]
		shape, err := sizeOf(t)
		if err != nil {
			return fmt.Errorf("write safetensors %s: tensor %q: %w", path, n, err)
		}
		dt, err := DTypeOf(t.DType())
		if err != nil {
			return fmt.Errorf("write safetensors %s: tensor %q: %w", path, n, err)
		}
		infos[i] = TensorInfo{Name: n, DType: dt, Shape: shape}
	}
	return writeSafetensors(path, infos, withFormat(metadata), func(i int) ([]byte, error) {
		b, _, _, err := TensorBytes(tensors[names[i]])
		return b, err
	})
}

func withFormat(md map[string]string) map[string]string {
	out := map[string]string{"format": "pt"}
	for k, v := range md {
		out[k] = v
	}
	return out
}

func writeSafetensors(path string, infos []TensorInfo, metadata map[string]string, data func(i int) ([]byte, error)) (err error) {
	header, err := EncodeHeader(infos, metadata)
	if err != nil {
		return fmt.Errorf("write safetensors %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(header); err != nil {
			return err
		}
		for i, info := range infos {
			b, err := data(i)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", info.Name, err)
			}
			if int64(len(b)) != info.End-info.Begin {
				return fmt.Errorf("tensor %q: got %d bytes, want %d", info.Name, len(b), info.End-info.Begin)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeAtomic writes a file through package atomicfile (a synced temporary
// file renamed into place, so readers never see a partial file), with a
// 1 MiB write buffer.
func writeAtomic(path string, write func(w io.Writer) error) error {
	return atomicfile.WriteWith(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
