package redis_test

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill a test's redis-server if the test
// binary dies without cleaning up, so no stray server is left running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
