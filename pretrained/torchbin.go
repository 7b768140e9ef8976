package pretrained

import (
	"fmt"
	"reflect"
	"sort"
	"unsafe"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// TorchBinSource serves the tensors of a PyTorch checkpoint written by
// torch.save (the zip format of PyTorch >= 1.6, as in pytorch_model.bin).
//
// It uses gotch's pickle reader, which holds every storage in Go memory once
// the file is opened; tensors are built from those storages one at a time
// when asked for. Supported: a state dict (dict or OrderedDict of tensors),
// also when nested under "state_dict", "model" or "module" as training
// checkpoints do. Storages of type float, double, half, bfloat16 (widened to
// float32), int64, int32, int16, int8, uint8 and bool, with any strides and
// offsets (views are copied out contiguous). The legacy pre-1.6 format works
// for plain state dicts. Not supported (an error, never a panic or a hang):
// TorchScript archives, quantized and sparse tensors, legacy files with
// storage views. The file is read by this package's loaders around gotch's
// unpickler (torchpickle.go), which check every length and size against the
// file before anything is allocated; gotch's own loaders trust the file.
type TorchBinSource struct {
	path    string
	tensors map[string]*pickle.StorageTensor
	// Skipped lists state-dict entries that are not tensors.
	Skipped []string
}

var _ Source = (*TorchBinSource)(nil)

// OpenTorchBin reads a torch.save checkpoint (see loadTorchFile: every size in the file is
// checked against the bytes it really has before anything is allocated).
func OpenTorchBin(path string) (src *TorchBinSource, err error) {
	defer func() {
		// gotch's unpickler panics on some inputs (unexpected types on its stack): turn
		// those into errors.
		if r := recover(); r != nil {
			src, err = nil, fmt.Errorf("pytorch checkpoint %s: unsupported content: %v", path, r)
		}
	}()
	obj, err := loadTorchFile(path)
	if err != nil {
		return nil, fmt.Errorf("pytorch checkpoint %s: %w", path, err)
	}
	entries, err := stateDictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("pytorch checkpoint %s: %w", path, err)
	}
	s := &TorchBinSource{path: path, tensors: map[string]*pickle.StorageTensor{}}
	for _, e := range entries {
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("pytorch checkpoint %s: state dict key %v is not a string", path, e.key)
		}
		st, ok := e.value.(*pickle.StorageTensor)
		if !ok {
			s.Skipped = append(s.Skipped, name)
			continue
		}
		if _, err := storageBytes(st.Source); err != nil {
			return nil, fmt.Errorf("pytorch checkpoint %s: tensor %q: %w", path, name, err)
		}
		s.tensors[name] = st
	}
	sort.Strings(s.Skipped)
	if len(s.tensors) == 0 {
		return nil, fmt.Errorf("pytorch checkpoint %s: no tensors in the state dict", path)
	}
	return s, nil
}

type kv struct {
	key, value any
}

