//go:build !linux

package testenv

import "time"

// ThreadCPU returns 0: the thread's CPU time is measured on Linux only.
func ThreadCPU() time.Duration { return 0 }
