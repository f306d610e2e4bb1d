package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
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

// Migrating puts conversations handed off before needs_human existed in
// the team's queue, and leaves assigned or settled ones alone.
func TestMigrateBackfillsNeedsHuman(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		pctx := tenant.NewContext(ctx, tenant.PlatformViewer("test"))
		u, err := s.Ent.User.Create().SetEmail("ann@example.com").Save(pctx)
		require.NoError(t, err)
		ch, err := s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("x").SetPlatform("x").SetExternalID("1").SetName("c").Save(sys)
		require.NoError(t, err)
		mk := func(thread, reason string, assigned bool) string {
			c := s.Ent.Conversation.Create().SetWorkspaceID(ws.ID).SetChannelID(ch.ID).
				SetKind("DIRECT_MESSAGE").SetThreadID(thread).SetHandoffReason(reason)
			if assigned {
				c.SetAssigneeID(u.ID)
			}
			return string(c.SaveX(sys).ID)
		}
		old := mk("a", "asked for a human", false)
		taken := mk("b", "asked for a human", true)
		calm := mk("c", "", false)
		require.NoError(t, s.Migrate(ctx))
		for id, want := range map[string]bool{old: true, taken: false, calm: false} {
			c, err := s.Ent.Conversation.Get(sys, pulid.ID(id))
			require.NoError(t, err)
			require.Equal(t, want, c.NeedsHuman, id)
		}
	})
}

// Migrating a database made with the messages' (conversation_id, sent_at)
// index drops it: (conversation_id, sent_at, id) replaces it, and ent's
// migration only adds indexes.
func TestMigrateDropsReplacedMessageIndex(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		indexes := func() []string {
			q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name`
			if d == storetest.Postgres {
				q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'messages' ORDER BY indexname`
			}
			rows, err := s.DB.QueryContext(ctx, q)
			require.NoError(t, err)
			defer rows.Close()
			var names []string
			for rows.Next() {
				var n string
				require.NoError(t, rows.Scan(&n))
				names = append(names, n)
			}
			require.NoError(t, rows.Err())
			return names
		}
		require.Contains(t, indexes(), "message_conversation_id_sent_at_id")
		require.NotContains(t, indexes(), store.ReplacedMessageIndex)
		_, err := s.DB.ExecContext(ctx, `CREATE INDEX `+store.ReplacedMessageIndex+` ON messages (conversation_id, sent_at)`)
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx))
		require.NotContains(t, indexes(), store.ReplacedMessageIndex)
		require.Contains(t, indexes(), "message_conversation_id_sent_at_id")
		require.NoError(t, s.Migrate(ctx), "idempotent")
	})
}

// Migrating a database that still has analytics_durations (one row per
// duration, before the per-hour histograms) drops it and resets the
// analytics watermarks, so the next rollup pass rebuilds the rollups; a
// second migration leaves the new watermarks alone.
func TestMigrateRetiresAnalyticsDurations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		_, err = s.DB.ExecContext(ctx, `CREATE TABLE analytics_durations (id varchar(64) PRIMARY KEY, seconds bigint NOT NULL)`)
		require.NoError(t, err)
		require.NoError(t, s.Ent.AnalyticsWatermark.Create().SetWorkspaceID(ws.ID).SetRolledUntil(3600).Exec(sys))
		require.NoError(t, s.Migrate(ctx))
		n, err := s.Ent.AnalyticsWatermark.Query().Count(sys)
		require.NoError(t, err)
		require.Zero(t, n, "watermarks reset: the next pass rebuilds")
		_, err = s.DB.ExecContext(ctx, `SELECT count(*) FROM analytics_durations`)
		require.Error(t, err, "the table is gone")
		require.NoError(t, s.Ent.AnalyticsWatermark.Create().SetWorkspaceID(ws.ID).SetRolledUntil(7200).Exec(sys))
		require.NoError(t, s.Migrate(ctx))
		n, err = s.Ent.AnalyticsWatermark.Query().Count(sys)
		require.NoError(t, err)
		require.Equal(t, 1, n, "nothing to retire the second time")
	})
}