// dictEntries lists the entries of a pickled dict or OrderedDict in order.
func dictEntries(obj any) ([]kv, bool) {
	switch d := obj.(type) {
	case *pickle.Dict:
		out := make([]kv, 0, len(*d))
		for _, e := range *d {
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	case *pickle.OrderedDict:
		out := make([]kv, 0, d.List.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*pickle.OrderedDictEntry)
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

// stateDictEntries finds the state dict: the top-level dict, or the one under
// "state_dict", "model" or "module" when the top level holds no tensors.
func stateDictEntries(obj any) ([]kv, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("top-level object is %T, want a dict of tensors", obj)
	}
	hasTensor := false
	for _, e := range entries {
		if _, ok := e.value.(*pickle.StorageTensor); ok {
			hasTensor = true
			break
		}
	}
	if hasTensor {
		return entries, nil
	}
	var keys []string
	for _, want := range []string{"state_dict", "model", "module"} {
		for _, e := range entries {
			if k, _ := e.key.(string); k == want {
				if _, ok := dictEntries(e.value); ok {
					return stateDictEntries(e.value)
				}
			}
		}
	}
	for _, e := range entries {
		keys = append(keys, fmt.Sprint(e.key))
	}
	return nil, fmt.Errorf("no tensors found (top-level keys: %v)", keys)
}

// storageBytes views a storage's Go slice as bytes and names its type.
func storageBytes(s pickle.Storage) (raw []byte, err error) {
	_, raw, err = storageView(s)
	return raw, err
}

func storageView(s pickle.Storage) (DType, []byte, error) {
	var dt DType
	var data any
	switch st := s.(type) {
	case *pickle.FloatStorage:
		dt, data = F32, st.Data
	case *pickle.DoubleStorage:
		dt, data = F64, st.Data
	case *pickle.HalfStorage:
		dt, data = F16, st.Data
	case *pickle.BFloat16Storage:
		dt, data = BF16, st.Data
	case *pickle.LongStorage:
		dt, data = I64, st.Data
	case *pickle.IntStorage:
		dt, data = I32, st.Data
	case *pickle.ShortStorage:
		dt, data = I16, st.Data
	case *pickle.CharStorage:
		dt, data = I8, st.Data
	case *pickle.ByteStorage:
		dt, data = U8, st.Data
	case *pickle.BoolStorage:
		dt, data = Bool, st.Data
	default:
		return "", nil, fmt.Errorf("unsupported storage type %T", s)
	}
	v := reflect.ValueOf(data)
	if v.Len() == 0 {
		return dt, nil, nil
	}
	n := v.Len() * int(v.Type().Elem().Size())
	if int64(v.Type().Elem().Size()) != dt.Size() {
		return "", nil, fmt.Errorf("storage %T has %d-byte elements, want %d", s, v.Type().Elem().Size(), dt.Size())
	}
	return dt, unsafe.Slice((*byte)(v.UnsafePointer()), n), nil
}

// Path is the checkpoint's path.
func (s *TorchBinSource) Path() string { return s.path }

// Names lists the tensor names in sorted order.
func (s *TorchBinSource) Names() []string { return sortedKeys(s.tensors) }

// Shape is a tensor's shape.
func (s *TorchBinSource) Shape(name string) ([]int64, bool) {
	st, ok := s.tensors[name]
	if !ok {
		return nil, false
	}
	return append([]int64{}, st.Size...), true
}

// Tensor builds one tensor (contiguous, on the CPU) from its storage, size,
// stride and offset.
func (s *TorchBinSource) Tensor(name string) (*ts.Tensor, error) {
	st, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("pytorch checkpoint %s: no tensor %q", s.path, name)
	}
	x, err := storageTensor(st)
	if err != nil {
		return nil, fmt.Errorf("pytorch checkpoint %s: tensor %q: %w", s.path, name, err)
	}
	return x, nil
}

func storageTensor(st *pickle.StorageTensor) (*ts.Tensor, error) {
	dt, raw, err := storageView(st.Source)
	if err != nil {
		return nil, err
	}
	if len(st.Stride) != len(st.Size) {
		return nil, fmt.Errorf("size %v and stride %v differ in rank", st.Size, st.Stride)
	}
	numel := int64(len(raw)) / dt.Size()
	// Check that the view stays inside the storage.
	last := st.StorageOffset
	empty := false
	for i, d := range st.Size {
		if d < 0 || st.Stride[i] < 0 {
			return nil, fmt.Errorf("invalid size %v or stride %v", st.Size, st.Stride)
		}
		if d == 0 {
			empty = true
		} else {
			last += (d - 1) * st.Stride[i]
		}
	}
	if empty {
		return NewTensorFromBytes(nil, dt, st.Size)
	}
	if st.StorageOffset < 0 || last >= numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) runs past its storage of %d elements",
			st.StorageOffset, st.Size, st.Stride, numel)
	}
	// Contiguous views (the common case, and every scalar) are a plain byte
	// range of the storage.
	contiguous, want := true, int64(1)
	for i := len(st.Size) - 1; i >= 0; i-- {
		if st.Size[i] != 1 && st.Stride[i] != want {
			contiguous = false
			break
		}
		want *= st.Size[i]
	}
	if contiguous {
		info := TensorInfo{DType: dt, Shape: st.Size}
		begin := st.StorageOffset * dt.Size()
		return NewTensorFromBytes(raw[begin:begin+info.NumElements()*dt.Size()], dt, st.Size)
	}
	base, err := NewTensorFromBytes(raw, dt, []int64{numel})
	if err != nil {
		return nil, err
	}
	defer base.Drop()
	view, err := base.AsStrided(st.Size, st.Stride, []int64{st.StorageOffset}, false)
	if err != nil {
		return nil, err
	}
	defer view.Drop()
	return view.Contiguous(false)
}

// Close releases the Go copies of the storages.
func (s *TorchBinSource) Close() error {
	s.tensors = map[string]*pickle.StorageTensor{}
	return nil
}
