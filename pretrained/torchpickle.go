package pretrained

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"

	"github.com/sugarme/gotch/pickle"
)

// This file reads torch.save files with gotch's unpickler (pickle.Unpickler) but with
// loaders of its own around it, because gotch's loaders trust the file: a storage that
// claims 2^40 elements is allocated before its data is read (a fatal out-of-memory error, not
// a panic), a pickle string that claims 4 GB is allocated before it is read, and an empty or
// zero-filled legacy file loops forever in its tar detection. Here every length is checked
// against the bytes the file really has before anything is allocated:
//
//   - each pickle is scanned first (scanPickle): every opcode must be known and every
//     length argument must fit in the rest of the pickle, which must end with STOP;
//   - a storage's element count times its element size must equal the size of its record
//     in the zip archive (stored uncompressed, as torch.save writes them), or fit in the
//     rest of a legacy file.

// MaxPickleBytes bounds the pickled structure of a checkpoint (data.pkl; the tensor data is
// stored apart). Real ones are at most a few MB.
const MaxPickleBytes = 256 << 20

// torchMagic is the legacy format's magic number (torch/serialization.py).
const torchMagic = "1950a86a20f9469cfc6c"

// loadTorchFile reads a torch.save file: the zip format (torch >= 1.6) or the legacy
// pickle stream without tar.
func loadTorchFile(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	switch {
	case n == 4 && string(magic[:]) == "PK\x03\x04":
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return nil, fmt.Errorf("broken zip archive: %w", err)
		}
		return loadTorchZip(zr)
	case n >= 2 && magic[0] == 0x80 && magic[1] >= 2:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return loadTorchLegacy(bufio.NewReader(f), st.Size())
	}
	return nil, errors.New("not a torch.save file (neither a zip archive nor a pickle stream)")
}

