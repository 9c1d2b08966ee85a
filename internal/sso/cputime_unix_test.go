//go:build unix

package sso_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system): the
// benchmarks report it per operation, which a shared, noisy machine
// disturbs far less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
