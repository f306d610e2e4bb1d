package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the major version of the connector protocol
// (proto/connector/v1) and the go-plugin handshake's protocol version.
const ProtocolVersion = 1

// PluginName is the name the connector is dispensed under in a plugin set.
const PluginName = "connector"

// Handshake is shared by the host and every connector. The magic cookie
// only guards against running a plugin by hand (it is not a secret) and
// never changes; the protocol version moves with the proto's major.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "NEKSIO_CONNECTOR_PLUGIN",
	MagicCookieValue: "c0nnect0r-7f3a9e52-neksio",
}

// PluginSets returns the plugin sets of every protocol version this SDK
// speaks, keyed by version, for a host's plugin.ClientConfig.VersionedPlugins.
// The host's sets carry no implementation.
func PluginSets() map[int]plugin.PluginSet {
	return VersionedPlugins(nil)
}

// VersionedPlugins returns the versioned plugin sets serving impl (nil on
// the host side). When protocol v2 arrives it is added here next to v1, so a
// host can talk to plugins built with either SDK.
func VersionedPlugins(impl Connector) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCConnectorPlugin{Impl: impl}},
	}
}

// Serve runs c as a connector plugin and returns when the host stops it.
// Call it from main; the host launches the executable. Run by hand, the
// executable prints that it is a plugin and exits.
//
// Serve also points slog's default logger at stderr in the JSON shape
// go-plugin understands, so the host receives the plugin's log records
// with their level and attributes. Never log credentials or app secrets.
//
// A plugin outlives no host: when the process that launched it goes away
// (even killed outright, with no chance to stop its plugins), Serve exits
// the process.
func Serve(c Connector) {
	slog.SetDefault(slog.New(NewLogHandler(os.Stderr, slog.LevelDebug)))
	go watchParent(parentPollInterval, func() {
		slog.Warn("the host process is gone; exiting")
		os.Exit(1)
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(c),
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

// parentPollInterval is how often a plugin checks that its host still runs.
const parentPollInterval = 500 * time.Millisecond

// watchParent calls gone once this process's parent has exited. An orphan
// is re-parented (to init or a subreaper), so a changed parent PID means
// the host is gone; it works for any host, on every Unix, whatever
// signals the host could or could not send. A process started by init
// itself has nothing to watch.
func watchParent(every time.Duration, gone func()) {
	ppid := os.Getppid()
	if ppid <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			gone()
			return
		}
	}
}

// NewLogHandler returns a slog handler writing JSON lines that go-plugin's
// host side parses as hclog records (@level, @message, @timestamp).
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

func hclogLevel(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return strings.ToLower(slog.LevelError.String())
	}
}
