// Package device owns the OS thread that runs libtorch.
//
// libtorch keeps grad mode, and gotch keeps its last error, per OS thread,
// while goroutines move between threads. A Worker is one goroutine locked to
// its thread; every tensor of a run is created, used and freed inside
// closures passed to Worker.Do. Loader goroutines hand it plain Go slices.
package device

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Config chooses the device and the libtorch thread pool of a Worker.
type Config struct {
	// Device is "cpu", "cuda" or "cuda:N". Empty means "cpu".
	Device string
	// Threads is libtorch's intra-op thread count; 0 means one per core
	// (runtime.NumCPU). gotch's own default was 1.
	Threads int
	// Seed seeds libtorch's generators when non-zero.
	Seed int64
}

// Parse turns "cpu", "cuda" or "cuda:N" into a gotch device.
func Parse(name string) (gotch.Device, error) {
	switch {
	case name == "" || name == "cpu":
		return gotch.CPU, nil
	case name == "cuda":
		if !gotch.CUDA.IsAvailable() {
			return gotch.CPU, errors.New(`device "cuda": no CUDA device is available (is LIBTORCH a CUDA build?)`)
		}
		return gotch.CudaBuilder(0), nil
	case strings.HasPrefix(name, "cuda:"):
		var n int
		if _, err := fmt.Sscanf(name, "cuda:%d", &n); err != nil || n < 0 {
			return gotch.CPU, fmt.Errorf("device %q: want cpu, cuda or cuda:N", name)
		}
		if c := gotch.CUDA.DeviceCount(); int64(n) >= c {
			return gotch.CPU, fmt.Errorf("device %q: only %d CUDA devices", name, c)
		}
		return gotch.CudaBuilder(uint(n)), nil
	}
	return gotch.CPU, fmt.Errorf("device %q: want cpu, cuda or cuda:N", name)
}

// SetThreads sets libtorch's intra-op thread count; n <= 0 means one per core.
// It returns the count in force afterwards.
func SetThreads(n int) (int, error) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	if err := ts.SetNumThreads(n); err != nil {
		return 0, fmt.Errorf("set %d threads: %w", n, err)
	}
	return ts.NumThreads(), nil
}

// Worker runs closures on one goroutine locked to one OS thread.
type Worker struct {
	Device  gotch.Device
	Threads int
	jobs    chan job
}

type job struct {
	fn   func() error
	done chan error
}

// Start starts a worker, sets libtorch's threads and seed on its thread, and
// resolves the device. Close it when done.
func Start(cfg Config) (*Worker, error) {
	w := &Worker{jobs: make(chan job)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		if w.Threads, err = SetThreads(cfg.Threads); err == nil {
			w.Device, err = Parse(cfg.Device)
		}
		if err == nil && cfg.Seed != 0 {
			err = ts.ManualSeed(cfg.Seed)
		}
		ready <- err
		if err != nil {
			return
		}
		for j := range w.jobs {
			j.done <- run(j.fn)
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

// run calls fn and turns a panic (gotch's Must* helpers panic or exit on
// error) into an error so that one bad batch does not take the worker down.
func run(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in tensor code: %v", r)
		}
	}()
	return fn()
}

// Do runs fn on the worker's thread and waits for it.
func (w *Worker) Do(fn func() error) error {
	j := job{fn: fn, done: make(chan error, 1)}
	w.jobs <- j
	return <-j.done
}

// Close stops the worker. It must not be used afterwards.
func (w *Worker) Close() { close(w.jobs) }
