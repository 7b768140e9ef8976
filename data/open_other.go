//go:build !unix

package data

import (
	"fmt"
	"os"
)

// openNoBlock checks that path is a regular file before opening it (this platform has no
// non-blocking open), so a pipe or device is refused without being opened.
func openNoBlock(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, errNotRegular, fileKind(st.Mode()))
	}
	return os.Open(path)
}
