package pretrained

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The safetensors element types. Every one of them is accepted by the header
// parser (so that sizes can be checked); DType.Supported tells which ones can
// become gotch tensors.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
	U16  DType = "U16"
	U32  DType = "U32"
	U64  DType = "U64"
	// F8E4M3 and F8E5M2 are the 8-bit float formats of recent checkpoints.
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

var dtypeSizes = map[DType]int64{
	F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, Bool: 1,
	U16: 2, U32: 4, U64: 8, F8E4M3: 1, F8E5M2: 1,
}

// Size is the size of one element in bytes, or 0 for an unknown type.
func (d DType) Size() int64 { return dtypeSizes[d] }

// Supported reports whether tensors of this type can be read into gotch
// tensors (BF16 is widened to F32 on the way).
func (d DType) Supported() bool {
	switch d {
	case F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool:
		return true
	}
	return false
}

// MaxHeaderSize bounds the JSON header of a safetensors file (100 MB, the
// limit of the reference implementation).
const MaxHeaderSize = 100_000_000

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	// Begin and End are byte offsets relative to the start of the data
	// buffer, which follows the header.
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Header is the parsed and validated header of a safetensors file.
type Header struct {
	// Tensors in data order (by Begin offset).
	Tensors []TensorInfo
	// Metadata is the optional "__metadata__" string map (nil when absent).
	Metadata map[string]string
	// DataStart is the absolute file offset of the data buffer (8 + N).
	DataStart int64
}

// FormatError reports an invalid safetensors file. Tensor is empty when the
// problem is not tied to one tensor.
type FormatError struct {
	File   string
	Tensor string
	Reason string
}

// Error names the file, the tensor (if any) and the problem.
func (e *FormatError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors %s: tensor %q: %s", e.File, e.Tensor, e.Reason)
	}
	return fmt.Sprintf("safetensors %s: %s", e.File, e.Reason)
}

func formatErr(file, tensor, format string, args ...any) error {
	return &FormatError{File: file, Tensor: tensor, Reason: fmt.Sprintf(format, args...)}
}

