//go:build unix

package data

import "syscall"

// cpuSeconds returns the process's user+system CPU time, to report benchmark rates per CPU
// second, which other load on the machine disturbs less than wall-clock rates.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
