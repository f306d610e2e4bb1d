// Package onboarding connects channels through the platforms' OAuth
// consent instead of pasted tokens. An admin starts an authorization
// (startChannelAuthorization) and sends the browser to the consent URL it
// answers; the platform redirects back to /oauth/{connector}/callback with
// a code and the state; the callback exchanges the code through the
// connector and keeps the grant, sealed, for an hour; the admin lists the
// accounts it opens (channelAuthorization) and connects them
// (connectChannel with authorizationId). No token is ever shown.
//
// The state parameter is the CSRF guard: a random nonce and its HMAC
// under a key derived from the master key, so a forged state is refused
// before anything is looked up. Only the nonce's hash is stored, with the
// workspace, the member who started it, the connector and an expiry of 10
// minutes; a guarded update lets exactly one callback use it. What the
// callback obtains belongs to the member and workspace that started it:
// nobody else can read or connect it, so a code injected into someone
// else's browser connects nothing there.
package onboarding

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/channelauthorization"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/plugins/sdk"
)

// Lifetimes.
const (
	// StateTTL is how long the platform's redirect may take: the person
	// has this long to consent.
	StateTTL = 10 * time.Minute
	// GrantTTL is how long a grant is kept to connect its accounts.
	GrantTTL = time.Hour
)

// StateKeyPurpose names the key, derived from the master key, that signs
// states.
const StateKeyPurpose = "oauth state signing"

// Service runs authorizations.
type Service struct {
	Store    *store.Store
	Box      *secret.Box
	Channels *channel.Service
	Gateway  channel.Gateway
	// Apps returns a connector's app-level settings.
	Apps func(connector string) sdk.App
	// PublicURL is the server's public base (NEKSIO_PUBLIC_URL): redirect
	// URIs are PublicURL + /oauth/{connector}/callback.
	PublicURL string
	// StateKey signs states (derived from the master key).
	StateKey []byte
	Now      func() time.Time
	Log      *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
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

// RedirectURI is where the platform sends the browser back for connector.
func (s *Service) RedirectURI(connector string) string {
	return strings.TrimSuffix(s.PublicURL, "/") + "/oauth/" + url.PathEscape(connector) + "/callback"
}

// nonceBytes is the state's entropy.
const nonceBytes = 32

// newState returns a signed state and the hash of its nonce.
func (s *Service) newState() (state, hash string, err error) {
	nonce := make([]byte, nonceBytes)
	if _, err := rand.Read(nonce); err != nil {
		return "", "", fmt.Errorf("onboarding: state: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(nonce) + "." + enc.EncodeToString(s.mac(nonce)), hashNonce(nonce), nil
}

func (s *Service) mac(nonce []byte) []byte {
	m := hmac.New(sha256.New, s.StateKey)
	m.Write([]byte("neksio oauth state v1\x00"))
	m.Write(nonce)
	return m.Sum(nil)
}

func hashNonce(nonce []byte) string {
	h := sha256.Sum256(nonce)
	return hex.EncodeToString(h[:])
}

// verifyState checks a state's signature and returns its nonce's hash.
func (s *Service) verifyState(state string) (string, bool) {
	n, m, ok := strings.Cut(state, ".")
	if !ok || len(state) > 200 {
		return "", false
	}
	nonce, err1 := base64.RawURLEncoding.DecodeString(n)
	sig, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || len(nonce) != nonceBytes || len(s.StateKey) == 0 {
		return "", false
	}
	if !hmac.Equal(sig, s.mac(nonce)) {
		return "", false
	}
	return hashNonce(nonce), true
}

// authorizer returns connector's Authorizer when it offers OAuth.
func (s *Service) authorizer(ctx context.Context, connector string) (sdk.Authorizer, *sdk.Description, error) {
	conn, err := s.Gateway.Get(connector)
	if err != nil {
		return nil, nil, apperr.Invalid("connector", "unknown connector %q", connector)
	}
	desc, err := conn.Describe(ctx)
	if err != nil {
		return nil, nil, apperr.Unavailable(err, "connector %s unavailable", connector)
	}
	az, ok := conn.(sdk.Authorizer)
	if !ok || !slices.Contains(desc.Capabilities, sdk.CapOAuth) {
		return nil, nil, apperr.Invalid("connector", "connector %s does not connect accounts with OAuth: connect with a token (connectChannel with credentials)", connector)
	}
	return az, desc, nil
}

// Start begins an authorization for connector and returns it with the
// platform's consent URL to send the person's browser to.
func (s *Service) Start(ctx context.Context, connector string) (*ent.ChannelAuthorization, string, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, "", err
	}
	connector = strings.TrimSpace(connector)
	az, _, err := s.authorizer(ctx, connector)
	if err != nil {
		return nil, "", err
	}
	state, hash, err := s.newState()
	if err != nil {
		return nil, "", err
	}
	redirect := s.RedirectURI(connector)
	resp, err := az.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: s.app(connector), RedirectURI: redirect, State: state})
	switch sdk.ClassOf(err) {
	case "":
	case sdk.ClassRetryable:
		return nil, "", apperr.Unavailable(err, "connector %s could not build the consent URL; try again", connector)
	default:
		// The app is not set up for OAuth (no client id, a bad auth URL).
		return nil, "", apperr.Invalid("connector", "connector %s cannot start an authorization: %v", connector, err)
	}
	now := s.now()
	var out *ent.ChannelAuthorization
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		out, err = tx.Ent.ChannelAuthorization.Create().
			SetConnector(connector).
			SetStateHash(hash).
			SetStateExpiresAt(now.Add(StateTTL)).
			SetRedirectURI(redirect).
			SetStartedBy(v.Actor()).
			SetExpiresAt(now.Add(GrantTTL)).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("onboarding: storing the authorization: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "channel.authorization.start", "ChannelAuthorization", string(out.ID),
			map[string]string{"connector": connector})
	})
	if err != nil {
		return nil, "", err
	}
	return out, resp.URL, nil
}

