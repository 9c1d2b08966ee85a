//go:build unix

// Package cputime reads the CPU time this process has used, which the
// benchmarks and load tools report per operation: on a shared, noisy
// machine it is disturbed far less than wall time.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user + system CPU time of this process (0 if the
// system will not say).
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
