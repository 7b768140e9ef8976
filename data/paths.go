package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errNotRegular is a path that names something other than a regular file (a folder, FIFO,
// socket or device): reading it could block forever or never end.
var errNotRegular = errors.New("not a regular file")

// openRegular opens a file for reading and checks, on the open file, that it is a regular
// file. The open itself cannot block on a FIFO (see openNoBlock), so a FIFO or a device is
// refused at once instead of hanging or reading forever.
func openRegular(path string) (*os.File, error) {
	f, err := openNoBlock(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s)", path, errNotRegular, fileKind(st.Mode()))
	}
	return f, nil
}

// fileKind names a file mode's type for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// realRoot returns root made absolute with its symbolic links resolved (only cleaned when it
// cannot be resolved, for example because it does not exist).
func realRoot(root string) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		return filepath.Clean(root)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}

// within reports whether path p (absolute, clean) is root or inside it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// resolveUnder resolves path's symbolic links and checks that the file it names is inside
// root (a realRoot). The error is an *ImageError: BadMissingImage when the path does not
// resolve, BadPathEscapes when it leaves the root.
func resolveUnder(root, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", &ImageError{Path: path, Kind: BadCorruptImage, Err: err}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		kind := BadCorruptImage
		if errors.Is(err, os.ErrNotExist) {
			kind = BadMissingImage
		}
		return "", &ImageError{Path: path, Kind: kind, Err: err}
	}
	if !within(root, real) {
		return "", &ImageError{Path: path, Kind: BadPathEscapes,
			Err: fmt.Errorf("resolves to %s, outside the image root %s (a symbolic link?)", real, root)}
	}
	return real, nil
}

// relUnder checks a record's image path as written in a manifest: relative, and not leaving
// the root once cleaned. It returns the cleaned path in slash form.
func relUnder(p string) (string, error) {
	if p == "" {
		return "", errors.New("no image path")
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || filepath.VolumeName(p) != "" {
		return "", fmt.Errorf("image path %q is absolute; a prepared manifest holds paths relative to the image root", p)
	}
	rel := filepath.Clean(filepath.FromSlash(p))
	if rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("image path %q leaves the image root", p)
	}
	return filepath.ToSlash(rel), nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