// rawTensorInfo is the JSON form of one header entry.
type rawTensorInfo struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader reads and validates the header of a safetensors file of the
// given total size. file only names the file in error messages. It checks
// that the file holds the whole header, that the header is a UTF-8 JSON
// object without duplicate names, that every dtype is known, that every
// tensor's byte size equals its shape times its element size, and that the
// tensors tile the data buffer exactly (no gaps, no overlaps, nothing
// outside). It never panics on malformed input.
func ParseHeader(r io.ReaderAt, size int64, file string) (*Header, error) {
	if size < 8 {
		return nil, formatErr(file, "", "file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, formatErr(file, "", "read header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, formatErr(file, "", "header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, formatErr(file, "", "header length %d is larger than the rest of the file (%d bytes): truncated file?", n, size-8)
	}
	if n < 2 {
		return nil, formatErr(file, "", "header length %d is too small for a JSON object", n)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil {
		return nil, formatErr(file, "", "read %d-byte header: %v", n, err)
	}
	h, err := parseHeaderJSON(buf, file)
	if err != nil {
		return nil, err
	}
	h.DataStart = 8 + int64(n)
	if err := validateLayout(h, size-h.DataStart, file); err != nil {
		return nil, err
	}
	return h, nil
}

// parseHeaderJSON decodes the JSON header, rejecting duplicates and malformed
// entries. Offsets are checked later by validateLayout.
func parseHeaderJSON(buf []byte, file string) (*Header, error) {
	if buf[0] != '{' {
		return nil, formatErr(file, "", "header does not start with '{'")
	}
	if !utf8.Valid(buf) {
		return nil, formatErr(file, "", "header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, formatErr(file, "", "header JSON: %v", err)
	}
	h := &Header{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatErr(file, "", "header JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, formatErr(file, "", "header JSON: expected a name, got %v", tok)
		}
		if seen[name] {
			return nil, formatErr(file, name, "duplicate name in header")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, formatErr(file, name, "header JSON: %v", err)
		}
		if name == "__metadata__" {
			md := map[string]string{}
			if err := json.Unmarshal(raw, &md); err != nil {
				return nil, formatErr(file, "", "__metadata__ must map strings to strings: %v", err)
			}
			h.Metadata = md
			continue
		}
		info, err := decodeTensorInfo(raw, name, file)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, info)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, formatErr(file, "", "header JSON: %v", err)
	}
	// Only padding may follow the object.
	rest := buf[min(dec.InputOffset(), int64(len(buf))):]
	if len(bytes.TrimRight(rest, " \t\r\n")) != 0 {
		return nil, formatErr(file, "", "header has trailing data after the JSON object")
	}
	return h, nil
}

func decodeTensorInfo(raw json.RawMessage, name, file string) (TensorInfo, error) {
	var ri rawTensorInfo
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ri); err != nil {
		return TensorInfo{}, formatErr(file, name, "bad header entry: %v", err)
	}
	if ri.DType == nil || ri.Shape == nil || ri.DataOffsets == nil {
		return TensorInfo{}, formatErr(file, name, "header entry needs dtype, shape and data_offsets")
	}
	dt := DType(*ri.DType)
	if dt.Size() == 0 {
		return TensorInfo{}, formatErr(file, name, "unknown dtype %q", *ri.DType)
	}
	offs := *ri.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, formatErr(file, name, "data_offsets has %d values, want 2", len(offs))
	}
	if offs[0] < 0 || offs[1] < offs[0] {
		return TensorInfo{}, formatErr(file, name, "invalid data_offsets [%d, %d]", offs[0], offs[1])
	}
	shape := append([]int64{}, (*ri.Shape)...)
	nel := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return TensorInfo{}, formatErr(file, name, "negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(nel, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return TensorInfo{}, formatErr(file, name, "shape %v overflows", shape)
		}
		nel = lo
	}
	hi, nbytes := bits.Mul64(nel, uint64(dt.Size()))
	if hi != 0 || nbytes > math.MaxInt64 {
		return TensorInfo{}, formatErr(file, name, "shape %v of %s overflows", shape, dt)
	}
	if uint64(offs[1]-offs[0]) != nbytes {
		return TensorInfo{}, formatErr(file, name, "shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			shape, dt, nbytes, offs[0], offs[1], offs[1]-offs[0])
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Begin: offs[0], End: offs[1]}, nil
}

// validateLayout sorts the tensors by offset and checks that they tile the
// data buffer of dataLen bytes exactly.
func validateLayout(h *Header, dataLen int64, file string) error {
	sort.SliceStable(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	var pos int64
	for _, t := range h.Tensors {
		switch {
		case t.Begin > pos:
			return formatErr(file, t.Name, "gap in the data buffer: bytes [%d, %d) belong to no tensor", pos, t.Begin)
		case t.Begin < pos:
			return formatErr(file, t.Name, "data_offsets [%d, %d] overlap the previous tensor (which ends at %d)", t.Begin, t.End, pos)
		}
		if t.End > dataLen {
			return formatErr(file, t.Name, "data_offsets [%d, %d] run past the end of the data buffer (%d bytes): truncated file?", t.Begin, t.End, dataLen)
		}
		pos = t.End
	}
	if pos != dataLen {
		return formatErr(file, "", "data buffer is %d bytes but the tensors cover %d", dataLen, pos)
	}
	return nil
}

// EncodeHeader serialises a header for the given tensors (in the given
// order, packed back to back from offset 0) and metadata. The result is
// padded with spaces to a multiple of 8 bytes, as the reference writer does,
// and includes the 8-byte length prefix. Tensor offsets in infos are
// overwritten.
func EncodeHeader(infos []TensorInfo, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	writeKey := func(k string) error {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, err := json.Marshal(k)
		if err != nil {
			return err
		}
		b.Write(kb)
		b.WriteByte(':')
		return nil
	}
	if metadata != nil {
		if err := writeKey("__metadata__"); err != nil {
			return nil, err
		}
		mb, err := json.Marshal(metadata) // encoding/json sorts map keys
		if err != nil {
			return nil, err
		}
		b.Write(mb)
	}
	seen := map[string]bool{}
	var pos int64
	for i := range infos {
		t := &infos[i]
		if t.Name == "__metadata__" {
			return nil, errors.New(`a tensor may not be named "__metadata__"`)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if t.DType.Size() == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		n := t.NumElements() * t.DType.Size()
		t.Begin, t.End = pos, pos+n
		pos += n
		if err := writeKey(t.Name); err != nil {
			return nil, err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		eb, err := json.Marshal(struct {
			DType       DType    `json:"dtype"`
			Shape       []int64  `json:"shape"`
			DataOffsets [2]int64 `json:"data_offsets"`
		}{t.DType, shape, [2]int64{t.Begin, t.End}})
		if err != nil {
			return nil, err
		}
		b.Write(eb)
	}
	b.WriteByte('}')
	for (8+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	out := make([]byte, 8, 8+b.Len())
	binary.LittleEndian.PutUint64(out, uint64(b.Len()))
	return append(out, b.Bytes()...), nil
}
