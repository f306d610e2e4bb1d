package jobs_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/jobs/jobargs"
)

// Every job's insert options are ones River accepts. River checks them
// only when a job is inserted, so a wrong set of unique states is not a
// build error: a periodic job whose options River refuses is never
// queued, and only River's log says so (the analytics rollup's did, with
// "running" missing from its states).
func TestEveryJobsInsertOptionsAreAccepted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		// An insert-only client: no queues, no workers.
		client, err := river.NewClient(s.Driver, &river.Config{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		ctx := context.Background()
		for _, args := range []river.JobArgs{
			jobargs.AnalyticsRollup{}, jobargs.OutboundDeliver{}, jobargs.AIReply{}, jobargs.SentimentAnalyze{},
			jobargs.KBIndex{}, jobargs.ChannelRefreshTokens{}, jobargs.ChannelSync{}, jobargs.PostPublish{},
			jobargs.PostStatus{}, jobargs.ChannelSyncChannel{}, jobargs.ContactLookup{}, jobargs.ConversationLookup{},
			jobargs.ChannelPruneAuthorizations{}, jobargs.MediaFetch{}, jobargs.ExportBuild{},
			jobargs.WorkspacePurge{}, jobargs.PrivacySweep{},
		} {
			_, err := client.Insert(ctx, args, nil)
			require.NoError(t, err, "%s", args.Kind())
		}
		_, err = client.Insert(ctx, jobargs.SentimentAnalyze{ConversationID: "cv_1"}, jobargs.SentimentConversationOpts())
		require.NoError(t, err, "a conversation's sentiment job")
	})
}
