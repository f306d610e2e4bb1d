package jobs_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/plugins/sdk"
)

// kill leaves the delivery job as a process killed while working it
// would: running, attempted ago.
func kill(t *testing.T, b *bundle, ago time.Duration) {
	t.Helper()
	var id int64
	require.NoError(t, b.store.DB.QueryRow(`SELECT id FROM river_job WHERE kind = 'outbound.deliver'`).Scan(&id))
	at := time.Now().Add(-ago)
	_, err := b.store.Driver.GetExecutor().JobUpdateFull(context.Background(), &riverdriver.JobUpdateFullParams{
		ID: id, StateDoUpdate: true, State: rivertype.JobStateRunning,
		AttemptDoUpdate: true, Attempt: 1, AttemptedAtDoUpdate: true, AttemptedAt: &at,
		AttemptedByDoUpdate: true, AttemptedBy: []string{"killed-process"},
	})
	require.NoError(t, err)
}

// startWorkers starts a worker process's River client, configured as
// serve configures it.
func startWorkers(t *testing.T, b *bundle) {
	t.Helper()
	workers := river.NewWorkers()
	jobs.Register(workers, jobs.Deps{Inbox: b.inbox})
	client, err := river.NewClient(b.store.Driver, jobs.Configure(&river.Config{
		Queues: jobs.Queues(), Workers: workers, Logger: slog.New(slog.DiscardHandler)}))
	require.NoError(t, err)
	startClient(t, client)
}

// startClient starts client, and stops it when the test ends.
func startClient(t *testing.T, client *river.Client[*sql.Tx]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		cancel()
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = client.Stop(stop)
	})
}

func (b *bundle) status(t *testing.T, id string) message.DeliveryStatus {
	t.Helper()
	return b.message(t, id).DeliveryStatus
}

// Interrupted deliveries are taken up again once the rescue window has
// passed, not after River's default hour: a job a killed process left
// running 45 seconds ago is delivered by the next process, once.
func TestInterruptedDeliveryResumes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		reply := b.reply(t)
		kill(t, b, jobs.RescueStuckJobsAfter+15*time.Second)

		startWorkers(t, b)
		require.Eventually(t, func() bool { return b.status(t, string(reply.ID)) == message.DeliveryStatusSent },
			time.Minute, 200*time.Millisecond, "the interrupted delivery resumes")
		require.EqualValues(t, 1, b.conn.calls.Load(), "one send")
	})
}

// A process killed during the connector call may or may not have reached
// the customer: platforms take no idempotency key to ask. The next run does
// not send again (no duplicate); it fails the reply with the reason and
// hands the conversation to a person.
func TestDeliveryInterruptedMidSendIsNotRepeated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		reply := b.reply(t)
		inCall, release := make(chan struct{}), make(chan struct{})
		b.conn.send = func(n int64, req *sdk.SendRequest) (*sdk.SendResult, error) {
			if n == 1 { // the platform accepts it; the process dies before it hears back
				close(inCall)
				<-release
				return nil, context.Canceled
			}
			return sent(n, req)
		}
		dead := make(chan struct{})
		go func() {
			defer close(dead)
			_ = b.inbox.Deliver(b.sys, string(reply.ID))
		}()
		<-inCall
		t.Cleanup(func() { close(release); <-dead })
		kill(t, b, jobs.RescueStuckJobsAfter+15*time.Second)

		startWorkers(t, b)
		require.Eventually(t, func() bool { return b.status(t, string(reply.ID)) != message.DeliveryStatusPending },
			time.Minute, 200*time.Millisecond, "the interrupted delivery resumes")
		got := b.message(t, string(reply.ID))
		require.Equal(t, message.DeliveryStatusFailed, got.DeliveryStatus)
		require.Equal(t, "permanent:interrupted", got.ErrorCode)
		require.EqualValues(t, 1, b.conn.calls.Load(), "not sent a second time")
		require.Contains(t, handedOff(t, b, got), "may or may not have delivered")
	})
}
