package channel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// RefreshResult counts what a refresh pass did.
type RefreshResult struct {
	Refreshed, Unsupported, Failed, Revoked int
	// Skipped counts channels another replica refreshed (or that changed)
	// between the listing and their turn.
	Skipped int
}

// RefreshDue refreshes the tokens of active channels that expire within
// the next window, through their connectors. New credentials replace the
// old ones (refresh tokens may rotate: the newest is always kept); a
// platform that says the grant is gone marks the channel NEEDS_RECONNECT;
// a transient failure is left for the next pass.
//
// Each channel is refreshed under a lock held across the connector call
// (see refreshOne), so two replicas never spend the same refresh token,
// and the new credentials are committed with the refresh's audit record:
// a crash before the commit leaves the old credentials stored, never a
// half-recorded rotation.
func (s *Service) RefreshDue(ctx context.Context, window time.Duration) (RefreshResult, error) {
	var res RefreshResult
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.refresh"))
	due, err := s.Store.Ent.Channel.Query().Where(
		entchannel.StatusEQ(entchannel.StatusActive),
		entchannel.TokenExpiresAtNotNil(),
		entchannel.TokenExpiresAtLT(time.Now().Add(window)),
	).All(pctx)
	if err != nil {
		return res, fmt.Errorf("channel: listing tokens to refresh: %w", err)
	}
	for _, listed := range due {
		wctx := tenant.NewContext(ctx, tenant.System(string(listed.WorkspaceID), "channel.refresh"))
		ch, err := s.refreshOne(wctx, listed.ID, window)
		switch sdk.ClassOf(err) {
		case "":
			if ch == nil {
				res.Skipped++
			} else {
				res.Refreshed++
			}
		case sdk.ClassUnsupported:
			res.Unsupported++
		case sdk.ClassAuthRevoked, sdk.ClassPermanent:
			res.Revoked++
			if merr := s.markNeedsReconnect(wctx, listed, err); merr != nil {
				return res, merr
			}
		default:
			res.Failed++
			s.logger().Warn("token refresh failed; will retry", "channel", listed.ID, "connector", listed.Connector,
				"class", sdk.ClassOf(err), "err", err)
		}
	}
	return res, nil
}

// sqliteRefresh serialises refreshes on SQLite. A SQLite database belongs
// to one process, so a process-wide lock does what the row lock does on
// PostgreSQL, and the database's only connection stays free during the
// platform call (a transaction held across it would stall every request).
var sqliteRefresh sync.Mutex

// refreshOne refreshes channel id's token if it is still due once the
// channel is locked, and answers the channel refreshed (nil: nothing was
// due any more). On PostgreSQL the channel's row is locked (SELECT … FOR
// UPDATE) in the transaction that stores the result, held across the
// connector call: a second replica waits for it, then reads the new
// expiry and skips. On SQLite sqliteRefresh does the same.
func (s *Service) refreshOne(ctx context.Context, id pulid.ID, window time.Duration) (*ent.Channel, error) {
	var out *ent.Channel
	if s.Store.Dialect == dialect.Postgres {
		err := s.Store.InTx(ctx, func(tx *store.Tx) error {
			ch, err := tx.Ent.Channel.Query().Where(entchannel.ID(id)).ForUpdate().Only(ctx)
			if err != nil {
				return fmt.Errorf("channel: locking for refresh: %w", err)
			}
			out, err = s.refreshLocked(ctx, ch, window, func(store func(*store.Tx) error) error { return store(tx) })
			return err
		})
		return out, err
	}
	sqliteRefresh.Lock()
	defer sqliteRefresh.Unlock()
	ch, err := s.Store.Ent.Channel.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("channel: reading for refresh: %w", err)
	}
	return s.refreshLocked(ctx, ch, window, func(store func(*store.Tx) error) error { return s.Store.InTx(ctx, store) })
}

// refreshLocked refreshes ch, read under the refresh lock, and stores the
// new credentials with the refresh's audit record through inTx. The
// connector's answer is stored before anything else can fail: a rotating
// platform (TikTok) may already have retired the refresh token sent.
func (s *Service) refreshLocked(ctx context.Context, ch *ent.Channel, window time.Duration, inTx func(func(*store.Tx) error) error) (*ent.Channel, error) {
	if ch.Status != entchannel.StatusActive || ch.TokenExpiresAt == nil || !ch.TokenExpiresAt.Before(time.Now().Add(window)) {
		return nil, nil // refreshed by another replica, or reconnected, meanwhile
	}
	creds, err := s.Credentials(ch)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "credentials unreadable"}
	}
	if creds.RefreshToken == "" {
		return nil, &sdk.Error{Class: sdk.ClassUnsupported, Message: "no refresh token"}
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
	}
	next, err := conn.RefreshCredentials(ctx, &sdk.CredentialsRequest{App: s.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID})
	if err != nil {
		return nil, err
	}
	if next.AccessToken == "" {
		return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "the connector returned no access token"}
	}
	if next.RefreshToken == "" {
		next.RefreshToken = creds.RefreshToken
	}
	if len(next.Scopes) == 0 {
		next.Scopes = creds.Scopes
	}
	sealed, err := s.SealCredentials(ch.ID, *next)
	if err != nil {
		return nil, fmt.Errorf("channel: sealing refreshed credentials: %w", err)
	}
	err = inTx(func(tx *store.Tx) error {
		u := tx.Ent.Channel.UpdateOneID(ch.ID).SetCredentials(sealed).SetTokenScopes(next.Scopes).ClearLastError()
		if next.ExpiresAt.IsZero() {
			u.ClearTokenExpiresAt()
		} else {
			u.SetTokenExpiresAt(next.ExpiresAt)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("channel: storing refreshed credentials: %w", err)
		}
		meta := map[string]string{}
		if next.RefreshToken != creds.RefreshToken {
			meta["refresh_token"] = "rotated"
		}
		return audit.Record(ctx, tx.Ent, "channel.token_refresh", "Channel", string(ch.ID), meta)
	})
	if err != nil {
		s.logger().Error("token refreshed at the platform but not stored: the next pass retries with the stored refresh token",
			"channel", ch.ID, "connector", ch.Connector, "rotated", next.RefreshToken != creds.RefreshToken, "err", err)
		return nil, err
	}
	s.ForgetRoutes() // routed channels carry the credentials
	return ch, nil
}

func (s *Service) markNeedsReconnect(ctx context.Context, ch *ent.Channel, cause error) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).
			SetLastError("token refresh refused, reconnect the channel: " + cause.Error()).Exec(ctx); err != nil {
			return fmt.Errorf("channel: marking for reconnection: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(ch.WorkspaceID), ObjectID: string(ch.ID), ChannelID: string(ch.ID)})
		return audit.Record(ctx, tx.Ent, "channel.token_refresh_failed", "Channel", string(ch.ID),
			map[string]string{"class": string(sdk.ClassOf(cause))})
	})
}
