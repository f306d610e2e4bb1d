package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadDefaultsAndValidation(t *testing.T) {
	t.Setenv("NEKSIO_DATABASE_URL", "")
	t.Setenv("NEKSIO_ROLE", "")
	t.Setenv("NEKSIO_MASTER_KEY", "")
	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", c.Addr)
	require.Equal(t, 50000, c.GraphQLComplexity)
	require.Equal(t, 256, c.RealtimeBuffer)
	require.Equal(t, 10*time.Second, c.RealtimeInitTimeout)
	require.Equal(t, 50, c.GraphQLDefaultPageSize)
	require.Equal(t, 200, c.GraphQLMaxPageSize)
	require.Equal(t, int64(1<<20), c.GraphQLMaxBodyBytes)
	require.Equal(t, 60*time.Second, c.HTTPReadTimeout)
	require.Equal(t, 20, c.AuthFailuresPerMinute)
	require.Equal(t, 64, c.GCHeapFloorMB)
	require.Empty(t, c.TrustedProxies, "X-Forwarded-For is not believed unless configured")
	require.True(t, c.DevMode(), "dev mode defaults on for the embedded database")
	require.False(t, c.Postgres())

	t.Setenv("NEKSIO_REALTIME_MAX_CONNECTIONS_PER_KEY", "10100")
	c, err = Load()
	require.NoError(t, err)
	require.Equal(t, 10100, c.RealtimeMaxConnectionsPerKey)

	t.Setenv("NEKSIO_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::1")
	c, err = Load()
	require.NoError(t, err)
	require.Len(t, c.TrustedProxies, 3)
	t.Setenv("NEKSIO_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_TRUSTED_PROXIES")
	t.Setenv("NEKSIO_TRUSTED_PROXIES", "")

	t.Setenv("NEKSIO_GC_HEAP_FLOOR_MB", "-1")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_GC_HEAP_FLOOR_MB")
	t.Setenv("NEKSIO_GC_HEAP_FLOOR_MB", "")

	t.Setenv("NEKSIO_ROLE", "boss")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_ROLE")
	t.Setenv("NEKSIO_ROLE", "api")

	t.Setenv("NEKSIO_DATABASE_URL", "mysql://x")
	_, err = Load()
	require.ErrorContains(t, err, "postgres://")
	t.Setenv("NEKSIO_DATABASE_URL", "postgres://postgres@127.0.0.1/neksio")
	c, err = Load()
	require.NoError(t, err)
	require.False(t, c.DevMode(), "dev mode defaults off on PostgreSQL")

	t.Setenv("NEKSIO_MASTER_KEY", "c2hvcnQ=")
	_, err = Load()
	require.ErrorContains(t, err, "32 bytes")
}

func TestGetenv(t *testing.T) {
	t.Setenv("NEKSIO_TEST_GETENV", "process")
	c := &Config{}
	require.Equal(t, "process", c.Getenv("NEKSIO_TEST_GETENV"), "nil Environ reads the process")
	c.Environ = []string{"NEKSIO_AI_CHAT_MODEL=a", "OTHER=x", "NEKSIO_AI_CHAT_MODEL=b"}
	require.Equal(t, "b", c.Getenv("NEKSIO_AI_CHAT_MODEL"), "the last line wins")
	require.Empty(t, c.Getenv("NEKSIO_TEST_GETENV"), "a set Environ replaces the process environment")
	require.Equal(t, c.Environ, c.Environment())
}

// Metrics stay off the public port: loopback by default on the embedded
// database, off on PostgreSQL unless set, never the API's own address.
func TestMetricsListenAddr(t *testing.T) {
	for _, tc := range []struct {
		db, set, want string
		explicit      bool
	}{
		{"", "", DefaultMetricsAddr, false},
		{"postgres://x", "", "", false},
		{"postgres://x", "10.0.0.5:9100", "10.0.0.5:9100", true},
		{"", "off", "", true},
		{"", "OFF", "", true},
	} {
		c := &Config{DatabaseURL: tc.db, MetricsAddr: tc.set}
		addr, explicit := c.MetricsListenAddr()
		require.Equal(t, tc.want, addr, "%+v", tc)
		require.Equal(t, tc.explicit, explicit, "%+v", tc)
	}
	t.Setenv("NEKSIO_DATABASE_URL", "")
	t.Setenv("NEKSIO_ROLE", "")
	t.Setenv("NEKSIO_MASTER_KEY", "")
	t.Setenv("NEKSIO_ADDR", "127.0.0.1:8080")
	t.Setenv("NEKSIO_METRICS_ADDR", "127.0.0.1:8080")
	_, err := Load()
	require.ErrorContains(t, err, "NEKSIO_METRICS_ADDR")
}

// TestAIAndMilvus reads the external provider's and Milvus's settings
// (once read by hand in core/ai/openai and core/vector).
func TestAIAndMilvus(t *testing.T) {
	t.Setenv("NEKSIO_DATABASE_URL", "")
	t.Setenv("NEKSIO_ROLE", "")
	t.Setenv("NEKSIO_MASTER_KEY", "")
	t.Setenv("NEKSIO_AI_BASE_URL", "")
	t.Setenv("NEKSIO_AI_API_KEY", "")
	c, err := Load()
	require.NoError(t, err)
	require.False(t, c.AI.Enabled(), "nothing set: use the built-in provider")
	require.Empty(t, c.Milvus.Address, "nothing set: the embedded vector store")

	t.Setenv("NEKSIO_AI_BASE_URL", "http://localhost:11434/v1")
	t.Setenv("NEKSIO_AI_CHAT_MODEL", "llama3.1")
	t.Setenv("NEKSIO_AI_EMBEDDING_MODEL", "nomic-embed-text")
	t.Setenv("NEKSIO_AI_EMBEDDING_DIMENSION", "768")
	t.Setenv("NEKSIO_MILVUS_ADDRESS", "milvus:19530")
	t.Setenv("NEKSIO_MILVUS_TOKEN", "root:Milvus")
	t.Setenv("NEKSIO_MILVUS_DB", "neksio")
	t.Setenv("NEKSIO_MILVUS_CONSISTENCY", "session")
	t.Setenv("NEKSIO_MILVUS_PARTITION_KEY", "true")
	c, err = Load()
	require.NoError(t, err)
	require.True(t, c.AI.Enabled())
	require.Equal(t, AI{BaseURL: "http://localhost:11434/v1", ChatModel: "llama3.1", EmbeddingModel: "nomic-embed-text", EmbeddingDimension: 768}, c.AI)
	require.Equal(t, Milvus{Address: "milvus:19530", Token: "root:Milvus", DB: "neksio", CollectionPrefix: "neksio_",
		Consistency: "session", IndexType: "AUTOINDEX", PartitionKey: true}, c.Milvus)

	t.Setenv("NEKSIO_AI_EMBEDDING_DIMENSION", "big")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_AI_EMBEDDING_DIMENSION")
	t.Setenv("NEKSIO_AI_EMBEDDING_DIMENSION", "-1")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_AI_EMBEDDING_DIMENSION")
	t.Setenv("NEKSIO_AI_EMBEDDING_DIMENSION", "")

	t.Setenv("NEKSIO_MILVUS_PARTITION_KEY", "maybe")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_MILVUS_PARTITION_KEY")
	t.Setenv("NEKSIO_MILVUS_PARTITION_KEY", "")
	t.Setenv("NEKSIO_MILVUS_CONSISTENCY", "psychic")
	_, err = Load()
	require.ErrorContains(t, err, "NEKSIO_MILVUS_CONSISTENCY")
}
