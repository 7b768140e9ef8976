package runfolder

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLockChild holds the lock of VBG_LOCK_DIR until its stdin closes: it
// is the other process of TestLock.
func TestLockChild(t *testing.T) {
	dir := os.Getenv("VBG_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process of TestLock")
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	buf := make([]byte, 1)
	os.Stdin.Read(buf)
	l.Release()
}

// TestLock checks that a second process is refused with the holder's pid,
// that a killed holder leaves no stale lock, and that the same process
// can take the lock again after releasing it.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), "VBG_LOCK_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 7)
	if _, err := out.Read(line); err != nil || string(line) != "locked\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	_, err = Acquire(dir)
	want := fmt.Sprintf("in use by another vbg process (pid %d since", cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second lock: %v, want an error containing %q", err, want)
	}
	// SIGKILL the holder: the kernel drops its lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	stdin.Close()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	l.Release()
	l.Release()
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}
