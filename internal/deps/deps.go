//go:build deps

// Package deps pins the modules the work in progress needs, so go.mod and
// go.sum stay complete while packages land one by one. Removed once every
// module is imported by real code.
package deps

import (
	_ "entgo.io/contrib/entgql"
	_ "entgo.io/ent"
	_ "entgo.io/ent/dialect/sql"
	_ "entgo.io/ent/entc"
	_ "github.com/99designs/gqlgen/graphql/handler"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/coder/websocket"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/go-multierror"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/milvus-io/milvus/client/v2/milvusclient"
	_ "github.com/neksio/neksio/plugins/sdk"
	_ "github.com/oklog/ulid/v2"
	_ "github.com/openai/openai-go/v3"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverdatabasesql"
	_ "github.com/riverqueue/river/riverdriver/riversqlite"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "github.com/vektah/gqlparser/v2"
	_ "github.com/vikstrous/dataloadgen"
	_ "github.com/yuin/goldmark"
	_ "go.uber.org/goleak"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/net/html"
	_ "golang.org/x/time/rate"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"
)
