// Package config reads Neksio's settings from the environment. Every
// setting has a default that makes `neksio serve` work with nothing set:
// SQLite in ./data, the built-in AI provider, the embedded vector store.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is every setting. The env tags are the documented names (README,
// configuration table).
type Config struct {
	Addr        string `env:"NEKSIO_ADDR" envDefault:"127.0.0.1:8080"`
	DataDir     string `env:"NEKSIO_DATA_DIR" envDefault:"./data"`
	DatabaseURL string `env:"NEKSIO_DATABASE_URL"`
	AutoMigrate bool   `env:"NEKSIO_AUTO_MIGRATE" envDefault:"true"`
	// Dev turns on introspection and the GraphiQL playground. Unset, they
	// are on for the embedded default and off on PostgreSQL.
	Dev       *bool  `env:"NEKSIO_DEV"`
	MasterKey string `env:"NEKSIO_MASTER_KEY"`
	// AllowGeneratedMasterKey lets a single node on PostgreSQL keep its
	// master key in the data dir; without it NEKSIO_MASTER_KEY is required
	// there, since replicas would each generate their own.
	AllowGeneratedMasterKey bool   `env:"NEKSIO_ALLOW_GENERATED_MASTER_KEY"`
	LogLevel                string `env:"NEKSIO_LOG_LEVEL" envDefault:"info"`
	LogFormat               string `env:"NEKSIO_LOG_FORMAT" envDefault:"text"`
	// Role: api, worker or all.
	Role string `env:"NEKSIO_ROLE" envDefault:"all"`

	// MetricsAddr is the private listener for /metrics and /debug/pprof/,
	// never served on Addr. Unset: 127.0.0.1:9090 on the embedded
	// database, none on PostgreSQL; "off": none. See MetricsListenAddr.
	MetricsAddr string `env:"NEKSIO_METRICS_ADDR"`
	// PprofAddr serves net/http/pprof alone on a separate, private address
	// (kept from before MetricsAddr, which serves pprof too).
	PprofAddr string `env:"NEKSIO_PPROF_ADDR"`

	// GCHeapFloorMB is the heap size, in MiB, below which the garbage
	// collector does not run (internal/gcfloor); 0: off, GOGC alone. A
	// GOGC set in the environment also turns it off.
	GCHeapFloorMB int `env:"NEKSIO_GC_HEAP_FLOOR_MB" envDefault:"64"`

	PluginDir     string        `env:"NEKSIO_PLUGIN_DIR"`
	Connectors    []string      `env:"NEKSIO_CONNECTORS" envDefault:"whatsapp,meta,google,tiktok" envSeparator:","`
	PluginTimeout time.Duration `env:"NEKSIO_PLUGIN_TIMEOUT" envDefault:"30s"`
	PublicURL     string        `env:"NEKSIO_PUBLIC_URL"`
	// InviteURL is the page invitation links point to (the token is added
	// as ?token=); default <PublicURL>/invite.
	InviteURL string `env:"NEKSIO_INVITE_URL"`
	// OAuthReturnURL is the page the browser ends on after a platform's
	// OAuth consent (?authorization=…&status=…); default a built-in page.
	OAuthReturnURL string   `env:"NEKSIO_OAUTH_RETURN_URL"`
	AllowedOrigins []string `env:"NEKSIO_ALLOWED_ORIGINS" envSeparator:","`

	GraphQLComplexity int           `env:"NEKSIO_GRAPHQL_MAX_COMPLEXITY" envDefault:"50000"`
	GraphQLDepth      int           `env:"NEKSIO_GRAPHQL_MAX_DEPTH" envDefault:"12"`
	RequestTimeout    time.Duration `env:"NEKSIO_REQUEST_TIMEOUT" envDefault:"30s"`
	RateLimit         float64       `env:"NEKSIO_RATE_LIMIT" envDefault:"50"`
	RateBurst         int           `env:"NEKSIO_RATE_BURST" envDefault:"100"`
	WebhookMaxBytes   int64         `env:"NEKSIO_WEBHOOK_MAX_BYTES" envDefault:"1048576"`

	// What one operation may ask for and hold (docs/limits.md); zero
	// values take graph's defaults.
	GraphQLDefaultPageSize      int   `env:"NEKSIO_GRAPHQL_DEFAULT_PAGE_SIZE" envDefault:"50"`
	GraphQLMaxPageSize          int   `env:"NEKSIO_GRAPHQL_MAX_PAGE_SIZE" envDefault:"200"`
	GraphQLMaxAliases           int   `env:"NEKSIO_GRAPHQL_MAX_ALIASES" envDefault:"100"`
	GraphQLMaxRootMutations     int   `env:"NEKSIO_GRAPHQL_MAX_ROOT_MUTATIONS" envDefault:"10"`
	GraphQLResolverConcurrency  int   `env:"NEKSIO_GRAPHQL_RESOLVER_CONCURRENCY" envDefault:"4"`
	GraphQLExpensiveConcurrency int   `env:"NEKSIO_GRAPHQL_EXPENSIVE_CONCURRENCY" envDefault:"2"`
	GraphQLMaxBodyBytes         int64 `env:"NEKSIO_GRAPHQL_MAX_BODY_BYTES" envDefault:"1048576"`
	GraphQLMaxUploadBytes       int64 `env:"NEKSIO_GRAPHQL_MAX_UPLOAD_BYTES" envDefault:"10485760"`
	// Failed authentications a client address may make a minute; -1: no limit.
	AuthFailuresPerMinute int `env:"NEKSIO_AUTH_FAILURES_PER_MINUTE" envDefault:"20"`
	// Proxies (addresses, CIDR ranges) whose X-Forwarded-For is believed.
	TrustedProxies []string `env:"NEKSIO_TRUSTED_PROXIES" envSeparator:","`

	// HTTP server timeouts: headers, the whole request (headers and body;
	// lifted once a WebSocket or SSE stream is open), writing the response,
	// keep-alive idle.
	HTTPReadHeaderTimeout time.Duration `env:"NEKSIO_HTTP_READ_HEADER_TIMEOUT" envDefault:"10s"`
	HTTPReadTimeout       time.Duration `env:"NEKSIO_HTTP_READ_TIMEOUT" envDefault:"60s"`
	HTTPWriteTimeout      time.Duration `env:"NEKSIO_HTTP_WRITE_TIMEOUT" envDefault:"90s"`
	HTTPIdleTimeout       time.Duration `env:"NEKSIO_HTTP_IDLE_TIMEOUT" envDefault:"120s"`

	// Subscriptions (docs/realtime.md); zero values take graph's defaults.
	RealtimeInitTimeout             time.Duration `env:"NEKSIO_REALTIME_INIT_TIMEOUT" envDefault:"10s"`
	RealtimePingInterval            time.Duration `env:"NEKSIO_REALTIME_PING_INTERVAL" envDefault:"25s"`
	RealtimeMaxSubscriptionsPerConn int           `env:"NEKSIO_REALTIME_MAX_SUBSCRIPTIONS_PER_CONNECTION" envDefault:"100"`
	RealtimeMaxConnectionsPerKey    int           `env:"NEKSIO_REALTIME_MAX_CONNECTIONS_PER_KEY" envDefault:"100"`
	RealtimeBuffer                  int           `env:"NEKSIO_REALTIME_BUFFER" envDefault:"256"`

	// WorkspaceDeleteGrace is how long a deleted workspace can be restored
	// before its purge (0: purged at the next sweep).
	WorkspaceDeleteGrace *time.Duration `env:"NEKSIO_WORKSPACE_DELETE_GRACE" envDefault:"168h"`

	// Media is the media store (docs/publishing.md#media).
	Media Media `envPrefix:"NEKSIO_MEDIA_"`
	// AI is the external OpenAI-compatible provider (docs/ai.md).
	AI AI `envPrefix:"NEKSIO_AI_"`
	// Milvus is the external vector store (docs/vector.md).
	Milvus Milvus `envPrefix:"NEKSIO_MILVUS_"`

	// Environ is where connectors' app settings (NEKSIO_<CONNECTOR>_*,
	// handed to each connector as they are) come from; nil means the
	// process environment. Tests set it. Read it with Getenv or
	// Environment, never with os.Getenv.
	Environ []string `env:"-"`
}

