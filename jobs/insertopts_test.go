package jobs_test

import (
	"context"
	"database/sql"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/jobs/jobargs"
)

// everyJobKind is one of each job in jobargs
// (TestEveryJobKindIsListed keeps it whole).
var everyJobKind = []river.JobArgs{
	jobargs.AnalyticsRollup{}, jobargs.OutboundDeliver{}, jobargs.AIReply{}, jobargs.SentimentAnalyze{},
	jobargs.KBIndex{}, jobargs.ChannelRefreshTokens{}, jobargs.ChannelSync{}, jobargs.PostPublish{},
	jobargs.PostStatus{}, jobargs.ChannelSyncChannel{}, jobargs.ContactLookup{}, jobargs.ConversationLookup{},
	jobargs.ChannelPruneAuthorizations{}, jobargs.MediaFetch{}, jobargs.ExportBuild{},
	jobargs.WorkspacePurge{}, jobargs.PrivacySweep{},
}

// Every type in jobargs with a Kind method is in everyJobKind: a job
// added later is checked too. Go cannot list a package's types at run
// time, so this reads jobargs' source.
func TestEveryJobKindIsListed(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("jobargs/*.go")
	require.NoError(t, err)
	var declared []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Kind" || len(fn.Recv.List) != 1 {
				continue
			}
			if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
				declared = append(declared, id.Name)
			}
		}
	}
	var listed []string
	for _, args := range everyJobKind {
		listed = append(listed, reflect.TypeOf(args).Name())
	}
	require.NotEmpty(t, declared)
	require.ElementsMatch(t, declared, listed)
}

// Every job's insert options are ones River accepts. River checks them
// only when a job is inserted, so a wrong set of unique states is not a
// build error: a periodic job whose options River refuses is never
// queued, and only River's log says so (the analytics rollup's did, with
// "running" missing from its states).
func TestEveryJobsInsertOptionsAreAccepted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		client := insertOnlyClient(t, storetest.Open(t, d))
		ctx := context.Background()
		for _, args := range everyJobKind {
			_, err := client.Insert(ctx, args, nil)
			require.NoError(t, err, "%s", args.Kind())
		}
		_, err := client.Insert(ctx, jobargs.SentimentAnalyze{ConversationID: "cv_1"}, jobargs.SentimentConversationOpts())
		require.NoError(t, err, "a conversation's sentiment job")
	})
}

// insertOnlyClient is a River client on s with no queues and no workers:
// it inserts jobs and works none.
func insertOnlyClient(t *testing.T, s *store.Store) *river.Client[*sql.Tx] {
	t.Helper()
	client, err := river.NewClient(s.Driver, &river.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return client
}
