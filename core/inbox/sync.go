package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// MaxSyncPages bounds one channel's sync pass; the cursor carries on.
const MaxSyncPages = 20

// BackfillWindow is how far back the first pass of a new channel reads
// (Google keeps reviews for ever; three months of them is what a team
// answers).
const BackfillWindow = 90 * 24 * time.Hour

// MaxNotifyItems is how many items one Sync{Only} call fetches (Google's
// connector takes at most 50).
const MaxNotifyItems = 50

// SyncChannel pulls what the platform does not push (reviews, comment
// lists) for one channel, a page at a time. Each page is stored with the
// cursor that follows it in one transaction, so a crash resumes where the
// last stored page ended and a repeated page is a no-op (unique keys).
//
// A pass reads what changed since the previous pass began (the first pass
// of a channel: the last BackfillWindow). Its start is recorded with its
// first page and becomes the channel's synced_at when its last page is
// stored, however many runs it took: what changes while a pass runs is
// read by the next one. ctx must carry a viewer of the channel's
// workspace.
func (s *Service) SyncChannel(ctx context.Context, ch *ent.Channel) (IngestResult, error) {
	var total IngestResult
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return total, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return total, err
	}
	cursor := ch.SyncCursor
	passStart := s.now()
	if cursor != "" && ch.SyncStartedAt != nil {
		passStart = *ch.SyncStartedAt
	}
	since := passStart.Add(-BackfillWindow)
	if ch.SyncedAt != nil {
		since = *ch.SyncedAt
	}
	for page := 0; page < MaxSyncPages; page++ {
		res, err := conn.Sync(ctx, &sdk.SyncRequest{App: s.Channels.AppFor(ch), Credentials: creds,
			AccountID: ch.ExternalID, Cursor: cursor, Since: since})
		if err != nil {
			if cursor != "" && sdk.ClassOf(err) == sdk.ClassPermanent {
				// An unreadable or expired cursor: the next pass starts over.
				if cerr := s.Store.Ent.Channel.UpdateOneID(ch.ID).ClearSyncCursor().ClearSyncStartedAt().Exec(ctx); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return total, err
		}
		err = s.Store.InTx(ctx, func(tx *store.Tx) error {
			r, err := s.Ingest(ctx, tx, ch, res.Events)
			if err != nil {
				return err
			}
			total.Add(r)
			u := tx.Ent.Channel.UpdateOneID(ch.ID).SetSyncCursor(res.NextCursor)
			if res.More {
				u.SetSyncStartedAt(passStart)
			} else {
				u.SetSyncedAt(passStart).ClearSyncStartedAt()
			}
			return u.Exec(ctx)
		})
		if err != nil {
			return total, fmt.Errorf("inbox: storing synced page: %w", err)
		}
		cursor = res.NextCursor
		if !res.More {
			break
		}
	}
	return total, nil
}