// AI configures the external OpenAI-compatible provider. With neither
// BaseURL nor APIKey set there is none: the built-in offline provider
// serves every workspace.
type AI struct {
	// BaseURL of the API including the version path; empty: OpenAI's.
	BaseURL string `env:"BASE_URL"`
	// APIKey is sent as a bearer token; empty for local servers.
	APIKey         string `env:"API_KEY"`
	ChatModel      string `env:"CHAT_MODEL" envDefault:"gpt-4o-mini"`
	EmbeddingModel string `env:"EMBEDDING_MODEL" envDefault:"text-embedding-3-small"`
	// EmbeddingDimension is requested from the server and checked on every
	// response; zero: learned from the first response.
	EmbeddingDimension int `env:"EMBEDDING_DIMENSION"`
}

// Enabled reports whether an external provider is configured.
func (a AI) Enabled() bool { return a.BaseURL != "" || a.APIKey != "" }

// Milvus configures the external vector store. An empty Address means the
// embedded store on the application's database.
type Milvus struct {
	// Address is host:port of the Milvus gRPC endpoint.
	Address string `env:"ADDRESS"`
	// Token: "user:password" or an API key; empty for none.
	Token string `env:"TOKEN"`
	// DB is the Milvus database; empty: "default".
	DB               string `env:"DB"`
	CollectionPrefix string `env:"COLLECTION_PREFIX" envDefault:"neksio_"`
	// Consistency: strong, session, bounded or eventually.
	Consistency string `env:"CONSISTENCY" envDefault:"strong"`
	// IndexType: AUTOINDEX, FLAT, IVF_FLAT or HNSW.
	IndexType string `env:"INDEX_TYPE" envDefault:"AUTOINDEX"`
	// PartitionKey declares workspace_id a partition key (not on Milvus Lite).
	PartitionKey bool `env:"PARTITION_KEY"`
}

