package connector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/neksio/neksio/plugins/sdk"
)

// managed is one connector plugin and the process currently serving it.
type managed struct {
	m       *Manager
	source  string
	factory func() *exec.Cmd
	// kick asks the supervisor to check health now (a call failed).
	kick chan struct{}

	// name is fixed before the plugin is shared (registration, or the
	// first Describe of a discovered plugin).
	name string

	mu     sync.Mutex
	client *plugin.Client
	// cmd is the client's process, to kill outright when go-plugin's
	// graceful Kill would wait on a plugin that hangs.
	cmd       *exec.Cmd
	conn      sdk.Connector
	desc      *sdk.Description
	healthy   bool
	startedAt time.Time
	backoff   time.Duration
	// restarts counts the launches that brought the plugin back.
	restarts int
}

// start launches the process and installs it. For a discovered plugin it
// also fixes the name from Describe.
func (p *managed) start(ctx context.Context) error {
	client, cmd, c, desc, err := p.launch(ctx)
	if err != nil {
		return err
	}
	if p.name == "" {
		p.name = desc.Name
	}
	p.mu.Lock()
	p.client, p.cmd, p.conn, p.desc, p.healthy, p.startedAt = client, cmd, c, desc, true, time.Now()
	p.mu.Unlock()
	return nil
}

func (p *managed) launch(ctx context.Context) (*plugin.Client, *exec.Cmd, sdk.Connector, *sdk.Description, error) {
	o := p.m.opts
	cmd := p.factory()
	if cmd.Env == nil {
		cmd.Env = pluginEnv()
	}
	dieWithHost(cmd)
	logName := p.name
	if logName == "" {
		logName = p.source
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.PluginSets(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// The host's environment holds its own secrets; cmd.Env carries
		// what the plugin may see.
		SkipHostEnv:  true,
		StartTimeout: o.StartTimeout,
		Logger:       newHCLogger(p.m.log.With("connector", logName)),
	})
	fail := func(err error) (*plugin.Client, *exec.Cmd, sdk.Connector, *sdk.Description, error) {
		terminate(client, cmd, 0)
		return nil, nil, nil, nil, err
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("launch: %w", err))
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense: %w", err))
	}
	c, ok := raw.(sdk.Connector)
	if !ok {
		return fail(fmt.Errorf("plugin dispensed %T, not a connector", raw))
	}
	dctx, cancel := context.WithTimeout(ctx, o.CallTimeout)
	defer cancel()
	desc, err := c.Describe(dctx)
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if desc.Name == "" {
		return fail(errors.New("describe: empty name"))
	}
	if p.name != "" && desc.Name != p.name {
		return fail(fmt.Errorf("describe: plugin calls itself %q, registered as %q", desc.Name, p.name))
	}
	return client, cmd, c, desc, nil
}

// stopGrace is how long stop lets a plugin exit by itself (go-plugin's
// Kill asks, then kills after 2s) before it is killed outright.
const stopGrace = 5 * time.Second

// terminate stops a plugin process and waits until it is gone. go-plugin's
// Kill asks the plugin to shut down first, but waits on that request
// without a deadline, forever for a plugin that hangs: after grace the
// process is killed outright, which ends the wait. (os.Process signals
// through a pidfd on Linux, so a reused PID is never hit.)
func terminate(client *plugin.Client, cmd *exec.Cmd, grace time.Duration) {
	if client == nil {
		return
	}
	done := make(chan struct{})
	go func() { client.Kill(); close(done) }()
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
		}
	}
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
	<-done
}

// pluginEnv is the host's environment without Neksio's own settings (the
// master key, database URLs, ...): a plugin gets what a call needs through
// the call, never from the host's environment.
func pluginEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEKSIO_") {
			env = append(env, kv)
		}
	}
	return env
}

// current returns the connector serving calls, or nil while down.
func (p *managed) current() (sdk.Connector, *plugin.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.healthy {
		return nil, nil
	}
	return p.conn, p.client
}

