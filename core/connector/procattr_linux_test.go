package connector

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every plugin the Manager launches is killed by the kernel if the host
// dies without stopping it.
func TestPluginGetsParentDeathSignal(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var cmds []*exec.Cmd
	mgr := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, mgr.Register("webhookrelay", func() *exec.Cmd {
		cmd := exec.Command(relayBin)
		mu.Lock()
		cmds = append(cmds, cmd)
		mu.Unlock()
		return cmd
	}))
	t.Cleanup(func() { require.NoError(t, mgr.Close()) })
	require.NoError(t, mgr.Start(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, cmds, 1)
	require.NotNil(t, cmds[0].SysProcAttr)
	require.Equal(t, syscall.SIGKILL, cmds[0].SysProcAttr.Pdeathsig)
}

// running reports whether pid is a live process (not gone, not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// A plugin that hangs (alive, not answering health checks) is killed
// before its replacement starts: never two copies of one connector.
func TestManagerRestartKillsHungPlugin(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{HealthTimeout: 200 * time.Millisecond})
	p := tb.mgr.plugins["webhookrelay"]
	pid := p.pid()
	require.NotZero(t, pid)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		np := p.pid()
		return np != 0 && np != pid && tb.mgr.List()[0].Healthy
	}, 30*time.Second, 10*time.Millisecond)
	require.False(t, running(pid), "the hung copy still runs beside its replacement")
}

// Close does not wait forever on a plugin that hangs.
func TestManagerCloseStopsHungPlugin(t *testing.T) {
	t.Parallel()
	mgr := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HealthInterval: time.Hour})
	require.NoError(t, mgr.Register("webhookrelay", func() *exec.Cmd { return exec.Command(relayBin) }))
	require.NoError(t, mgr.Start(context.Background()))
	pid := mgr.PID("webhookrelay")
	require.NotZero(t, pid)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	closed := make(chan struct{})
	go func() { _ = mgr.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("Close is stuck on the hung plugin")
	}
	require.False(t, running(pid))
}
