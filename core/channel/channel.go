// Package channel connects and disconnects channels: the accounts a
// workspace links on a platform. Credentials are validated through the
// channel's connector when the platform allows it, sealed with the master
// key (bound to the channel's ID) and never returned. Disconnecting revokes
// the token at the platform where the connector can, then wipes it.
package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// Gateway gives access to connectors by name (core/connector's Manager).
type Gateway interface {
	Get(name string) (sdk.Connector, error)
}

// Service manages channels.
type Service struct {
	Store   *store.Store
	Box     *secret.Box
	Gateway Gateway
	// Apps returns a connector's app-level settings (from configuration).
	Apps func(connector string) sdk.App
	Log  *slog.Logger

	// routes is Route's cache, made on first use (see routeCacheOf).
	routes *routeCache
}

// ConnectInput is what connectChannel takes.
type ConnectInput struct {
	Connector   string
	ExternalID  string
	Name        string
	Platform    string
	Credentials map[string]any
	AppSecret   string
	VerifyToken string
	// Creds, when set, are the credentials (an OAuth grant's account, see
	// core/onboarding) and Credentials is not read.
	Creds *sdk.Credentials
	// Authorization names the OAuth authorization the credentials come
	// from, for the audit log.
	Authorization string
}

// Connect links an account to the viewer's workspace.
func (s *Service) Connect(ctx context.Context, in ConnectInput) (*ent.Channel, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	in.Connector = strings.TrimSpace(in.Connector)
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Name = strings.TrimSpace(in.Name)
	if in.ExternalID == "" || len(in.ExternalID) > 200 {
		return nil, apperr.Invalid("externalId", "externalId is required (at most 200 characters)")
	}
	if in.Name == "" || len(in.Name) > 200 {
		return nil, apperr.Invalid("name", "name is required (at most 200 characters)")
	}
	var creds sdk.Credentials
	if in.Creds != nil {
		creds = *in.Creds
	} else if creds, err = ParseCredentials(in.Credentials); err != nil {
		return nil, err
	}
	conn, err := s.Gateway.Get(in.Connector)
	if err != nil {
		return nil, apperr.Invalid("connector", "unknown connector %q", in.Connector)
	}
	desc, err := conn.Describe(ctx)
	if err != nil {
		return nil, apperr.Unavailable(err, "connector %s unavailable", in.Connector)
	}
	platform := in.Platform
	if platform != "" && !slices.Contains(desc.Platforms, platform) {
		return nil, apperr.Invalid("platform", "connector %s serves %v, not %q", in.Connector, desc.Platforms, platform)
	}
	app := s.app(in.Connector)
	if in.AppSecret != "" {
		app.ClientSecret = in.AppSecret
	}
	if in.VerifyToken != "" {
		app.VerifyToken = in.VerifyToken
	}
	if slices.Contains(desc.Capabilities, sdk.CapValidate) {
		info, err := conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: app, Credentials: creds, AccountID: in.ExternalID})
		if err != nil {
			switch sdk.ClassOf(err) {
			case sdk.ClassRetryable:
				return nil, apperr.Unavailable(err, "could not reach the platform to validate the credentials; try again")
			case sdk.ClassUnsupported:
			default:
				return nil, apperr.Invalid("credentials", "the platform rejected the credentials: %v", err)
			}
		} else {
			if platform == "" {
				platform = info.Platform
			}
			if creds.ExpiresAt.IsZero() && !info.ExpiresAt.IsZero() {
				creds.ExpiresAt = info.ExpiresAt
			}
			if len(creds.Scopes) == 0 {
				creds.Scopes = info.Scopes
			}
		}
	}
	if platform == "" && len(desc.Platforms) > 0 {
		platform = desc.Platforms[0]
	}
	subscribed, err := s.subscribe(ctx, conn, desc, app, creds, in.ExternalID, platform)
	if err != nil {
		return nil, err
	}

	var out *ent.Channel
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// An account belongs to one workspace at a time: webhooks are
		// routed by it.
		pctx := tenant.NewContext(ctx, tenant.PlatformViewer("channel.connect"))
		taken, err := tx.Ent.Channel.Query().Where(
			entchannel.Connector(in.Connector), entchannel.ExternalID(in.ExternalID),
			entchannel.StatusNEQ(entchannel.StatusDisconnected),
			entchannel.WorkspaceIDNEQ(pulid.ID(v.WorkspaceID)),
		).Exist(pctx)
		if err != nil {
			return err
		}
		if taken {
			return apperr.New(apperr.CodeConflict, "this account is connected to another workspace")
		}
		existing, err := tx.Ent.Channel.Query().Where(
			entchannel.Connector(in.Connector), entchannel.ExternalID(in.ExternalID)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		id := pulid.New("ch")
		if existing != nil {
			id = existing.ID
		}
		sealedCreds, sealedSecret, sealedToken, err := s.seal(id, creds, in.AppSecret, in.VerifyToken)
		if err != nil {
			return err
		}
		var expires *time.Time
		if !creds.ExpiresAt.IsZero() {
			expires = &creds.ExpiresAt
		}
		if existing != nil {
			out, err = existing.Update().
				SetName(in.Name).
				SetStatus(entchannel.StatusActive).
				SetCredentials(sealedCreds).
				SetAppSecret(sealedSecret).
				SetVerifyToken(sealedToken).
				SetNillableTokenExpiresAt(expires).
				SetTokenScopes(creds.Scopes).
				ClearDisconnectedAt().
				ClearLastError().
				Save(ctx)
		} else {
			out, err = tx.Ent.Channel.Create().
				SetID(id).
				SetConnector(in.Connector).
				SetPlatform(platform).
				SetExternalID(in.ExternalID).
				SetName(in.Name).
				SetCredentials(sealedCreds).
				SetAppSecret(sealedSecret).
				SetVerifyToken(sealedToken).
				SetNillableTokenExpiresAt(expires).
				SetTokenScopes(creds.Scopes).
				Save(ctx)
		}
		if ent.IsConstraintError(err) {
			// Lost a race with another connect of the same account.
			return apperr.New(apperr.CodeConflict, "this account is already connected")
		}
		if err != nil {
			return fmt.Errorf("channel: saving: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(out.ID), ChannelID: string(out.ID)})
		if slices.Contains(desc.Capabilities, sdk.CapSync) {
			// What the platform does not push is pulled now (a new
			// channel's first pass is its backfill), not at the next
			// periodic pass.
			if err := tx.InsertJob(ctx, jobargs.ChannelSyncChannel{WorkspaceID: v.WorkspaceID, ChannelID: string(out.ID)}, nil); err != nil {
				return err
			}
		}
		meta := map[string]string{"connector": in.Connector, "external_id": in.ExternalID, "platform": platform}
		if subscribed {
			meta["webhooks"] = "subscribed"
		}
		if in.Authorization != "" {
			meta["authorization"] = in.Authorization
		}
		return audit.Record(ctx, tx.Ent, "channel.connect", "Channel", string(out.ID), meta)
	})
	return out, err
}

