//go:build !unix

package sqlite

import "os/exec"

// asUser reports that cmd cannot run as another user here.
func asUser(*exec.Cmd, uint32) bool { return false }
