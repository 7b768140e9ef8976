package runfolder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile keeps a second process out of a run folder while one trains in
// it. It holds the owner's process id and start time.
const LockFile = ".lock"

// Lock is a held run-folder lock.
type Lock struct {
	f *os.File
}

// Acquire takes dir's lock, or fails at once with the holder's process id.
// The lock is an flock(2) on LockFile: the kernel releases it when the
// holder exits, killed or not, so a crash never leaves a stale lock.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("run folder %s is in use by another vbg process (%s); wait for it to finish or stop it", dir, describeHolder(string(holder)))
		}
		return nil, fmt.Errorf("lock run folder %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
		_ = f.Sync()
	}
	return &Lock{f: f}, nil
}

// describeHolder turns the lock file's content into "pid N since T".
func describeHolder(s string) string {
	fields := strings.Fields(s)
	if len(fields) >= 2 && fields[0] == "pid" {
		if _, err := strconv.Atoi(fields[1]); err == nil {
			return strings.TrimSpace(s)
		}
	}
	return "pid unknown"
}

// Release lets the folder go. It is safe to call more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
