// Package atomicfile writes files so that a reader, or a process started
// after a crash, sees either the old content or the new, never half of it:
// the bytes go to a temporary file in the same folder, which is synced,
// given mode 0644 and renamed over the target; then the folder is synced so
// that the rename itself survives a power loss.
//
// Every package that writes run folders, datasets, caches or exports writes
// through here.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Mode is the permission of every file written here (before the umask).
const Mode os.FileMode = 0o644

// tempMarker sits between a target's name and the random suffix of its
// temporary file: ".NAME.tmp-123456".
const tempMarker = ".tmp-"

// Write replaces path with data.
func Write(path string, data []byte) error {
	return WriteWith(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteJSON replaces path with v as indented JSON and a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Write(path, append(b, '\n'))
}

// WriteWith replaces path with what write produces. If write (or anything
// after it) fails, the temporary file is removed and path is untouched.
func WriteWith(path string, write func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// File is a file being written in place of Path: its content goes to a
// temporary file beside Path until Commit. It embeds the temporary
// *os.File, so it can be written at offsets too.
type File struct {
	*os.File
	Path string
	done bool
}

// Create starts replacing path. Call Commit to put the new content in
// place, or Abort (safe to defer, a no-op after Commit) to drop it.
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &File{File: tmp, Path: path}, nil
}

// Commit syncs the content, gives it mode 0644, renames it over Path and
// syncs the folder. On error the temporary file is removed.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("write %s: already committed or aborted", f.Path)
	}
	err := f.Chmod(Mode)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.Path)
	}
	f.done = true
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	return SyncDir(filepath.Dir(f.Path))
}

// Abort drops the new content and leaves Path as it was.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// SyncDir flushes a folder's entries (a rename or a new file in it) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a folder (EINVAL); the rename stands.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}

// IsTemp reports whether name (a base name) is a temporary file of an
// interrupted write.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// RemoveStale deletes the temporary files that interrupted writes left in
// dir (not in its subfolders) and returns their names. Call it only where no
// other process is writing, e.g. holding the run folder's lock.
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, err
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}
