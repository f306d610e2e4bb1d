package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/neksio/neksio/plugins/sdk"
)

// Defaults for Options left zero.
const (
	DefaultCallTimeout    = 30 * time.Second
	DefaultStartTimeout   = 30 * time.Second
	DefaultHealthInterval = 15 * time.Second
	DefaultHealthTimeout  = 5 * time.Second
	DefaultMinBackoff     = 1 * time.Second
	DefaultMaxBackoff     = 1 * time.Minute
)

// Options configure a Manager. Zero values take the defaults above.
type Options struct {
	// PluginDir is searched for third-party connectors: every executable
	// regular file in it is launched (NEKSIO_PLUGIN_DIR). Empty: none.
	PluginDir string
	// CallTimeout bounds every call to a connector.
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's launch and handshake.
	StartTimeout time.Duration
	// HealthInterval is how often each plugin is pinged.
	HealthInterval time.Duration
	// HealthTimeout bounds one ping.
	HealthTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay before a restart; it
	// doubles while a plugin keeps failing to start or dying young.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Logger receives the Manager's and the plugins' logs. Default:
	// slog.Default().
	Logger *slog.Logger
	// RequestsPerMinute is each connector's request quota at its platform
	// (Google: 300 a minute per project), by connector name: calls that
	// reach the platform are spaced to stay within it, waiting for their
	// turn within their context. Absent or zero: no limit.
	RequestsPerMinute map[string]int
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.CallTimeout, DefaultCallTimeout)
	def(&o.StartTimeout, DefaultStartTimeout)
	def(&o.HealthInterval, DefaultHealthInterval)
	def(&o.HealthTimeout, DefaultHealthTimeout)
	def(&o.MinBackoff, DefaultMinBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// ErrNotFound is matched (errors.Is) by the error Get returns for a name
// no connector answers to.
var ErrNotFound = errors.New("connector not found")

// NotFoundError says no connector has this name.
type NotFoundError struct {
	Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("connector %q not found", e.Name) }

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Info describes a connector the Manager runs.
type Info struct {
	Name         string
	Version      string
	Platforms    []string
	Capabilities []sdk.Capability
	// ConfigSchema and AccountIDLabel come from Describe, like the above.
	ConfigSchema   []sdk.ConfigField
	AccountIDLabel string
	// Rules are each platform's limits (protocol 1.1; empty for older
	// plugins): shared, never modify them.
	Rules         []sdk.PlatformRules
	ProtocolMinor int
	// Healthy is false while the plugin is down or restarting.
	Healthy bool
	// Source is "builtin" for registered connectors, else the executable's
	// path in the plugin directory.
	Source string
	// Restarts is how many times the plugin was brought back after it
	// died or failed its health check, since the Manager started.
	Restarts int
}

// Manager runs connector plugins. Register the built-ins, then Start;
// Get and List are safe for concurrent use; Close stops everything.
type Manager struct {
	opts Options
	log  *slog.Logger

	// limiters hold the request quotas; read-only after New.
	limiters map[string]*rate.Limiter

	mu      sync.RWMutex
	plugins map[string]*managed
	pending []*managed // registered, not started yet
	started bool
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
	// ctx ends when Close begins; restarts launch under it.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Manager; nothing runs before Start.
func New(opts Options) *Manager {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		opts:     opts,
		log:      opts.Logger,
		limiters: newLimiters(opts.RequestsPerMinute),
		plugins:  map[string]*managed{},
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Register adds a connector launched by cmd, a factory called for every
// (re)start because an exec.Cmd runs once. Register before Start. The
// plugin must describe itself with the same name.
func (m *Manager) Register(name string, cmd func() *exec.Cmd) error {
	if name == "" || cmd == nil {
		return errors.New("connector: Register needs a name and a command factory")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fmt.Errorf("connector: Register %q after Start", name)
	}
	for _, p := range m.pending {
		if p.name == name {
			return fmt.Errorf("connector: %q registered twice", name)
		}
	}
	m.pending = append(m.pending, &managed{m: m, name: name, source: "builtin", factory: cmd, kick: make(chan struct{}, 1)})
	return nil
}

// Start launches the registered connectors and every executable in
// PluginDir, describes each, and begins health checks.
//
// It returns the failures it met, joined, but the Manager stays usable
// either way: a registered connector that failed to start is listed
// unhealthy and retried in the background, so a caller may log the error
// and carry on. An executable in PluginDir that fails to start is skipped
// (its name is only known from Describe).
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("connector: Manager already started or closed")
	}
	m.started = true
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()

	var errs []error
	for _, p := range pending {
		if err := p.start(ctx); err != nil {
			errs = append(errs, err)
			m.log.Error("connector failed to start; retrying in the background", "connector", p.name, "error", err)
		}
		m.add(p)
	}

	paths, err := discover(m.opts.PluginDir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, path := range paths {
		p := &managed{m: m, source: path, factory: commandFor(path), kick: make(chan struct{}, 1)}
		if err := p.start(ctx); err != nil {
			errs = append(errs, fmt.Errorf("connector plugin %s: %w", path, err))
			m.log.Error("connector plugin failed to start; skipped", "path", path, "error", err)
			continue
		}
		if err := m.addNew(p); err != nil {
			errs = append(errs, err)
			m.log.Error("connector plugin skipped", "path", path, "error", err)
			p.stop()
			continue
		}
		m.log.Info("connector plugin loaded", "connector", p.name, "path", path)
	}
	return errors.Join(errs...)
}

func (m *Manager) add(p *managed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.plugins[p.name] = p
	m.wg.Add(1)
	go p.supervise()
}

// addNew adds a discovered plugin unless its name is taken: a third party
// must not shadow a built-in.
func (m *Manager) addNew(p *managed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("connector: Manager closed")
	}
	if prev, ok := m.plugins[p.name]; ok {
		return fmt.Errorf("connector plugin %s: name %q already taken by %s", p.source, p.name, prev.source)
	}
	m.plugins[p.name] = p
	m.wg.Add(1)
	go p.supervise()
	return nil
}

// discover lists the executable regular files in dir, sorted.
func discover(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("connector: read plugin dir: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		// Stat follows symlinks, so a link to an executable counts.
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return paths, nil
}

func commandFor(path string) func() *exec.Cmd {
	return func() *exec.Cmd { return exec.Command(path) }
}

// Get returns the connector named name. The value stays valid across
// restarts of the plugin; while it is down, calls fail as ClassRetryable.
func (m *Manager) Get(name string) (sdk.Connector, error) {
	m.mu.RLock()
	p, ok := m.plugins[name]
	m.mu.RUnlock()
	if !ok {
		return nil, &NotFoundError{Name: name}
	}
	return &conn{p: p}, nil
}

// PID returns the process id of a connector's plugin, 0 while it is down
// or unknown (operators and failure tests).
func (m *Manager) PID(name string) int {
	m.mu.RLock()
	p, ok := m.plugins[name]
	m.mu.RUnlock()
	if !ok {
		return 0
	}
	return p.pid()
}

// Info describes the connector name as its last Describe did.
func (m *Manager) Info(name string) (Info, error) {
	m.mu.RLock()
	p, ok := m.plugins[name]
	m.mu.RUnlock()
	if !ok {
		return Info{}, &NotFoundError{Name: name}
	}
	return p.info(), nil
}

// List describes every connector, sorted by name.
func (m *Manager) List() []Info {
	m.mu.RLock()
	ps := make([]*managed, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.RUnlock()
	out := make([]Info, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops health checks and restarts, then stops every plugin; calls
// in flight fail as retryable. It is safe to call more than once.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	m.cancel()
	m.mu.Unlock()

	m.wg.Wait()
	m.mu.RLock()
	ps := make([]*managed, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.RUnlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.stop)
	}
	wg.Wait()
	return nil
}

// closing reports whether Close has begun.
func (m *Manager) closing() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}
