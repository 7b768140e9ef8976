package pretrained

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// hostLittleEndian is true on every platform libtorch ships for; safetensors
// data is little-endian and is copied as is.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// torchErr returns libtorch's last error on this thread without the Go stack
// trace gotch appends to it.
func torchErr() error {
	err := ts.TorchErr()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(err.Error())
	if i := strings.Index(msg, "\ngoroutine "); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return errors.New(msg)
}

// GotchDType is the gotch element type that tensors of type d become (BF16
// becomes Float). ok is false for types gotch cannot hold.
func (d DType) GotchDType() (dt gotch.DType, ok bool) {
	switch d {
	case F64:
		return gotch.Double, true
	case F32, BF16:
		return gotch.Float, true
	case F16:
		return gotch.Half, true
	case I64:
		return gotch.Int64, true
	case I32:
		return gotch.Int, true
	case I16:
		return gotch.Int16, true
	case I8:
		return gotch.Int8, true
	case U8:
		return gotch.Uint8, true
	case Bool:
		return gotch.Bool, true
	}
	return gotch.Invalid, false
}

// DTypeOf is the safetensors type for a gotch element type.
func DTypeOf(dt gotch.DType) (DType, error) {
	switch dt {
	case gotch.Double:
		return F64, nil
	case gotch.Float:
		return F32, nil
	case gotch.Half:
		return F16, nil
	case gotch.BFloat16:
		return BF16, nil
	case gotch.Int64:
		return I64, nil
	case gotch.Int:
		return I32, nil
	case gotch.Int16:
		return I16, nil
	case gotch.Int8:
		return I8, nil
	case gotch.Uint8:
		return U8, nil
	case gotch.Bool:
		return Bool, nil
	}
	return "", fmt.Errorf("gotch dtype %v has no safetensors equivalent", dt)
}

// bf16ToF32 widens little-endian bfloat16 values to little-endian float32.
func bf16ToF32(src []byte) []byte {
	out := make([]byte, len(src)*2)
	for i := 0; i+1 < len(src); i += 2 {
		out[2*i+2] = src[i]
		out[2*i+3] = src[i+1]
	}
	return out
}

// NewTensorFromBytes builds a CPU tensor of the given safetensors type and
// shape from little-endian row-major bytes. The bytes are copied; BF16 is
// widened to F32.
func NewTensorFromBytes(data []byte, dt DType, shape []int64) (*ts.Tensor, error) {
	if !hostLittleEndian {
		return nil, errors.New("big-endian hosts are not supported")
	}
	gdt, ok := dt.GotchDType()
	if !ok {
		return nil, fmt.Errorf("dtype %s is not supported by gotch", dt)
	}
	info := TensorInfo{DType: dt, Shape: shape}
	if want := info.NumElements() * dt.Size(); int64(len(data)) != want {
		return nil, fmt.Errorf("%d bytes for a %s tensor of shape %v, want %d", len(data), dt, shape, want)
	}
	if dt == BF16 {
		data = bf16ToF32(data)
	}
	dims := make([]int64, len(shape)+1) // gotch takes &dims[0] even for scalars
	copy(dims, shape)
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = unsafe.Pointer(&data[0])
	}
	c := lib.AtTensorOfData(ptr, dims, uint(len(shape)), gdt.Size(), int(gdt.CKind()))
	if err := torchErr(); err != nil {
		return nil, fmt.Errorf("create %s tensor of shape %v: %w", dt, shape, err)
	}
	return ts.New(c), nil
}

// TensorBytes copies a tensor's elements (any device, any layout) into
// little-endian row-major bytes and returns them with its safetensors type
// and shape.
func TensorBytes(t *ts.Tensor) ([]byte, DType, []int64, error) {
	if !hostLittleEndian {
		return nil, "", nil, errors.New("big-endian hosts are not supported")
	}
	if t == nil {
		return nil, "", nil, errors.New("nil tensor")
	}
	shape, err := t.Size()
	if err != nil {
		return nil, "", nil, err
	}
	gdt := t.DType()
	dt, err := DTypeOf(gdt)
	if err != nil {
		return nil, "", nil, err
	}
	info := TensorInfo{DType: dt, Shape: shape}
	n := info.NumElements()
	buf := make([]byte, n*dt.Size())
	if n > 0 {
		lib.AtCopyData(lib.Ctensor(t.Ctensor()), unsafe.Pointer(&buf[0]), uint(n), gdt.Size())
		if err := torchErr(); err != nil {
			return nil, "", nil, fmt.Errorf("copy tensor data: %w", err)
		}
	}
	return buf, dt, shape, nil
}

// sizeOf returns a tensor's shape or an error.
func sizeOf(t *ts.Tensor) ([]int64, error) {
	if t == nil {
		return nil, errors.New("nil tensor")
	}
	return t.Size()
}