// On PostgreSQL a transaction's change events are one outbox row that
// exists exactly when the transaction commits, whether it inserts jobs
// (the row then travels with River's insert) or not; if the row cannot
// be written, nothing of the transaction is kept.
func TestTxOutboxFollowsTheCommit(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.Postgres)
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "acme")
	require.NoError(t, err)
	ctx = tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	rows := func() []string {
		var out []string
		r, err := s.DB.QueryContext(ctx, "SELECT payload FROM "+event.OutboxTable+" ORDER BY xid")
		require.NoError(t, err)
		defer r.Close()
		for r.Next() {
			var p string
			require.NoError(t, r.Scan(&p))
			out = append(out, p)
		}
		require.NoError(t, r.Err())
		return out
	}
	before := len(rows())
	emit := func(obj string, job, fail bool) error {
		return s.InTx(ctx, func(tx *store.Tx) error {
			tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(ws.ID), ObjectID: obj})
			if job {
				if err := tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: string(ws.ID), MessageID: "msg_" + obj}, nil); err != nil {
					return err
				}
			}
			if fail {
				return errors.New("boom")
			}
			return nil
		})
	}
	require.Error(t, emit("rolledback", true, true))
	require.NoError(t, emit("withjob", true, false))
	require.NoError(t, emit("nojob", false, false))
	got := rows()[before:]
	require.Len(t, got, 2)
	require.Contains(t, got[0], `"o":"withjob"`)
	require.Contains(t, got[1], `"o":"nojob"`)
	require.Equal(t, 1, storetest.CountJobs(t, s.DB, "outbound.deliver"))

	// The outbox refuses the row: the job inserted with it is gone too.
	_, err = s.DB.ExecContext(ctx, "ALTER TABLE "+event.OutboxTable+" ADD CONSTRAINT refuse CHECK (payload NOT LIKE '%refused%')")
	require.NoError(t, err)
	require.ErrorContains(t, emit("refused", true, false), "change events")
	require.ErrorContains(t, emit("refused2", false, false), "change events")
	require.Equal(t, 1, storetest.CountJobs(t, s.DB, "outbound.deliver"))
	require.Len(t, rows()[before:], 2)
}

// Migrating a database from before failed_at gives its FAILED post targets
// failed_at = updated_at (when analytics counted them until then) and
// resets the analytics watermarks, so the next rollup pass rebuilds; other
// targets, and failed ones that have failed_at, are left alone, and a
// second migration changes nothing.
func TestMigrateBackfillsFailedAt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		ch, err := s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
			SetExternalID("wa1").SetName("WhatsApp").Save(sys)
		require.NoError(t, err)
		p, err := s.Ent.Post.Create().SetWorkspaceID(ws.ID).SetAuthor("x").Save(sys)
		require.NoError(t, err)
		target := func(st posttarget.Status, updated time.Time, failed *time.Time) pulid.ID {
			c := s.Ent.PostTarget.Create().SetWorkspaceID(ws.ID).SetPostID(p.ID).SetChannelID(ch.ID).
				SetStatus(st).SetUpdatedAt(updated)
			if failed != nil {
				c.SetFailedAt(*failed)
			}
			tg, err := c.Save(sys)
			require.NoError(t, err)
			return tg.ID
		}
		updated := time.Date(2026, 3, 30, 15, 4, 5, 0, time.UTC)
		known := time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC)
		old := target(posttarget.StatusFailed, updated, nil) // failed before failed_at existed
		recent := target(posttarget.StatusFailed, updated, &known)
		pending := target(posttarget.StatusPending, updated, nil)
		require.NoError(t, s.Ent.AnalyticsWatermark.Create().SetWorkspaceID(ws.ID).SetRolledUntil(3600).Exec(sys))

		require.NoError(t, s.Migrate(ctx))
		failedAt := func(id pulid.ID) *time.Time {
			tg, err := s.Ent.PostTarget.Get(sys, id)
			require.NoError(t, err)
			return tg.FailedAt
		}
		require.NotNil(t, failedAt(old))
		require.True(t, failedAt(old).Equal(updated), "failed_at = updated_at: %s", failedAt(old))
		require.True(t, failedAt(recent).Equal(known), "a failed_at already set stays")
		require.Nil(t, failedAt(pending), "not FAILED: no failed_at")
		n, err := s.Ent.AnalyticsWatermark.Query().Count(sys)
		require.NoError(t, err)
		require.Zero(t, n, "watermarks reset: the next pass rebuilds")

		require.NoError(t, s.Ent.AnalyticsWatermark.Create().SetWorkspaceID(ws.ID).SetRolledUntil(7200).Exec(sys))
		require.NoError(t, s.Migrate(ctx))
		n, err = s.Ent.AnalyticsWatermark.Query().Count(sys)
		require.NoError(t, err)
		require.Equal(t, 1, n, "nothing to backfill the second time")
		require.True(t, failedAt(old).Equal(updated))
	})
}