// subscribe subscribes the app to the account's webhooks where the
// connector does that (Meta's subscribed_apps): without it the platform
// sends the account's messages nowhere. It runs before anything is
// stored, so a refusal connects nothing; a subscription left behind by a
// connect that fails later is harmless (the account is not routed).
func (s *Service) subscribe(ctx context.Context, conn sdk.Connector, desc *sdk.Description, app sdk.App, creds sdk.Credentials, account, platform string) (bool, error) {
	sub, ok := conn.(sdk.WebhookSubscriber)
	if !ok || !slices.Contains(desc.Capabilities, sdk.CapSubscribe) {
		return false, nil
	}
	c := creds
	c.Extra = maps.Clone(creds.Extra)
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
	// Connectors serving several platforms tell them apart by this.
	c.Extra["platform"] = platform
	err := sub.SubscribeWebhooks(ctx, &sdk.CredentialsRequest{App: app, Credentials: c, AccountID: account})
	switch sdk.ClassOf(err) {
	case "":
		return true, nil
	case sdk.ClassUnsupported:
		return false, nil
	case sdk.ClassRetryable:
		return false, apperr.Unavailable(err, "could not reach the platform to subscribe the account to webhooks; try again")
	}
	return false, apperr.Invalid("credentials", "the platform refused to subscribe the account to webhooks: %v", err)
}

