package pretrained

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/tensor"
)

// rawFile assembles a safetensors file from a header JSON and a data buffer.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// f64s returns a tensor's values as float64 (nil for an empty tensor).
func f64s(t testing.TB, x *ts.Tensor) []float64 {
	t.Helper()
	d, err := x.Totype(gotch.Double, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Drop()
	b, _, _, err := TensorBytes(d)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for i := 0; i+8 <= len(b); i += 8 {
		out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	return out
}

func writeTemp(t testing.TB, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func f32Bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func TestParseHeaderRejectsMalformedFiles(t *testing.T) {
	good := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	eight := make([]byte, 8)
	cases := []struct {
		name   string
		file   []byte
		tensor string // expected tensor named in the error ("" = none)
		reason string // expected fragment of the reason
	}{
		{"empty file", nil, "", "shorter than the 8-byte"},
		{"short file", []byte{1, 2, 3}, "", "shorter than the 8-byte"},
		{"header larger than file", append(binary.LittleEndian.AppendUint64(nil, 1000), `{"a":1}`...), "", "larger than the rest of the file"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "", "exceeds"},
		{"not an object", rawFile(`["a"]   `, nil), "", "does not start with '{'"},
		{"invalid json", rawFile(`{"a":{"dtype":"F32",`, nil), "a", "header JSON"},
		{"invalid utf-8", rawFile("{\"\xff\":{}}", nil), "", "UTF-8"},
		{"trailing garbage", rawFile(good+`xx`, eight), "", "trailing data"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, eight), "a", "unknown dtype"},
		{"missing field", rawFile(`{"a":{"dtype":"F32","shape":[2]}}`, eight), "a", "needs dtype, shape and data_offsets"},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, eight), "a", "unknown field"},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), "a", "negative dimension"},
		{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, eight), "a", "bad header entry"},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), "a", "overflows"},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, eight), "a", "has 3 values"},
		{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), "a", "invalid data_offsets"},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), "a", "needs 12 bytes"},
		{"out of range", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), "a", "run past the end"},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "a", "gap"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "b", "overlap"},
		{"uncovered tail", rawFile(good, make([]byte, 12)), "", "cover 8"},
		{"duplicate name", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "a", "duplicate"},
		{"metadata not strings", rawFile(`{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), "", "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "bad.safetensors", c.file)
			_, err := OpenSafetensors(p)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FormatError", err)
			}
			if fe.File != p || fe.Tensor != c.tensor || !strings.Contains(fe.Reason, c.reason) {
				t.Fatalf("got file %q tensor %q reason %q; want tensor %q reason containing %q", fe.File, fe.Tensor, fe.Reason, c.tensor, c.reason)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseHeaderAcceptsValidFiles(t *testing.T) {
	for _, c := range []struct {
		name   string
		file   []byte
		tensor []string
	}{
		{"no tensors", rawFile(`{}`, nil), nil},
		{"metadata only", rawFile(`{"__metadata__":{"format":"pt"}}`, nil), nil},
		{"padded header", rawFile(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}    `, []byte{7}), []string{"a"}},
		{"zero-size tensors", rawFile(`{"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"y":{"dtype":"F64","shape":[5,0],"data_offsets":[1,1]}}`, []byte{1}), []string{"a", "y", "z"}},
		{"unsupported but known dtype", rawFile(`{"u":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{"u"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := ParseHeader(bytes.NewReader(c.file), int64(len(c.file)), c.name)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ti := range h.Tensors {
				names = append(names, ti.Name)
			}
			if len(names) != len(c.tensor) {
				t.Fatalf("names %v, want %v", names, c.tensor)
			}
		})
	}
}

func TestSafetensorsRawRoundTrip(t *testing.T) {
	tensors := map[string]RawTensor{
		"w":      {F32, []int64{2, 3}, f32Bytes(1, 2, 3, 4, 5, 6)},
		"half":   {F16, []int64{2}, []byte{0x00, 0x3c, 0x00, 0xc0}},  // 1, -2
		"bf":     {BF16, []int64{2}, []byte{0x80, 0x3f, 0x40, 0xc0}}, // 1, -3
		"d":      {F64, []int64{1}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(2.5))},
		"l":      {I64, []int64{}, binary.LittleEndian.AppendUint64(nil, uint64(1<<40))},
		"i":      {I32, []int64{1}, binary.LittleEndian.AppendUint32(nil, uint32(0xfffffffe))},
		"s":      {I16, []int64{1}, binary.LittleEndian.AppendUint16(nil, 0x8000)},
		"b":      {I8, []int64{2}, []byte{0xff, 5}},
		"u":      {U8, []int64{2}, []byte{200, 3}},
		"mask":   {Bool, []int64{3}, []byte{1, 0, 1}},
		"empty":  {F32, []int64{0, 4}, nil},
		"zz.u32": {U32, []int64{1}, []byte{1, 0, 0, 0}},
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	if err := WriteSafetensorsRaw(p, tensors, map[string]string{"note": "test"}); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p)
	if err := WriteSafetensorsRaw(p, tensors, map[string]string{"note": "test"}); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(p)
	if !bytes.Equal(first, second) {
		t.Fatal("writing the same tensors twice gave different files")
	}
	if n := binary.LittleEndian.Uint64(first); (8+n)%8 != 0 {
		t.Fatalf("header of %d bytes is not padded to 8", n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.Metadata(), map[string]string{"format": "pt", "note": "test"}) {
		t.Fatalf("metadata %v", f.Metadata())
	}
	if !reflect.DeepEqual(f.Names(), sortedKeys(tensors)) {
		t.Fatalf("names %v", f.Names())
	}
	for name, want := range tensors {
		got, err := f.Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Data) {
			t.Errorf("%s: raw %v want %v", name, got, want.Data)
		}
		info, _ := f.Info(name)
		if info.DType != want.DType || !reflect.DeepEqual(info.Shape, want.Shape) {
			t.Errorf("%s: info %+v", name, info)
		}
	}
	if _, err := f.Raw("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	// Header keys are in sorted order after the metadata.
	hdr := string(first[8 : 8+binary.LittleEndian.Uint64(first)])
	if !strings.HasPrefix(hdr, `{"__metadata__":{"format":"pt","note":"test"},"b":`) {
		t.Fatalf("header %s", hdr)
	}
}

func TestWriteSafetensorsRawRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	for name, tensors := range map[string]map[string]RawTensor{
		"short data":    {"a": {F32, []int64{2}, make([]byte, 4)}},
		"unknown dtype": {"a": {"F7", []int64{1}, make([]byte, 1)}},
		"reserved name": {"__metadata__": {U8, []int64{1}, []byte{1}}},
	} {
		if err := WriteSafetensorsRaw(p, tensors, nil); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("a failed write left %s behind", p)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestSafetensorsTensors(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tensors := map[string]RawTensor{
		"w":    {F32, []int64{2, 2}, f32Bytes(1, 2, 3, 4)},
		"bf":   {BF16, []int64{2}, []byte{0x80, 0x3f, 0x40, 0xc0}},
		"half": {F16, []int64{2}, []byte{0x00, 0x3c, 0x00, 0xc0}},
		"l":    {I64, []int64{}, binary.LittleEndian.AppendUint64(nil, 42)},
		"mask": {Bool, []int64{3}, []byte{1, 0, 1}},
		"i8":   {I8, []int64{2}, []byte{0xff, 5}},
		"u8":   {U8, []int64{2}, []byte{200, 3}},
		"none": {F32, []int64{0}, nil},
		"u32":  {U32, []int64{1}, []byte{1, 0, 0, 0}},
	}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteSafetensorsRaw(p, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name  string
		dtype gotch.DType
		shape []int64
		vals  []float64
	}{
		{"w", gotch.Float, []int64{2, 2}, []float64{1, 2, 3, 4}},
		{"bf", gotch.Float, []int64{2}, []float64{1, -3}},
		{"half", gotch.Half, []int64{2}, []float64{1, -2}},
		{"l", gotch.Int64, []int64{}, []float64{42}},
		{"mask", gotch.Bool, []int64{3}, []float64{1, 0, 1}},
		{"i8", gotch.Int8, []int64{2}, []float64{-1, 5}},
		{"u8", gotch.Uint8, []int64{2}, []float64{200, 3}},
		{"none", gotch.Float, []int64{0}, nil},
	} {
		x, err := f.Tensor(c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		shape, _ := x.Size()
		if x.DType() != c.dtype || !reflect.DeepEqual(shape, c.shape) {
			t.Errorf("%s: dtype %v shape %v", c.name, x.DType(), shape)
		}
		if got := f64s(t, x); !reflect.DeepEqual(got, c.vals) {
			t.Errorf("%s: values %v want %v", c.name, got, c.vals)
		}
		x.Drop()
	}
	if _, err := f.Tensor("u32"); err == nil || !strings.Contains(err.Error(), "U32") {
		t.Errorf("U32: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("w"); err == nil {
		t.Error("read after Close: want an error")
	}
}

func TestWriteSafetensorsFromGotch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, _ := ts.OfSlice([]float32{1, 2, 3, 4, 5, 6})
	a2, _ := a.Reshape([]int64{2, 3}, true)
	at, _ := a2.Transpose(0, 1, false) // non-contiguous [3,2]
	ids, _ := ts.OfSlice([]int64{7, 8, 9})
	defer a2.Drop()
	defer at.Drop()
	defer ids.Drop()
	p := filepath.Join(t.TempDir(), "g.safetensors")
	if err := WriteSafetensors(p, map[string]*ts.Tensor{"t": at, "ids": ids}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, _ := f.Raw("t")
	if !bytes.Equal(raw, f32Bytes(1, 4, 2, 5, 3, 6)) {
		t.Fatalf("transposed tensor written as %v", raw)
	}
	if info, _ := f.Info("t"); !reflect.DeepEqual(info.Shape, []int64{3, 2}) || info.DType != F32 {
		t.Fatalf("info %+v", info)
	}
	back, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer tensor.DropMap(back)
	if got := back["ids"].Int64Values(); !reflect.DeepEqual(got, []int64{7, 8, 9}) {
		t.Fatalf("ids %v", got)
	}
}

func TestShardedSafetensors(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dir := t.TempDir()
	if err := WriteSafetensorsRaw(filepath.Join(dir, "model-00001-of-00002.safetensors"),
		map[string]RawTensor{"a": {F32, []int64{1}, f32Bytes(1)}, "b": {F32, []int64{2}, f32Bytes(2, 3)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensorsRaw(filepath.Join(dir, "model-00002-of-00002.safetensors"),
		map[string]RawTensor{"c": {F32, []int64{1}, f32Bytes(4)}}, nil); err != nil {
		t.Fatal(err)
	}
	writeIndex := func(m map[string]string) string {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 16}, "weight_map": m})
		p := filepath.Join(dir, "model.safetensors.index.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idx := writeIndex(map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})
	src, err := OpenWeights(idx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(src.Names(), []string{"a", "b", "c"}) {
		t.Fatalf("names %v", src.Names())
	}
	all, err := ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	if got := f64s(t, all["c"]); !reflect.DeepEqual(got, []float64{4}) {
		t.Fatalf("c = %v", got)
	}
	tensor.DropMap(all)
	src.Close()
	// The folder loader finds the index.
	fsrc, folder, err := OpenFolderWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(folder.Weights) != "model.safetensors.index.json" || len(fsrc.Names()) != 3 {
		t.Fatalf("folder %+v", folder)
	}
	fsrc.Close()

	for name, m := range map[string]map[string]string{
		"missing shard":     {"a": "model-00003-of-00003.safetensors"},
		"tensor not there":  {"c": "model-00001-of-00002.safetensors"},
		"escaping the path": {"a": "../model-00001-of-00002.safetensors"},
		"empty":             {},
	} {
		if _, err := OpenSharded(writeIndex(m)); err == nil {
			t.Errorf("%s: want an error", name)
		} else if name == "tensor not there" && !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("%s: error %v does not name the tensor", name, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}}  `, make([]byte, 2)))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{1}))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}}`, nil))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// A valid header tiles the data buffer exactly.
		var pos int64
		seen := map[string]bool{}
		for _, ti := range h.Tensors {
			if ti.Begin != pos || ti.End-ti.Begin != ti.NumElements()*ti.DType.Size() || seen[ti.Name] {
				t.Fatalf("invalid layout accepted: %+v", h.Tensors)
			}
			seen[ti.Name] = true
			pos = ti.End
		}
		if h.DataStart+pos != int64(len(data)) {
			t.Fatalf("data buffer not covered: start %d, covered %d, file %d", h.DataStart, pos, len(data))
		}
		// Re-encoding gives a header that parses to the same tensors.
		infos := append([]TensorInfo{}, h.Tensors...)
		enc, err := EncodeHeader(infos, h.Metadata)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		file := append(enc, data[h.DataStart:]...)
		h2, err := ParseHeader(bytes.NewReader(file), int64(len(file)), "fuzz2")
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(h2.Tensors) != len(h.Tensors) {
			t.Fatalf("re-parse: %d tensors, want %d", len(h2.Tensors), len(h.Tensors))
		}
	})
}

// BenchmarkReadMiniLM reads every tensor of the real all-MiniLM-L6-v2
// safetensors file (87 MiB) into gotch tensors.
func BenchmarkReadMiniLM(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := filepath.Join(miniLMDir(b), "model.safetensors")
	st, _ := os.Stat(p)
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		m, err := ReadSafetensors(p)
		if err != nil {
			b.Fatal(err)
		}
		tensor.DropMap(m)
	}
}
