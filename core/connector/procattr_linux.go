package connector

import (
	"os/exec"
	"syscall"
)

// dieWithHost asks the kernel to kill the plugin when the host dies, even
// by SIGKILL or a crash that runs no cleanup. The SDK's Serve also exits
// when its parent goes away; this covers plugins built without it, at
// once. (The signal follows the OS thread that started the process; Go
// keeps its threads for the process's life unless a goroutine locked to
// one exits, which Neksio does not do.)
func dieWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
