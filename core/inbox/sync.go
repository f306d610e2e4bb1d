package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// MaxSyncPages bounds one channel's sync pass; the cursor carries on.
const MaxSyncPages = 20

// SyncChannel pulls what the platform does not push (reviews, comment
// lists) for one channel, a page at a time. Each page is stored with the
// cursor that follows it in one transaction, so a crash resumes where the
// last stored page ended and a repeated page is a no-op (unique keys).
// ctx must carry a viewer of the channel's workspace.
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
	var since time.Time
	if ch.SyncedAt != nil {
		since = *ch.SyncedAt
	}
	for page := 0; page < MaxSyncPages; page++ {
		started := s.now()
		res, err := conn.Sync(ctx, &sdk.SyncRequest{App: s.Channels.AppFor(ch), Credentials: creds,
			AccountID: ch.ExternalID, Cursor: cursor, Since: since})
		if err != nil {
			return total, err
		}
		err = s.Store.InTx(ctx, func(tx *store.Tx) error {
			r, err := s.Ingest(ctx, tx, ch, res.Events)
			if err != nil {
				return err
			}
			total.Add(r)
			u := tx.Ent.Channel.UpdateOneID(ch.ID).SetSyncCursor(res.NextCursor)
			if !res.More {
				u.SetSyncedAt(started)
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

// SyncAll runs SyncChannel for every active channel whose connector offers
// Sync. A channel's failure is logged and does not stop the others; auth
// failures mark the channel for reconnection.
func (s *Service) SyncAll(ctx context.Context) error {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.sync"))
	channels, err := s.Store.Ent.Channel.Query().Where(entchannel.StatusEQ(entchannel.StatusActive)).All(pctx)
	if err != nil {
		return fmt.Errorf("inbox: listing channels to sync: %w", err)
	}
	offers := map[string]bool{}
	var errs []error
	for _, ch := range channels {
		ok, seen := offers[ch.Connector]
		if !seen {
			ok = s.offersSync(ctx, ch.Connector)
			offers[ch.Connector] = ok
		}
		if !ok {
			continue
		}
		if err := s.syncOne(ctx, ch); err != nil {
			errs = append(errs, fmt.Errorf("channel %s: %w", ch.ID, err))
		}
	}
	return errors.Join(errs...)
}

// SyncOne runs SyncChannel for one channel, if it is active and its
// connector offers Sync (the first pass after connecting it).
func (s *Service) SyncOne(ctx context.Context, id pulid.ID) error {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.sync"))
	ch, err := s.Store.Ent.Channel.Get(pctx, id)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: loading channel to sync: %w", err)
	}
	if ch.Status != entchannel.StatusActive || !s.offersSync(ctx, ch.Connector) {
		return nil
	}
	return s.syncOne(ctx, ch)
}

func (s *Service) offersSync(ctx context.Context, connector string) bool {
	conn, err := s.Gateway.Get(connector)
	if err != nil {
		return false
	}
	d, err := conn.Describe(ctx)
	return err == nil && slices.Contains(d.Capabilities, sdk.CapSync)
}

// syncOne syncs ch; a refused grant marks it for reconnection instead of
// failing.
func (s *Service) syncOne(ctx context.Context, ch *ent.Channel) error {
	wctx := tenant.NewContext(ctx, tenant.System(string(ch.WorkspaceID), "channel.sync"))
	_, err := s.SyncChannel(wctx, ch)
	if sdk.ClassOf(err) == sdk.ClassAuthRevoked {
		_ = s.Store.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).
			SetLastError("sync refused, reconnect the channel: " + err.Error()).Exec(wctx)
		return nil
	}
	return err
}