// Disconnect revokes a channel's token at the platform (where the
// connector supports it) and wipes its secrets. History stays.
func (s *Service) Disconnect(ctx context.Context, id pulid.ID) (*ent.Channel, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	ch, err := s.Store.Ent.Channel.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("channel")
	}
	if err != nil {
		return nil, err
	}
	revoke := "not attempted"
	if ch.Status != entchannel.StatusDisconnected && len(ch.Credentials) > 0 {
		revoke = s.revoke(ctx, ch)
	}
	var out *ent.Channel
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		out, err = tx.Ent.Channel.UpdateOneID(id).
			SetStatus(entchannel.StatusDisconnected).
			SetDisconnectedAt(time.Now()).
			ClearCredentials().
			ClearAppSecret().
			ClearVerifyToken().
			ClearTokenExpiresAt().
			Save(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("channel")
		}
		if err != nil {
			return fmt.Errorf("channel: disconnecting: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(id), ChannelID: string(id)})
		return audit.Record(ctx, tx.Ent, "channel.disconnect", "Channel", string(id), map[string]string{"revoke": revoke})
	})
	return out, err
}

// revoke asks the platform to invalidate the token and says how it went.
func (s *Service) revoke(ctx context.Context, ch *ent.Channel) string {
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return "connector unavailable"
	}
	creds, err := s.Credentials(ch)
	if err != nil {
		return "credentials unreadable"
	}
	err = conn.Revoke(ctx, &sdk.CredentialsRequest{App: s.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID})
	switch {
	case err == nil:
		return "revoked"
	case sdk.ClassOf(err) == sdk.ClassUnsupported:
		return "unsupported by platform"
	default:
		s.logger().Warn("token revocation failed", "channel", ch.ID, "connector", ch.Connector, "class", sdk.ClassOf(err))
		return "failed: " + string(sdk.ClassOf(err))
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) app(connector string) sdk.App {
	if s.Apps == nil {
		return sdk.App{}
	}
	return s.Apps(connector)
}

// AppFor returns the app settings for calls on ch: the global ones, with
// the channel's own app secret and verify token when it brought its app.
func (s *Service) AppFor(ch *ent.Channel) sdk.App {
	app := s.app(ch.Connector)
	if len(ch.AppSecret) > 0 {
		if b, err := s.Box.Open(ch.AppSecret, aad(ch.ID, "app_secret")); err == nil {
			app.ClientSecret = string(b)
		}
	}
	if len(ch.VerifyToken) > 0 {
		if b, err := s.Box.Open(ch.VerifyToken, aad(ch.ID, "verify_token")); err == nil {
			app.VerifyToken = string(b)
		}
	}
	return app
}

// Credentials opens a channel's sealed credentials.
func (s *Service) Credentials(ch *ent.Channel) (sdk.Credentials, error) {
	var c sdk.Credentials
	if len(ch.Credentials) == 0 {
		return c, apperr.New(apperr.CodeConflict, "channel %s has no credentials (disconnected?)", ch.ID)
	}
	b, err := s.Box.Open(ch.Credentials, aad(ch.ID, "credentials"))
	if err != nil {
		return c, fmt.Errorf("channel %s: %w", ch.ID, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("channel %s: credentials: %w", ch.ID, err)
	}
	return c, nil
}

// SealCredentials seals new credentials for ch (after a refresh).
func (s *Service) SealCredentials(id pulid.ID, c sdk.Credentials) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return s.Box.Seal(b, aad(id, "credentials"))
}

func (s *Service) seal(id pulid.ID, c sdk.Credentials, appSecret, verifyToken string) (creds, sec, tok []byte, err error) {
	if creds, err = s.SealCredentials(id, c); err != nil {
		return nil, nil, nil, err
	}
	if appSecret != "" {
		if sec, err = s.Box.Seal([]byte(appSecret), aad(id, "app_secret")); err != nil {
			return nil, nil, nil, err
		}
	}
	if verifyToken != "" {
		if tok, err = s.Box.Seal([]byte(verifyToken), aad(id, "verify_token")); err != nil {
			return nil, nil, nil, err
		}
	}
	return creds, sec, tok, nil
}

// aad binds a ciphertext to its row and column.
func aad(id pulid.ID, column string) []byte { return []byte(string(id) + "/" + column) }