// CallbackError refuses a callback whose state cannot be trusted: nothing
// is exchanged or stored.
type CallbackError struct {
	// Code is a short reason: missing_state, invalid_state, wrong_connector,
	// expired_state, used_state.
	Code    string
	Message string
}

func (e *CallbackError) Error() string { return e.Message }

func refuse(code, format string, args ...any) *CallbackError {
	return &CallbackError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Callback handles the platform's redirect to
// /oauth/{connector}/callback. A state that is missing, forged, unknown,
// for another connector, expired or already used is refused with a
// *CallbackError and changes nothing. Otherwise the state is used up and
// the authorization answered: FAILED when the platform reports an error
// (the person declined) or the code exchange fails, GRANTED with the
// sealed grant and its accounts.
func (s *Service) Callback(ctx context.Context, connector string, q url.Values) (*ent.ChannelAuthorization, error) {
	state := q.Get("state")
	if state == "" {
		return nil, refuse("missing_state", "the platform's redirect carries no state: start the authorization again from Neksio")
	}
	hash, ok := s.verifyState(state)
	if !ok {
		// Forged or mangled: refused before any lookup.
		return nil, refuse("invalid_state", "the state of this redirect is not one Neksio issued")
	}
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("oauth.callback"))
	a, err := s.Store.Ent.ChannelAuthorization.Query().Where(channelauthorization.StateHash(hash)).Only(pctx)
	if ent.IsNotFound(err) {
		return nil, refuse("invalid_state", "this authorization is unknown (it expired and was removed): start again")
	}
	if err != nil {
		return nil, fmt.Errorf("onboarding: looking up the state: %w", err)
	}
	now := s.now()
	switch {
	case a.Connector != connector:
		return nil, refuse("wrong_connector", "this authorization was started for %s, not %s", a.Connector, connector)
	case a.StateUsedAt != nil || a.Status != channelauthorization.StatusPending:
		return nil, refuse("used_state", "this authorization was already answered: start again")
	case now.After(a.StateExpiresAt):
		return nil, refuse("expired_state", "this authorization expired (the consent must be given within %s): start again", StateTTL)
	}
	sys := tenant.NewContext(ctx, tenant.System(string(a.WorkspaceID), "oauth.callback"))
	// Use the state up before calling the platform: of two callbacks with
	// it, one gets here.
	n, err := s.Store.Ent.ChannelAuthorization.Update().
		Where(channelauthorization.ID(a.ID), channelauthorization.StateUsedAtIsNil(),
			channelauthorization.StatusEQ(channelauthorization.StatusPending)).
		SetStateUsedAt(now).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("onboarding: using the state: %w", err)
	}
	if n != 1 {
		return nil, refuse("used_state", "this authorization was already answered: start again")
	}
	log := s.logger().With("authorization", a.ID, "connector", connector)
	if e := q.Get("error"); e != "" && q.Get("code") == "" {
		// The person declined, or the platform refused the app: no
		// exchange. Platforms name the error in error and describe it in
		// error_description (Meta also in error_reason).
		msg := cmp.Or(q.Get("error_description"), q.Get("error_reason"), e)
		log.Info("oauth: the platform answered an error", "error", e)
		return s.fail(sys, a, truncate(e, 100), "the platform answered: "+truncate(msg, 500))
	}
	if q.Get("code") == "" {
		return s.fail(sys, a, "missing_code", "the platform's redirect carries neither a code nor an error")
	}
	conn, err := s.Gateway.Get(connector)
	if err != nil {
		return s.fail(sys, a, "unavailable", "connector "+connector+" is not running")
	}
	az, ok := conn.(sdk.Authorizer)
	if !ok {
		return s.fail(sys, a, "unsupported", "connector "+connector+" does not exchange codes")
	}
	grant, err := az.ExchangeCode(ctx, &sdk.ExchangeRequest{App: s.app(connector), RedirectURI: a.RedirectURI,
		Code: q.Get("code"), Query: q})
	if err != nil {
		log.Warn("oauth: code exchange failed", "class", sdk.ClassOf(err))
		code := "exchange_failed"
		var se *sdk.Error
		if errors.As(err, &se) && se.Code != "" {
			code = truncate(se.Code, 100)
		}
		msg := "the platform refused the code: " + truncate(sdkMessage(err), 500)
		if sdk.ClassOf(err) == sdk.ClassRetryable {
			msg = "the platform could not be reached to exchange the code (" + truncate(sdkMessage(err), 300) + "): start again"
		}
		return s.fail(sys, a, code, msg)
	}
	return s.grant(sys, a, grant)
}