// loadTorchZip reads the zip format: <name>/data.pkl plus one record per storage.
func loadTorchZip(zr *zip.Reader) (any, error) {
	records := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		records[path.Base(f.Name)] = f
	}
	if _, ok := records["constants.pkl"]; ok {
		return nil, errors.New("a TorchScript archive (torch.jit.save), not a state dict: save the model's state_dict() with torch.save")
	}
	df, ok := records["data.pkl"]
	if !ok {
		return nil, errors.New("no data.pkl in the zip archive")
	}
	if df.UncompressedSize64 > MaxPickleBytes {
		return nil, fmt.Errorf("data.pkl claims %d bytes, more than %d", df.UncompressedSize64, MaxPickleBytes)
	}
	rc, err := df.Open()
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	pkl, err := io.ReadAll(io.LimitReader(rc, int64(df.UncompressedSize64)+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	if err := scanPickle(bytes.NewReader(pkl), nil, int64(len(pkl))); err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	loaded := map[string]pickle.Storage{}
	u := pickle.NewUnpickler(bytes.NewReader(pkl))
	u.FindClass = findTorchClass
	u.PersistentLoad = func(id any) (any, error) {
		class, key, location, size, err := storageID(id, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := loaded[key]; ok {
			return s, nil
		}
		s, err := zipStorage(records, class, key, location, size)
		if err != nil {
			return nil, err
		}
		loaded[key] = s
		return s, nil
	}
	return u.Load()
}

// zipStorage reads one storage record after checking that it holds exactly the data the
// pickle says.
func zipStorage(records map[string]*zip.File, class pickle.StorageClass, key, location string, size int) (pickle.Storage, error) {
	rec, ok := records[key]
	if !ok {
		return nil, fmt.Errorf("storage %q: no such record in the archive", key)
	}
	elem := storageElemSize(class)
	if rec.Method != zip.Store {
		return nil, fmt.Errorf("storage %q is compressed (method %d); torch.save stores tensor data uncompressed", key, rec.Method)
	}
	if size < 0 || uint64(size) > rec.UncompressedSize64/uint64(elem) || uint64(size)*uint64(elem) != rec.UncompressedSize64 {
		return nil, fmt.Errorf("storage %q claims %d elements of %d bytes, its record holds %d bytes", key, size, elem, rec.UncompressedSize64)
	}
	rc, err := rec.Open()
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	defer rc.Close()
	s := class.New(size, location)
	if err := s.SetFromFileWithSize(rc, size); err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	return s, nil
}

// loadTorchLegacy reads the legacy format: the pickles of the magic number, the protocol
// version and the system information, the pickled object, the pickled list of storage keys,
// then each storage as an 8-byte element count and its data.
func loadTorchLegacy(r io.Reader, size int64) (any, error) {
	cr := &countReader{r: r}
	next := func(what string) (*pickle.Unpickler, error) {
		var buf bytes.Buffer
		if err := scanPickle(cr, &buf, size-cr.n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		u := pickle.NewUnpickler(&buf)
		u.FindClass = findTorchClass
		return &u, nil
	}
	header := []struct {
		what  string
		check func(any) bool
	}{
		{"magic number", func(v any) bool { n, ok := v.(*big.Int); return ok && n.Text(16) == torchMagic }},
		{"protocol version", func(v any) bool { n, ok := v.(int); return ok && n == 1001 }},
		{"system information", func(any) bool { return true }},
	}
	for _, h := range header {
		u, err := next(h.what)
		if err != nil {
			return nil, err
		}
		if v, err := u.Load(); err != nil || !h.check(v) {
			return nil, fmt.Errorf("not a torch.save file: bad %s", h.what)
		}
	}
	u, err := next("the object")
	if err != nil {
		return nil, err
	}
	storages := map[string]pickle.Storage{}
	sizes := map[string]int{}
	u.PersistentLoad = func(id any) (any, error) {
		class, key, location, n, err := storageID(id, 6)
		if err != nil {
			return nil, err
		}
		if view := id.(*pickle.Tuple).Get(5); view != nil {
			return nil, errors.New("storage views (legacy format) are not supported")
		}
		if s, ok := storages[key]; ok {
			return s, nil
		}
		storages[key] = class.New(n, location)
		sizes[key] = n
		return storages[key], nil
	}
	obj, err := u.Load()
	if err != nil {
		return nil, err
	}
	if err := readLegacyStorages(cr, next, size, storages, sizes); err != nil {
		return nil, err
	}
	return obj, nil
}

// readLegacyStorages reads the storage keys and then each storage's data.
func readLegacyStorages(cr *countReader, next func(string) (*pickle.Unpickler, error), size int64,
	storages map[string]pickle.Storage, sizes map[string]int) error {
	u, err := next("the storage keys")
	if err != nil {
		return err
	}
	v, err := u.Load()
	if err != nil {
		return fmt.Errorf("the storage keys: %w", err)
	}
	list, ok := v.(*pickle.List)
	if !ok {
		return errors.New("the storage keys are not a list")
	}
	for _, k := range *list {
		key, ok := k.(string)
		s := storages[key]
		if !ok || s == nil {
			return fmt.Errorf("storage key %v is not used by the object", k)
		}
		var nb [8]byte
		if _, err := io.ReadFull(cr, nb[:]); err != nil {
			return fmt.Errorf("storage %q: %w", key, err)
		}
		n := binary.LittleEndian.Uint64(nb[:])
		elem := uint64(storageElemSize(s))
		if n != uint64(sizes[key]) || n > uint64(size-cr.n)/elem {
			return fmt.Errorf("storage %q: %d elements of %d bytes (the object says %d) do not fit in the %d bytes left",
				key, n, elem, sizes[key], size-cr.n)
		}
		if err := s.SetFromFileWithSize(cr, int(n)); err != nil {
			return fmt.Errorf("storage %q: %w", key, err)
		}
	}
	return nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

// Read reads and counts.
func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// storageID unpacks a persistent id ("storage", class, key, location, size, ...) of at
// least min entries.
func storageID(id any, min int) (pickle.StorageClass, string, string, int, error) {
	t, ok := id.(*pickle.Tuple)
	if !ok || t.Len() < min {
		return nil, "", "", 0, fmt.Errorf("persistent id %v is not a storage", id)
	}
	if name, _ := t.Get(0).(string); name != "storage" {
		return nil, "", "", 0, fmt.Errorf("persistent id of type %v, want storage", t.Get(0))
	}
	class, ok1 := t.Get(1).(pickle.StorageClass)
	key, ok2 := t.Get(2).(string)
	location, ok3 := t.Get(3).(string)
	size, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || storageElemSize(class) == 0 {
		return nil, "", "", 0, fmt.Errorf("persistent id %v: unsupported storage", id)
	}
	return class, key, location, size, nil
}

// storageElemSize is the element size of a storage class or storage (0: unknown).
func storageElemSize(v any) int {
	switch v.(type) {
	case *pickle.DoubleStorageClass, *pickle.LongStorageClass, *pickle.DoubleStorage, *pickle.LongStorage:
		return 8
	case *pickle.FloatStorageClass, *pickle.IntStorageClass, *pickle.FloatStorage, *pickle.IntStorage:
		return 4
	case *pickle.HalfStorageClass, *pickle.BFloat16StorageClass, *pickle.ShortStorageClass,
		*pickle.HalfStorage, *pickle.BFloat16Storage, *pickle.ShortStorage:
		return 2
	case *pickle.CharStorageClass, *pickle.ByteStorageClass, *pickle.BoolStorageClass,
		*pickle.CharStorage, *pickle.ByteStorage, *pickle.BoolStorage:
		return 1
	}
	return 0
}

// findTorchClass resolves the classes a state dict's pickle names: torch's tensor rebuild
// functions and storage types, as gotch's own loader does (plus torch.BFloat16Storage, which
// gotch's table lacks); anything else becomes a generic object.
func findTorchClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor":
		return &pickle.RebuildTensor{}, nil
	case "torch._utils._rebuild_tensor_v2":
		return &pickle.RebuildTensorV2{}, nil
	case "torch._utils._rebuild_parameter":
		return &pickle.RebuildParameter{}, nil
	case "torch.FloatStorage":
		return &pickle.FloatStorageClass{}, nil
	case "torch.HalfStorage":
		return &pickle.HalfStorageClass{}, nil
	case "torch.BFloat16Storage":
		return &pickle.BFloat16StorageClass{}, nil
	case "torch.DoubleStorage":
		return &pickle.DoubleStorageClass{}, nil
	case "torch.CharStorage":
		return &pickle.CharStorageClass{}, nil
	case "torch.ShortStorage":
		return &pickle.ShortStorageClass{}, nil
	case "torch.IntStorage":
		return &pickle.IntStorageClass{}, nil
	case "torch.LongStorage":
		return &pickle.LongStorageClass{}, nil
	case "torch.ByteStorage":
		return &pickle.ByteStorageClass{}, nil
	case "torch.BoolStorage":
		return &pickle.BoolStorageClass{}, nil
	}
	return pickle.NewGenericClass(module, name), nil
}

// pickleArgs gives, per pickle opcode, how its argument is encoded: a fixed number of
// bytes (>= 0), a length prefix of 1, 4 or 8 bytes (lenPrefix1, lenPrefix4, lenPrefix8),
// or one or two newline-terminated lines (oneLine, twoLines). Opcodes not listed are
// refused.
var pickleArgs = func() map[byte]int {
	m := map[byte]int{}
	for _, op := range []byte("(.012NRbaed}])ltsu\x85\x86\x87\x88\x89Qo\x81\x92\x93\x94\x8f\x90\x91\x97\x98") {
		m[op] = 0
	}
	for op, n := range map[byte]int{
		0x80: 1, 'K': 1, 'h': 1, 'q': 1, 0x82: 1, // PROTO BININT1 BINGET BINPUT EXT1
		'M': 2, 0x83: 2, // BININT2 EXT2
		'J': 4, 'j': 4, 'r': 4, 0x84: 4, // BININT LONG_BINGET LONG_BINPUT EXT4
		'G': 8, 0x95: 8, // BINFLOAT FRAME
		'U': lenPrefix1, 'C': lenPrefix1, 0x8c: lenPrefix1, 0x8a: lenPrefix1, // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE LONG1
		'T': lenPrefix4, 'X': lenPrefix4, 'B': lenPrefix4, 0x8b: lenPrefix4, // BINSTRING BINUNICODE BINBYTES LONG4
		0x8d: lenPrefix8, 0x8e: lenPrefix8, 0x96: lenPrefix8, // BINUNICODE8 BINBYTES8 BYTEARRAY8
		'I': oneLine, 'L': oneLine, 'F': oneLine, 'S': oneLine, 'V': oneLine, 'P': oneLine, 'g': oneLine, 'p': oneLine,
		'c': twoLines, 'i': twoLines, // GLOBAL INST
	} {
		m[op] = n
	}
	return m
}()

// Argument encodings of pickleArgs beyond fixed sizes.
const (
	lenPrefix1 = -1 - iota
	lenPrefix4
	lenPrefix8
	oneLine
	twoLines
)

// scanPickle reads one pickle from r up to and including its STOP opcode, copying it to out
// when out is not nil. It refuses unknown opcodes, lengths that do not fit in the limit
// (the bytes left in the file) or in MaxPickleBytes, and a pickle without STOP, so that
// gotch's unpickler, which allocates what lengths claim, only ever sees a pickle whose
// every length is backed by bytes.
func scanPickle(r io.Reader, out *bytes.Buffer, limit int64) error {
	limit = min(limit, MaxPickleBytes)
	var n int64
	take := func(k int64) ([]byte, error) {
		if k < 0 || k > limit-n {
			return nil, fmt.Errorf("a length of %d bytes at offset %d runs past the end of the data", k, n)
		}
		b := make([]byte, k)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("offset %d: %w", n, err)
		}
		n += k
		if out != nil {
			out.Write(b)
		}
		return b, nil
	}
	line := func() error {
		for {
			b, err := take(1)
			if err != nil {
				return err
			}
			if b[0] == '\n' {
				return nil
			}
		}
	}
	for {
		op, err := take(1)
		if err != nil {
			return err
		}
		if op[0] == '.' {
			return nil
		}
		kind, ok := pickleArgs[op[0]]
		if !ok {
			return fmt.Errorf("unknown pickle opcode 0x%02x at offset %d", op[0], n-1)
		}
		if err := scanArg(kind, take, line); err != nil {
			return err
		}
	}
}

// scanArg consumes one opcode's argument.
func scanArg(kind int, take func(int64) ([]byte, error), line func() error) error {
	var err error
	switch kind {
	case lenPrefix1, lenPrefix4, lenPrefix8:
		width := map[int]int64{lenPrefix1: 1, lenPrefix4: 4, lenPrefix8: 8}[kind]
		var b []byte
		if b, err = take(width); err != nil {
			return err
		}
		var k int64
		switch width {
		case 1:
			k = int64(b[0])
		case 4:
			k = int64(int32(binary.LittleEndian.Uint32(b)))
		default:
			u := binary.LittleEndian.Uint64(b)
			if u > MaxPickleBytes {
				return fmt.Errorf("a length of %d bytes is more than a checkpoint's pickle may have", u)
			}
			k = int64(u)
		}
		_, err = take(k)
	case oneLine:
		err = line()
	case twoLines:
		if err = line(); err == nil {
			err = line()
		}
	default:
		_, err = take(int64(kind))
	}
	return err
}
