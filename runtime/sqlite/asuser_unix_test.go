//go:build unix

package sqlite

import (
	"os/exec"
	"syscall"
)

// asUser makes cmd run as the user and group uid, and reports whether it
// can.
func asUser(cmd *exec.Cmd, uid uint32) bool {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return true
}