// SyncOne runs SyncChannel for the channel id (the channel.sync_channel
// job): nothing for a channel no longer active or whose connector does not
// offer Sync; a refused token marks the channel for reconnection. ctx
// carries a viewer of the channel's workspace.
func (s *Service) SyncOne(ctx context.Context, id string) error {
	ch, err := s.Store.Ent.Channel.Query().Where(entchannel.ID(pulid.ID(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: loading channel to sync: %w", err)
	}
	if ch.Status != entchannel.StatusActive {
		return nil
	}
	switch ok, err := s.offersSyncErr(ctx, ch.Connector); {
	case err != nil:
		// The connector is restarting: the pass (a backfill, perhaps) must
		// not be lost.
		return connector.Classify(err)
	case !ok:
		return nil
	}
	if _, err := s.SyncChannel(ctx, ch); err != nil {
		if sdk.ClassOf(err) == sdk.ClassAuthRevoked {
			return s.markNeedsReconnect(ctx, ch, "sync refused: "+err.Error())
		}
		// A platform that says "retry later" is retried after the time
		// it names (by the worker).
		return connector.Classify(err)
	}
	return nil
}

// offersSync reports whether connector name has the sync capability.
func (s *Service) offersSync(ctx context.Context, name string) bool {
	ok, err := s.offersSyncErr(ctx, name)
	return ok && err == nil
}

// offersSyncErr is offersSync with the failure to ask: a connector that
// does not exist offers nothing; one that cannot answer now fails
// retryable.
func (s *Service) offersSyncErr(ctx context.Context, name string) (bool, error) {
	conn, err := s.Gateway.Get(name)
	if err != nil {
		return false, nil
	}
	d, err := conn.Describe(ctx)
	if err != nil {
		return false, &sdk.Error{Class: sdk.ClassRetryable, Message: "connector " + name + " unavailable: " + err.Error()}
	}
	return slices.Contains(d.Capabilities, sdk.CapSync), nil
}

// SyncAll runs SyncChannel for every active channel whose connector offers
// Sync, one after the other. A channel's failure is logged and does not
// stop the others; auth failures mark the channel for reconnection. The
// periodic job queues a pass per channel instead (QueueSyncs).
func (s *Service) SyncAll(ctx context.Context) error {
	channels, err := s.syncable(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ch := range channels {
		wctx := tenant.NewContext(ctx, tenant.System(string(ch.WorkspaceID), "channel.sync"))
		if _, err := s.SyncChannel(wctx, ch); err != nil {
			if sdk.ClassOf(err) == sdk.ClassAuthRevoked {
				if merr := s.markNeedsReconnect(wctx, ch, "sync refused: "+err.Error()); merr != nil {
					errs = append(errs, merr)
				}
				continue
			}
			errs = append(errs, fmt.Errorf("channel %s: %w", ch.ID, err))
		}
	}
	return errors.Join(errs...)
}

// QueueSyncs queues a channel.sync_channel job for every active channel
// whose connector offers Sync (the periodic channel.sync job). Each
// channel's pass then runs, fails and is retried on its own, and never
// twice at once: a channel whose pass is still queued or running (its
// backfill, a notification's) gets no second one.
func (s *Service) QueueSyncs(ctx context.Context) error {
	channels, err := s.syncable(ctx)
	if err != nil || len(channels) == 0 {
		return err
	}
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.sync"))
	return s.Store.InTx(pctx, func(tx *store.Tx) error {
		for _, ch := range channels {
			if err := tx.InsertJob(pctx, jobargs.ChannelSyncChannel{WorkspaceID: string(ch.WorkspaceID), ChannelID: string(ch.ID)}, nil); err != nil {
				return fmt.Errorf("inbox: queueing channel syncs: %w", err)
			}
		}
		return nil
	})
}

// syncable lists the active channels whose connector offers Sync.
func (s *Service) syncable(ctx context.Context) ([]*ent.Channel, error) {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.sync"))
	channels, err := s.Store.Ent.Channel.Query().Where(entchannel.StatusEQ(entchannel.StatusActive)).All(pctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: listing channels to sync: %w", err)
	}
	offers := map[string]bool{}
	var out []*ent.Channel
	for _, ch := range channels {
		ok, seen := offers[ch.Connector]
		if !seen {
			ok = s.offersSync(ctx, ch.Connector)
			offers[ch.Connector] = ok
		}
		if ok {
			out = append(out, ch)
		}
	}
	return out, nil
}

// markNeedsReconnect records that the platform refused the channel's
// token: a member must connect it again.
func (s *Service) markNeedsReconnect(ctx context.Context, ch *ent.Channel, reason string) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).
			SetLastError(reason).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: marking channel for reconnection: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(ch.WorkspaceID), ObjectID: string(ch.ID), ChannelID: string(ch.ID)})
		return nil
	})
}

// MarkNeedsReconnect is markNeedsReconnect for the webhook path.
func (s *Service) MarkNeedsReconnect(ctx context.Context, ch *ent.Channel, reason string) error {
	return s.markNeedsReconnect(ctx, ch, reason)
}

// FetchNotified reads the items a platform notification named (Google's
// Pub/Sub names a review) with Sync{Only}, in batches of MaxNotifyItems,
// and returns their events for the caller to ingest in the delivery's
// transaction. Errors are the connector's (retryable: answer 503 so the
// platform delivers again). ctx must carry a viewer of the channel's
// workspace.
func (s *Service) FetchNotified(ctx context.Context, ch *ent.Channel, items []string) ([]*sdk.Event, error) {
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "channel credentials unavailable: " + err.Error()}
	}
	var out []*sdk.Event
	for batch := range slices.Chunk(items, MaxNotifyItems) {
		res, err := conn.Sync(ctx, &sdk.SyncRequest{App: s.Channels.AppFor(ch), Credentials: creds,
			AccountID: ch.ExternalID, Only: batch})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Events...)
	}
	return out, nil
}

// ingestNotify handles a notification that names no item (or that no one
// fetched): the channel gets a sync pass soon, queued once however many
// such notifications come.
func (s *Service) ingestNotify(ctx context.Context, tx *store.Tx, ch *ent.Channel, _ *sdk.Notification, res *IngestResult) error {
	if err := tx.InsertJob(ctx, jobargs.ChannelSyncChannel{WorkspaceID: string(ch.WorkspaceID), ChannelID: string(ch.ID)}, nil); err != nil {
		return fmt.Errorf("inbox: queueing a sync for a notification: %w", err)
	}
	res.Ignored++
	return nil
}