func sdkMessage(err error) string {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// fail records a failed authorization. ctx is the workspace's system
// viewer.
func (s *Service) fail(ctx context.Context, a *ent.ChannelAuthorization, code, msg string) (*ent.ChannelAuthorization, error) {
	var out *ent.ChannelAuthorization
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Ent.ChannelAuthorization.UpdateOneID(a.ID).SetStatus(channelauthorization.StatusFailed).
			SetErrorCode(code).SetError(msg).Save(ctx)
		if err != nil {
			return fmt.Errorf("onboarding: recording the failure: %w", err)
		}
		return audit.RecordFor(ctx, tx.Ent, string(a.WorkspaceID), a.StartedBy, "channel.authorization.fail",
			"ChannelAuthorization", string(a.ID), map[string]string{"connector": a.Connector, "error": code})
	})
	return out, err
}

// grant seals the grant and lists its accounts. ctx is the workspace's
// system viewer.
func (s *Service) grant(ctx context.Context, a *ent.ChannelAuthorization, g *sdk.Grant) (*ent.ChannelAuthorization, error) {
	raw, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("onboarding: encoding the grant: %w", err)
	}
	sealed, err := s.Box.Seal(raw, aad(a.ID))
	if err != nil {
		return nil, err
	}
	accounts := make([]schematype.AuthorizedAccount, 0, len(g.Accounts))
	for _, acc := range g.Accounts {
		if acc.AccountID == "" {
			continue
		}
		accounts = append(accounts, schematype.AuthorizedAccount{ExternalID: acc.AccountID, Name: acc.Name, Platform: acc.Platform})
	}
	var out *ent.ChannelAuthorization
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		out, err = tx.Ent.ChannelAuthorization.UpdateOneID(a.ID).SetStatus(channelauthorization.StatusGranted).
			SetGrant(sealed).SetAccounts(accounts).Save(ctx)
		if err != nil {
			return fmt.Errorf("onboarding: recording the grant: %w", err)
		}
		return audit.RecordFor(ctx, tx.Ent, string(a.WorkspaceID), a.StartedBy, "channel.authorization.grant",
			"ChannelAuthorization", string(a.ID), map[string]string{"connector": a.Connector, "accounts": fmt.Sprint(len(accounts))})
	})
	return out, err
}

