//go:build !unix

package pretrained

import "os"

// mmapFile is not available on this platform; tensors are read with ReadAt.
func mmapFile(f *os.File, size int64) ([]byte, error) { return nil, nil }

func munmap(b []byte) error { return nil }

// lockFile is a no-op on this platform.
func lockFile(path string) (func(), error) { return func() {}, nil }
