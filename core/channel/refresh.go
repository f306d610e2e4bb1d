package channel

import (
	"context"
	"fmt"
	"time"

	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/plugins/sdk"
)

// RefreshResult counts what a refresh pass did.
type RefreshResult struct {
	Refreshed, Unsupported, Failed, Revoked int
}

// RefreshDue refreshes the tokens of active channels that expire within
// the next window, through their connectors. New credentials replace the
// old ones (refresh tokens may rotate: the newest is always kept); a
// platform that says the grant is gone marks the channel NEEDS_RECONNECT;
// a transient failure is left for the next pass.
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
	for _, ch := range due {
		wctx := tenant.NewContext(ctx, tenant.System(string(ch.WorkspaceID), "channel.refresh"))
		switch err := s.refresh(wctx, ch); sdk.ClassOf(err) {
		case "":
			res.Refreshed++
		case sdk.ClassUnsupported:
			res.Unsupported++
		case sdk.ClassAuthRevoked, sdk.ClassPermanent:
			res.Revoked++
			if merr := s.markNeedsReconnect(wctx, ch, err); merr != nil {
				return res, merr
			}
		default:
			res.Failed++
			s.logger().Warn("token refresh failed; will retry", "channel", ch.ID, "connector", ch.Connector, "class", sdk.ClassOf(err))
		}
	}
	return res, nil
}

func (s *Service) refresh(ctx context.Context, ch *ent.Channel) error {
	creds, err := s.Credentials(ch)
	if err != nil {
		return &sdk.Error{Class: sdk.ClassPermanent, Message: "credentials unreadable"}
	}
	if creds.RefreshToken == "" {
		return &sdk.Error{Class: sdk.ClassUnsupported, Message: "no refresh token"}
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
	}
	next, err := conn.RefreshCredentials(ctx, &sdk.CredentialsRequest{App: s.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID})
	if err != nil {
		return err
	}
	if next.AccessToken == "" {
		return &sdk.Error{Class: sdk.ClassRetryable, Message: "the connector returned no access token"}
	}
	if next.RefreshToken == "" {
		next.RefreshToken = creds.RefreshToken
	}
	if len(next.Scopes) == 0 {
		next.Scopes = creds.Scopes
	}
	sealed, err := s.SealCredentials(ch.ID, *next)
	if err != nil {
		return fmt.Errorf("channel: sealing refreshed credentials: %w", err)
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		u := tx.Ent.Channel.UpdateOneID(ch.ID).SetCredentials(sealed).SetTokenScopes(next.Scopes).ClearLastError()
		if next.ExpiresAt.IsZero() {
			u.ClearTokenExpiresAt()
		} else {
			u.SetTokenExpiresAt(next.ExpiresAt)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("channel: storing refreshed credentials: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "channel.token_refresh", "Channel", string(ch.ID), nil)
	})
}

func (s *Service) markNeedsReconnect(ctx context.Context, ch *ent.Channel, cause error) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).
			SetLastError("token refresh refused: " + cause.Error()).Exec(ctx); err != nil {
			return fmt.Errorf("channel: marking for reconnection: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(ch.WorkspaceID), ObjectID: string(ch.ID), ChannelID: string(ch.ID)})
		return audit.Record(ctx, tx.Ent, "channel.token_refresh_failed", "Channel", string(ch.ID),
			map[string]string{"class": string(sdk.ClassOf(cause))})
	})
}
