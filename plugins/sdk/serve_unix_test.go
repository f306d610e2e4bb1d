//go:build unix

package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

// roleEnv makes this test binary play a part in TestPluginExitsWithHost:
// "plugin" serves a connector, "host" launches the plugin like any
// go-plugin host (no parent-death signal) and prints its PID.
const roleEnv = "NEKSIO_SDK_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "plugin":
		sdk.Serve(idleConnector{})
		os.Exit(0)
	case "host":
		runHost()
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// withRole is this process's environment with roleEnv set to role.
func withRole(role string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, roleEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, roleEnv+"="+role)
}

type idleConnector struct{ sdk.UnimplementedConnector }

func (idleConnector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "idle", Version: "0.0.1"}, nil
}

func runHost() {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self)
	cmd.Env = withRole("plugin")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake, VersionedPlugins: sdk.PluginSets(), Cmd: cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
		// Else the host's own role would reach the plugin too.
		SkipHostEnv: true,
	})
	rpc, err := client.Client()
	if err != nil {
		panic(err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		panic(err)
	}
	if _, err := raw.(sdk.Connector).Describe(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(client.ReattachConfig().Pid)
	select {} // until killed
}

// processGone reports whether pid has exited (a zombie counts: it runs
// no more, and whoever adopted it may not reap it).
func processGone(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// A plugin whose host is killed outright (SIGKILL: the host stops
// nothing) exits by itself, whatever host launched it.
func TestPluginExitsWithHost(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	host := exec.Command(self)
	host.Env = withRole("host")
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.False(t, processGone(pid), "the plugin runs")

	require.NoError(t, host.Process.Kill())
	_ = host.Wait()
	require.Eventually(t, func() bool { return processGone(pid) }, 20*time.Second, 50*time.Millisecond,
		"plugin %d outlived its host", pid)
}
