package tensor

import (
	"runtime"
	"runtime/debug"
)

// Settle prepares an exact count of live tensors (Live) for a leak check:
// it turns the garbage collector off and waits until the finalizers of
// everything already unreachable have run, so that none frees a handle in
// the middle of the measurement. Call the returned function to turn the
// collector back on: defer tensor.Settle()().
func Settle() (restore func()) {
	prev := debug.SetGCPercent(-1)
	// Finalizers run on one goroutine, a batch at a time: once a sentinel
	// queued by a second collection has run, every batch before it has too.
	for i := 0; i < 2; i++ {
		done := make(chan struct{})
		sentinel := new([64]byte) // not a tiny allocation, whose finalizer might never run
		runtime.SetFinalizer(sentinel, func(*[64]byte) { close(done) })
		sentinel = nil
		runtime.GC()
		<-done
	}
	return func() { debug.SetGCPercent(prev) }
}