// aad binds a sealed grant to its authorization.
func aad(id pulid.ID) []byte { return []byte(string(id) + "/grant") }

// Get returns an authorization of the viewer: another member's, or
// another workspace's, is not found. Status is EXPIRED once it can no
// longer be used.
func (s *Service) Get(ctx context.Context, id pulid.ID) (*ent.ChannelAuthorization, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.Ent.ChannelAuthorization.Get(ctx, id)
	if ent.IsNotFound(err) || err == nil && a.StartedBy != v.Actor() {
		return nil, apperr.NotFound("authorization")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case a.Status == channelauthorization.StatusGranted && now.After(a.ExpiresAt),
		a.Status == channelauthorization.StatusPending && now.After(a.StateExpiresAt):
		a.Status = channelauthorization.StatusExpired
	}
	return a, nil
}

// ConnectInput is connectChannel with an authorizationId.
type ConnectInput struct {
	AuthorizationID pulid.ID
	ExternalID      string
	// Name defaults to the account's name on the platform.
	Name string
}

// Connect connects one account a grant opens, with that account's
// credentials (or the grant's, when they serve every account), exactly as
// connectChannel does with pasted ones.
func (s *Service) Connect(ctx context.Context, in ConnectInput) (*ent.Channel, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	a, err := s.Get(ctx, in.AuthorizationID)
	if err != nil {
		return nil, err
	}
	switch a.Status {
	case channelauthorization.StatusGranted:
	case channelauthorization.StatusExpired:
		return nil, apperr.Invalid("authorizationId", "the authorization expired: start a new one")
	case channelauthorization.StatusFailed:
		return nil, apperr.Invalid("authorizationId", "the authorization failed (%s): start a new one", a.Error)
	default:
		return nil, apperr.Invalid("authorizationId", "the authorization has not been granted yet")
	}
	raw, err := s.Box.Open(a.Grant, aad(a.ID))
	if err != nil {
		return nil, fmt.Errorf("onboarding: opening the grant of %s: %w", a.ID, err)
	}
	var g sdk.Grant
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("onboarding: reading the grant of %s: %w", a.ID, err)
	}
	ext := strings.TrimSpace(in.ExternalID)
	i := slices.IndexFunc(g.Accounts, func(acc sdk.GrantedAccount) bool { return acc.AccountID == ext })
	if i < 0 {
		return nil, apperr.Invalid("externalId", "the authorization does not open account %q (channelAuthorization lists those it does)", ext)
	}
	acc := g.Accounts[i]
	creds := g.Credentials
	if acc.Credentials != nil {
		creds = *acc.Credentials
	}
	// The account's details go with its credentials: connectors read
	// them back (an Instagram account's Page, a location's account).
	creds.Extra = maps.Clone(creds.Extra)
	for k, v := range acc.Extra {
		if creds.Extra == nil {
			creds.Extra = map[string]string{}
		}
		if _, set := creds.Extra[k]; !set {
			creds.Extra[k] = v
		}
	}
	name := cmp.Or(strings.TrimSpace(in.Name), acc.Name, acc.AccountID)
	if len(name) > 200 {
		name = truncate(name, 196)
	}
	return s.Channels.Connect(ctx, channel.ConnectInput{
		Connector:     a.Connector,
		ExternalID:    acc.AccountID,
		Name:          name,
		Platform:      acc.Platform,
		Creds:         &creds,
		Authorization: string(a.ID),
	})
}

// Prune deletes the authorizations, and so the grants, that expired. It
// runs periodically for every workspace.
func (s *Service) Prune(ctx context.Context) (int, error) {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("oauth.prune"))
	n, err := s.Store.Ent.ChannelAuthorization.Delete().Where(channelauthorization.ExpiresAtLT(s.now())).Exec(pctx)
	if err != nil {
		return 0, fmt.Errorf("onboarding: pruning authorizations: %w", err)
	}
	return n, nil
}