// ParseCredentials turns the GraphQL credentials map into sdk.Credentials:
// accessToken, refreshToken, expiresAt (RFC 3339) and scopes have fields,
// any other string goes to Extra.
func ParseCredentials(m map[string]any) (sdk.Credentials, error) {
	var c sdk.Credentials
	for k, raw := range m {
		switch k {
		case "scopes":
			list, ok := raw.([]any)
			if !ok {
				return c, apperr.Invalid("credentials", "credentials.scopes must be a list of strings")
			}
			for _, s := range list {
				str, ok := s.(string)
				if !ok {
					return c, apperr.Invalid("credentials", "credentials.scopes must be a list of strings")
				}
				c.Scopes = append(c.Scopes, str)
			}
			continue
		}
		str, ok := raw.(string)
		if !ok {
			return c, apperr.Invalid("credentials", "credentials.%s must be a string", k)
		}
		switch k {
		case "accessToken":
			c.AccessToken = str
		case "refreshToken":
			c.RefreshToken = str
		case "expiresAt":
			t, err := time.Parse(time.RFC3339, str)
			if err != nil {
				return c, apperr.Invalid("credentials", "credentials.expiresAt must be RFC 3339")
			}
			c.ExpiresAt = t
		default:
			if c.Extra == nil {
				c.Extra = map[string]string{}
			}
			c.Extra[k] = str
		}
	}
	if c.AccessToken == "" {
		return c, apperr.Invalid("credentials", "credentials.accessToken is required")
	}
	return c, nil
}

// ErrNoChannel is returned when no active channel owns an account.
var ErrNoChannel = errors.New("no channel owns this account")

// Route finds the active channel that owns an account on a connector. It
// looks across workspaces by design: the account says which one.
//
// Answers are cached for RouteTTL (see routeCache): a webhook delivery
// then costs no statement to route. A channel change committed by this
// process (connect, update, disconnect, a status or token change: every
// change that emits channel.updated, and token refreshes) empties the
// cache at once; one committed by another replica is seen within
// RouteTTL. "No channel" is never cached, so a channel just connected
// receives its first delivery.
func (s *Service) Route(ctx context.Context, connector, externalID string) (*ent.Channel, error) {
	routes := s.routeCacheOf()
	key := connector + "\x00" + externalID
	if ch := routes.get(key); ch != nil {
		return ch, nil
	}
	gen := routes.generation()
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("webhook.route"))
	ch, err := s.Store.Ent.Channel.Query().Where(
		entchannel.Connector(connector), entchannel.ExternalID(externalID),
		entchannel.StatusNEQ(entchannel.StatusDisconnected),
	).First(pctx)
	if ent.IsNotFound(err) {
		return nil, ErrNoChannel
	}
	if err != nil {
		return nil, err
	}
	routes.put(key, ch, gen)
	return ch, nil
}

// ForgetRoutes empties Route's cache.
func (s *Service) ForgetRoutes() { s.routeCacheOf().forget() }

// routesMu guards making a Service's route cache.
var routesMu sync.Mutex

// routeCacheOf returns s's route cache, making it (and registering what
// empties it) on first use.
func (s *Service) routeCacheOf() *routeCache {
	routesMu.Lock()
	defer routesMu.Unlock()
	if s.routes == nil {
		c := &routeCache{}
		s.Store.OnCommitted(func(events []event.Event) {
			for _, ev := range events {
				if ev.Type == event.ChannelUpdated {
					c.forget()
					return
				}
			}
		})
		s.routes = c
	}
	return s.routes
}

// Update is what updateChannel may change.
type Update struct {
	Name   *string
	AIMode *entchannel.AiMode
}

// Update renames a channel or changes its AI mode.
func (s *Service) Update(ctx context.Context, id pulid.ID, in Update) (*ent.Channel, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if in.Name != nil && (strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 200) {
		return nil, apperr.Invalid("name", "name is 1 to 200 characters")
	}
	if in.AIMode != nil {
		if err := entchannel.AiModeValidator(*in.AIMode); err != nil {
			return nil, apperr.Invalid("aiMode", "unknown AI mode %q", *in.AIMode)
		}
	}
	var out *ent.Channel
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		u := tx.Ent.Channel.UpdateOneID(id)
		if in.Name != nil {
			u.SetName(strings.TrimSpace(*in.Name))
		}
		if in.AIMode != nil {
			u.SetAiMode(*in.AIMode)
		}
		out, err = u.Save(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("channel")
		}
		if err != nil {
			return fmt.Errorf("channel: updating: %w", err)
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(id), ChannelID: string(id)})
		meta := map[string]string{}
		if in.AIMode != nil {
			meta["ai_mode"] = string(*in.AIMode)
		}
		return audit.Record(ctx, tx.Ent, "channel.update", "Channel", string(id), meta)
	})
	return out, err
}
