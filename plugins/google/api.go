package google

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/neksio/neksio/plugins/sdk"
)

// maxResponseBytes bounds what is read from one answer: a page of 50
// reviews is well under it, and a runaway body must not exhaust memory.
const maxResponseBytes = 4 << 20

// defaultRateLimitWait is the wait reported for a 429 that names none:
// Google's quota is counted per minute.
const defaultRateLimitWait = time.Minute

// expiryMargin refreshes an access token this long before it expires, so
// it does not expire in flight.
const expiryMargin = 30 * time.Second

// googleError is the error object of every failed Google API call.
type googleError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		RetryDelay string `json:"retryDelay"`
		Reason     string `json:"reason"`
	} `json:"details"`
}

// classify maps a failed API call to the host's error classes.
func classify(what string, status int, h http.Header, raw []byte, now time.Time) *sdk.Error {
	var env struct {
		Error *googleError `json:"error"`
	}
	_ = json.Unmarshal(raw, &env)
	ge := env.Error
	if ge == nil {
		ge = &googleError{}
	}
	retryAfter := sdk.ParseRetryAfter(h.Get("Retry-After"), now)
	for _, d := range ge.Details {
		if retryAfter == 0 && strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			if delay, err := time.ParseDuration(d.RetryDelay); err == nil && delay > 0 {
				retryAfter = min(delay, 24*time.Hour)
			}
		}
	}
	code := cmp.Or(ge.Status, strconv.Itoa(status))
	msg := cmp.Or(ge.Message, fmt.Sprintf("HTTP %d %s", status, http.StatusText(status)))
	mk := func(class sdk.ErrorClass, format string, args ...any) *sdk.Error {
		e := sdk.NewError(class, code, "%s: "+format, append([]any{what}, args...)...)
		if class == sdk.ClassRetryable {
			e.RetryAfter = retryAfter
		}
		return e
	}
	switch {
	case status == http.StatusUnauthorized || ge.Status == "UNAUTHENTICATED":
		return mk(sdk.ClassAuthRevoked, "Google refused the access token: reconnect the channel: %s", msg)
	case status == http.StatusTooManyRequests || ge.Status == "RESOURCE_EXHAUSTED":
		e := mk(sdk.ClassRetryable, "rate limited (Google allows 300 requests a minute per project): %s", msg)
		e.RetryAfter = cmp.Or(e.RetryAfter, defaultRateLimitWait)
		return e
	case status >= 500 || ge.Status == "UNAVAILABLE" || ge.Status == "INTERNAL" ||
		ge.Status == "DEADLINE_EXCEEDED" || ge.Status == "ABORTED":
		return mk(sdk.ClassRetryable, "temporary Google error: %s", msg)
	case status == http.StatusNotFound:
		return mk(sdk.ClassPermanent, "not found: %s", msg)
	case status == http.StatusForbidden:
		return mk(sdk.ClassPermanent, "permission denied (is the location managed by this Google account, and the API enabled?): %s", msg)
	default:
		return mk(sdk.ClassPermanent, "%s", msg)
	}
}

func isNotFound(err error) bool {
	var e *sdk.Error
	return errors.As(err, &e) && e.Class == sdk.ClassPermanent && (e.Code == "NOT_FOUND" || e.Code == "404")
}

// oauthConfig is the OAuth client of the app, for consent URLs, code
// exchanges and refreshes.
func oauthConfig(app sdk.App, redirectURI string, scopes []string) *oauth2.Config {
	e := endpointsFor(app)
	return &oauth2.Config{
		ClientID:     app.ClientID,
		ClientSecret: app.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: e.auth, TokenURL: e.token, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  redirectURI,
		Scopes:       scopes,
	}
}

// oauthContext makes golang.org/x/oauth2 use the connector's client.
func (c *connector) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.client)
}

