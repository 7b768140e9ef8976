package pretrained

import (
	"archive/zip"
	"bytes"
	"io"
	"path"
	"strings"
	"testing"
)

// rewriteZipRecord returns a copy of the zip archive b whose record named base (in any
// folder) has old replaced by new, with a correct directory and checksums.
func rewriteZipRecord(t testing.TB, b []byte, base, old, new string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if path.Base(f.Name) == base {
			if !strings.Contains(string(content), old) {
				t.Fatalf("%s has no %q", f.Name, old)
			}
			content = []byte(strings.Replace(string(content), old, new, 1))
			found = true
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no record %s", base)
	}
	return buf.Bytes()
}