// Media configures the media store. Zero values take the defaults.
type Media struct {
	// Bucket is empty for <DataDir>/media, or an S3-compatible bucket URL.
	Bucket string `env:"BUCKET"`
	// URLTTL is how long a signed media URL works (at least a minute).
	URLTTL time.Duration `env:"URL_TTL" envDefault:"24h"`
	// FetchMaxBytes bounds a customer's file downloaded from a platform.
	FetchMaxBytes int64 `env:"FETCH_MAX_BYTES" envDefault:"104857600"`
}

// Environment returns the KEY=VALUE lines settings are read from.
func (c *Config) Environment() []string {
	if c.Environ == nil {
		return os.Environ()
	}
	return c.Environ
}

// Getenv reads one variable of Environment (the last line wins).
func (c *Config) Getenv(key string) string {
	if c.Environ == nil {
		return os.Getenv(key)
	}
	for i := len(c.Environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(c.Environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Default is the configuration with nothing set: every field at the
// default its env tag documents (the README's configuration table).
func Default() *Config {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		panic("config: the defaults do not parse: " + err.Error()) // a typo in a tag; TestDefault catches it
	}
	c.Environ = []string{}
	return &c
}

// Load reads the environment.
func Load() (*Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return nil, nameVariables(err)
	}
	return &c, c.Validate()
}

// nameVariables rewrites caarlos0/env's parse errors, which name the Go
// field, to name the variable: "config: NEKSIO_X: <why>".
func nameVariables(err error) error {
	vars := map[string][]string{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, prefix+f.Tag.Get("envPrefix"))
				continue
			}
			if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" && tag != "-" {
				vars[f.Name] = append(vars[f.Name], prefix+tag)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	var msgs []string
	for _, e := range flatten(err) {
		var pe env.ParseError
		if errors.As(e, &pe) && len(vars[pe.Name]) > 0 {
			msgs = append(msgs, fmt.Sprintf("%s: %v", strings.Join(vars[pe.Name], " or "), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Validate checks values that would otherwise fail late.
func (c *Config) Validate() error {
	switch c.Role {
	case "api", "worker", "all":
	default:
		return fmt.Errorf("config: NEKSIO_ROLE must be api, worker or all, not %q", c.Role)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("config: NEKSIO_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		return fmt.Errorf("config: NEKSIO_LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if c.WorkspaceDeleteGrace != nil && *c.WorkspaceDeleteGrace < 0 {
		return fmt.Errorf("config: NEKSIO_WORKSPACE_DELETE_GRACE: want a duration of 0 or more, e.g. 168h")
	}
	if c.Media.URLTTL != 0 && c.Media.URLTTL < time.Minute {
		return fmt.Errorf("config: NEKSIO_MEDIA_URL_TTL: want a duration of at least 1m, e.g. 24h")
	}
	if c.Media.FetchMaxBytes != 0 && c.Media.FetchMaxBytes < 1024 {
		return fmt.Errorf("config: NEKSIO_MEDIA_FETCH_MAX_BYTES: want a number of bytes, at least 1024")
	}
	if c.GCHeapFloorMB < 0 {
		return fmt.Errorf("config: NEKSIO_GC_HEAP_FLOOR_MB: want a size in MiB, 0 or more, not %d", c.GCHeapFloorMB)
	}
	if c.AI.EmbeddingDimension < 0 {
		return fmt.Errorf("config: NEKSIO_AI_EMBEDDING_DIMENSION: want a dimension of 0 or more, not %d", c.AI.EmbeddingDimension)
	}
	switch strings.ToLower(c.Milvus.Consistency) {
	case "", "strong", "session", "bounded", "eventually":
	default:
		return fmt.Errorf("config: NEKSIO_MILVUS_CONSISTENCY must be strong, session, bounded or eventually, not %q", c.Milvus.Consistency)
	}
	switch strings.ToUpper(c.Milvus.IndexType) {
	case "", "AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW":
	default:
		return fmt.Errorf("config: NEKSIO_MILVUS_INDEX_TYPE must be AUTOINDEX, FLAT, IVF_FLAT or HNSW, not %q", c.Milvus.IndexType)
	}
	if c.DatabaseURL != "" && !c.Postgres() {
		return fmt.Errorf("config: NEKSIO_DATABASE_URL must be a postgres:// URL (leave it empty for the embedded SQLite database)")
	}
	if addr, _ := c.MetricsListenAddr(); addr != "" && addr == c.Addr {
		return fmt.Errorf("config: NEKSIO_METRICS_ADDR must not be NEKSIO_ADDR: metrics and the profiler stay off the public port")
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(p)); err != nil && net.ParseIP(strings.TrimSpace(p)) == nil {
			return fmt.Errorf("config: NEKSIO_TRUSTED_PROXIES: %q is neither an address nor a CIDR range", p)
		}
	}
	if c.MasterKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.MasterKey); err != nil || len(k) != 32 {
			return fmt.Errorf("config: NEKSIO_MASTER_KEY must be 32 bytes, base64-encoded")
		}
	}
	return nil
}

// Postgres reports whether the database is PostgreSQL.
func (c *Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// DevMode reports whether introspection and the playground are on.
func (c *Config) DevMode() bool {
	if c.Dev != nil {
		return *c.Dev
	}
	return !c.Postgres()
}

// DefaultMetricsAddr is where the embedded default serves metrics when
// NEKSIO_METRICS_ADDR is unset: loopback only.
const DefaultMetricsAddr = "127.0.0.1:9090"

// MetricsListenAddr is the address of the private metrics listener, empty
// for none, and whether it was set explicitly (a taken default address is
// not worth failing a development server for; a configured one is).
func (c *Config) MetricsListenAddr() (addr string, explicit bool) {
	switch {
	case strings.EqualFold(c.MetricsAddr, "off"):
		return "", true
	case c.MetricsAddr != "":
		return c.MetricsAddr, true
	case c.Postgres():
		// Production: scraping is opted into, on an address the operator
		// chooses and keeps private.
		return "", false
	default:
		return DefaultMetricsAddr, false
	}
}

// SQLitePath is the embedded database file.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "neksio.db") }