func (p *managed) info() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := Info{Name: p.name, Healthy: p.healthy, Source: p.source, Restarts: p.restarts}
	if d := p.desc; d != nil {
		in.Version = d.Version
		in.Platforms = append([]string(nil), d.Platforms...)
		in.Capabilities = append([]sdk.Capability(nil), d.Capabilities...)
		in.ConfigSchema = append([]sdk.ConfigField(nil), d.ConfigSchema...)
		in.AccountIDLabel = d.AccountIDLabel
		in.Rules = d.Rules
		in.ProtocolMinor = d.ProtocolMinor
	}
	return in
}

// poke asks the supervisor for a health check without waiting.
func (p *managed) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// supervise health-checks the plugin and restarts it when it is down,
// until the Manager closes.
func (p *managed) supervise() {
	defer p.m.wg.Done()
	t := time.NewTicker(p.m.opts.HealthInterval)
	defer t.Stop()
	for {
		if !p.alive() {
			p.restart()
		}
		select {
		case <-p.m.done:
			return
		case <-t.C:
		case <-p.kick:
		}
	}
}

// alive pings the plugin through gRPC's health service, which go-plugin
// serves in every plugin process.
func (p *managed) alive() bool {
	p.mu.Lock()
	client, healthy := p.client, p.healthy
	p.mu.Unlock()
	if !healthy || client == nil || client.Exited() {
		return false
	}
	rpc, err := client.Client()
	if err != nil {
		return false
	}
	gc, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return rpc.Ping() == nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.m.opts.HealthTimeout)
	defer cancel()
	_, err = healthpb.NewHealthClient(gc.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err == nil
}

// restart marks the plugin down, stops what is left of its process, and
// launches it again, waiting a doubling backoff before each attempt. A
// plugin that ran stably for MaxBackoff starts over from MinBackoff; one
// that dies young keeps its grown backoff, so a crash loop slows down.
func (p *managed) restart() {
	o := p.m.opts
	p.mu.Lock()
	wasHealthy := p.healthy
	p.healthy = false
	old, oldCmd := p.client, p.cmd
	p.client, p.cmd, p.conn = nil, nil, nil
	if p.backoff == 0 || (wasHealthy && time.Since(p.startedAt) >= o.MaxBackoff) {
		p.backoff = o.MinBackoff
	}
	p.mu.Unlock()
	// It failed a health check (or exited): no graceful shutdown, and
	// gone before its replacement starts, so two copies never run.
	terminate(old, oldCmd, 0)
	if wasHealthy {
		p.m.log.Warn("connector plugin is down; restarting", "connector", p.name)
	}

	for {
		p.mu.Lock()
		wait := p.backoff
		p.backoff = min(2*p.backoff, o.MaxBackoff)
		p.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-p.m.done:
			timer.Stop()
			return
		case <-timer.C:
		}
		// m.ctx ends with Close, so a restart never holds Close up for
		// longer than a launch.
		client, cmd, c, desc, err := p.launch(p.m.ctx)
		if err != nil {
			p.m.log.Error("connector plugin restart failed", "connector", p.name, "error", err, "next_attempt_in", min(2*wait, o.MaxBackoff))
			continue
		}
		if p.m.closing() {
			terminate(client, cmd, stopGrace)
			return
		}
		p.mu.Lock()
		p.client, p.cmd, p.conn, p.desc, p.healthy, p.startedAt = client, cmd, c, desc, true, time.Now()
		p.restarts++
		p.mu.Unlock()
		p.m.log.Info("connector plugin restarted", "connector", p.name, "version", desc.Version)
		return
	}
}

// stop kills the plugin process.
func (p *managed) stop() {
	p.mu.Lock()
	client, cmd := p.client, p.cmd
	p.client, p.cmd, p.conn, p.healthy = nil, nil, nil, false
	p.mu.Unlock()
	terminate(client, cmd, stopGrace)
}

// pid is the plugin process's id, 0 while down (tests kill it).
func (p *managed) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}
