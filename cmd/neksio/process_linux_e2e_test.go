//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// procStat is a process's state and parent from /proc, ok false once it is
// gone.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// exited reports whether pid no longer runs: gone, or a zombie (whoever
// adopted an orphan may be slow to reap it).
func exited(pid int) bool {
	state, _, ok := procStat(pid)
	return !ok || state == "Z" || state == "X"
}

// connectorChildren lists the running `connector serve` children of pid.
func connectorChildren(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var out []int
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		if _, ppid, ok := procStat(child); !ok || ppid != pid || exited(child) {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		if strings.Contains(string(cmdline), "connector\x00serve") {
			out = append(out, child)
		}
	}
	return out
}

// Connector plugins do not outlive a host that is killed outright
// (SIGKILL: it stops nothing itself), so a restarted host never finds an
// old copy still running.
func TestPluginsDieWithKilledHost(t *testing.T) {
	t.Parallel()
	// Two connectors, whatever the default list holds.
	p := startServe(t, "NEKSIO_CONNECTORS=whatsapp,meta")
	var plugins []int
	require.Eventually(t, func() bool {
		plugins = connectorChildren(t, p.cmd.Process.Pid)
		return len(plugins) == 2
	}, 30*time.Second, 50*time.Millisecond, "whatsapp and meta run")
	t.Cleanup(func() {
		for _, pid := range plugins {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
	for _, pid := range plugins {
		require.Eventually(t, func() bool { return exited(pid) }, 20*time.Second, 50*time.Millisecond,
			"plugin %d outlived its killed host", pid)
	}
}

// A built-in connector stops on SIGTERM, as a process manager expects.
func TestBuiltinPluginStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	p := startServe(t, "NEKSIO_CONNECTORS=whatsapp")
	var plugins []int
	require.Eventually(t, func() bool {
		plugins = connectorChildren(t, p.cmd.Process.Pid)
		return len(plugins) == 1
	}, 30*time.Second, 50*time.Millisecond)
	pid := plugins[0]
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	require.Eventually(t, func() bool { return exited(pid) }, 20*time.Second, 50*time.Millisecond,
		"plugin %d survived SIGTERM", pid)
}
