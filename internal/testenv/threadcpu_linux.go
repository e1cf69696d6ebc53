//go:build linux

package testenv

import (
	"syscall"
	"time"
	"unsafe"
)

// ThreadCPU returns the CPU time of the calling thread so far, to the
// nanosecond (CLOCK_THREAD_CPUTIME_ID), or 0 if it cannot tell. The
// caller has locked its goroutine to the thread.
func ThreadCPU() time.Duration {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
