package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/jobs/jobargs"
)

// A write and the job that must follow it share one transaction: a
// rollback leaves neither, a commit leaves both.
func TestTxJobsFollowTheWrite(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		ctx = tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		sub := s.Bus.Subscribe(string(ws.ID), 8)
		defer sub.Close()

		boom := errors.New("boom")
		err = s.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.Ent.Workspace.UpdateOneID(ws.ID).SetName("renamed").Exec(ctx); err != nil {
				return err
			}
			if err := tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: string(ws.ID), MessageID: "msg_rolledback"}, nil); err != nil {
				return err
			}
			tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(ws.ID), ObjectID: "x"})
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, 0, storetest.CountJobs(t, s.DB, "outbound.deliver"))
		got, err := s.Ent.Workspace.Get(ctx, ws.ID)
		require.NoError(t, err)
		require.Equal(t, "acme", got.Name)
		require.Empty(t, sub.C, "a rolled-back change emits nothing")

		err = s.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.Ent.Workspace.UpdateOneID(ws.ID).SetName("renamed").Exec(ctx); err != nil {
				return err
			}
			tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(ws.ID), ObjectID: "x"})
			return tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: string(ws.ID), MessageID: "msg_committed"}, nil)
		})
		require.NoError(t, err)
		require.Equal(t, 1, storetest.CountJobs(t, s.DB, "outbound.deliver"))
		got, err = s.Ent.Workspace.Get(ctx, ws.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)
		require.Len(t, sub.C, 1)
	})
}

func TestTxRollsBackOnPanic(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.SQLite)
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "acme")
	require.NoError(t, err)
	ctx = tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	require.Panics(t, func() {
		_ = s.InTx(ctx, func(tx *store.Tx) error {
			require.NoError(t, tx.Ent.Workspace.UpdateOneID(ws.ID).SetName("renamed").Exec(ctx))
			panic("boom")
		})
	})
	got, err := s.Ent.Workspace.Get(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, "acme", got.Name)
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		require.NoError(t, s.Migrate(context.Background()))
		require.NoError(t, s.Ping(context.Background()))
	})
}