// classifyOAuth maps a token endpoint failure. invalid_grant means the
// grant is gone when refreshing (reconnect), or the code is bad when
// exchanging (start over): grantGone says which.
func classifyOAuth(what string, err error, grantGone bool, now time.Time) *sdk.Error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return sdk.NewError(sdk.ClassRetryable, "", "%s: %v", what, err)
		}
		return sdk.NewError(sdk.ClassRetryable, "", "%s: %v", what, unwrapURLError(err))
	}
	status := 0
	var h http.Header
	if re.Response != nil {
		status, h = re.Response.StatusCode, re.Response.Header
	}
	code := cmp.Or(re.ErrorCode, strconv.Itoa(status))
	desc := cmp.Or(re.ErrorDescription, re.ErrorCode, http.StatusText(status))
	switch {
	case re.ErrorCode == "invalid_grant" && grantGone:
		return sdk.NewError(sdk.ClassAuthRevoked, code, "%s: Google refused the refresh token (revoked, expired, or access removed): reconnect the channel: %s", what, desc)
	case status == http.StatusTooManyRequests:
		e := sdk.NewError(sdk.ClassRetryable, code, "%s: rate limited: %s", what, desc)
		e.RetryAfter = cmp.Or(sdk.ParseRetryAfter(h.Get("Retry-After"), now), defaultRateLimitWait)
		return e
	case status >= 500:
		e := sdk.NewError(sdk.ClassRetryable, code, "%s: temporary Google error: %s", what, desc)
		e.RetryAfter = sdk.ParseRetryAfter(h.Get("Retry-After"), now)
		return e
	case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
		return sdk.NewError(sdk.ClassPermanent, code, "%s: Google does not accept the OAuth client: check NEKSIO_GOOGLE_CLIENT_ID and NEKSIO_GOOGLE_CLIENT_SECRET: %s", what, desc)
	default:
		return sdk.NewError(sdk.ClassPermanent, code, "%s: %s", what, desc)
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// bearer returns an access token for one call. An expired token is
// refreshed for the call when the channel has a refresh token: the host's
// refresh job stores new tokens, this only spares a call that races it.
func (c *connector) bearer(ctx context.Context, app sdk.App, creds sdk.Credentials) (string, error) {
	fresh := creds.ExpiresAt.IsZero() || c.now().Before(creds.ExpiresAt.Add(-expiryMargin))
	if creds.AccessToken != "" && (fresh || creds.RefreshToken == "" || app.ClientID == "") {
		return creds.AccessToken, nil
	}
	if creds.RefreshToken == "" {
		return "", sdk.NewError(sdk.ClassAuthRevoked, "", "no access token: reconnect the channel")
	}
	if app.ClientID == "" {
		return "", sdk.NewError(sdk.ClassPermanent, "", "the access token expired and no OAuth client id is configured to refresh it (NEKSIO_GOOGLE_CLIENT_ID)")
	}
	tok, err := c.refresh(ctx, app, creds.RefreshToken)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func (c *connector) refresh(ctx context.Context, app sdk.App, refreshToken string) (*oauth2.Token, error) {
	// An expired token makes the source refresh at once.
	src := oauthConfig(app, "", nil).TokenSource(c.oauthContext(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		return nil, classifyOAuth("refresh token", err, true, c.now())
	}
	if tok.AccessToken == "" {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "refresh token: Google answered without an access token")
	}
	return tok, nil
}

// call performs one Business Profile API call. body, when non-nil, is
// sent as JSON; out receives the decoded 2xx answer.
func (c *connector) call(ctx context.Context, app sdk.App, creds sdk.Credentials, what, method, u string, body, out any) error {
	token, err := c.bearer(ctx, app, creds)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return sdk.NewError(sdk.ClassPermanent, "", "%s: encode request: %v", what, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "%s: build request: %v", what, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// Network failures and timeouts may succeed later.
		return sdk.NewError(sdk.ClassRetryable, "", "%s: %v", what, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return sdk.NewError(sdk.ClassRetryable, "", "%s: read response: %v", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return classify(what, resp.StatusCode, resp.Header, raw, c.now())
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx we cannot read: the call may have taken effect, so a
		// blind retry could repeat it.
		return sdk.NewError(sdk.ClassPermanent, "", "%s: unreadable response: %v", what, err)
	}
	return nil
}

// Resource names. Ids are checked so a name can go into a URL path as
// is (its slashes are the path's) and never walk elsewhere.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// locationName is "accounts/{a}/locations/{l}".
type locationName struct{ account, location string }

func (l locationName) String() string { return "accounts/" + l.account + "/locations/" + l.location }

func parseLocation(s string) (locationName, error) {
	p := strings.Split(strings.TrimSpace(s), "/")
	if len(p) != 4 || p[0] != "accounts" || p[2] != "locations" || !idPattern.MatchString(p[1]) || !idPattern.MatchString(p[3]) {
		return locationName{}, sdk.NewError(sdk.ClassPermanent, "", "%q is not a location name: want accounts/{account}/locations/{location}", s)
	}
	return locationName{p[1], p[3]}, nil
}

// parseChild splits "accounts/{a}/locations/{l}/{collection}/{id}".
func parseChild(s, collection string) (locationName, string, bool) {
	p := strings.Split(strings.TrimSpace(s), "/")
	if len(p) != 6 || p[4] != collection || !idPattern.MatchString(p[5]) {
		return locationName{}, "", false
	}
	loc, err := parseLocation(strings.Join(p[:4], "/"))
	if err != nil {
		return locationName{}, "", false
	}
	return loc, p[5], true
}

// parseReview checks a review name, and that it belongs to account when
// one is given.
func parseReview(s, account string) (string, error) {
	loc, _, ok := parseChild(s, "reviews")
	if !ok {
		return "", sdk.NewError(sdk.ClassPermanent, "", "%q is not a review name: want accounts/{a}/locations/{l}/reviews/{r}", s)
	}
	if account != "" {
		want, err := parseLocation(account)
		if err != nil {
			return "", err
		}
		if want != loc {
			return "", sdk.NewError(sdk.ClassPermanent, "", "review %s is not of location %s", s, want)
		}
	}
	return strings.TrimSpace(s), nil
}
