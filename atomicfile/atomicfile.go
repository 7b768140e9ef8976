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
func WriteWith(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(Mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
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
