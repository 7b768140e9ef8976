//go:build unix

package data

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFORefused: a named pipe is refused at once by LoadImage (what vbg predict uses; it
// hung before), by prepare and by the CSV reader, without waiting for a writer.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "img", "pipe.jpg")
	manifestSet(t, dir, 20)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	csvFifo := filepath.Join(dir, "pipe.csv")
	if err := syscall.Mkfifo(csvFifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	go func() {
		_, err := LoadImage(fifo, testConfig(false, 1))
		done <- err
	}()
	go func() {
		_, err := PrepareManifest(ManifestOptions{PrepareOptions: quietOptions(filepath.Join(dir, "o1")), File: csvFifo})
		done <- err
	}()
	go func() {
		rows := manifestSet(t, dir, 20)
		rows = append(rows, "img/pipe.jpg,a pipe,cat")
		file := writeFile(t, filepath.Join(dir, "pairs.csv"), []byte("image,text,label\n"+strings.Join(rows, "\n")+"\n"))
		o := quietOptions(filepath.Join(dir, "o2"))
		o.MaxBadShare = 0.1
		card, err := PrepareManifest(ManifestOptions{PrepareOptions: o, File: file})
		switch {
		case err != nil:
		case card.Bad[BadCorruptImage] != 1 || !strings.Contains(card.Examples[BadCorruptImage][0].Detail, "named pipe"):
			err = fmt.Errorf("bad %v %v", card.Bad, card.Examples)
		default:
			err = errNotRegular
		}
		done <- err
	}()
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			if !errors.Is(err, errNotRegular) {
				t.Errorf("FIFO: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("opening a FIFO blocked")
		}
	}
}
