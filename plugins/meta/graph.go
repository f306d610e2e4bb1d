package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// DefaultAPIBaseURL is the Graph API version the connector was written
// against; App.APIBaseURL overrides it (emulators, a newer version).
const DefaultAPIBaseURL = "https://graph.facebook.com/v21.0"

// maxResponseBytes bounds what is read from a Graph response: answers here
// are small JSON objects, and a runaway body must not exhaust memory.
const maxResponseBytes = 1 << 20

// graphError is the error object of every failed Graph call.
type graphError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode"`
	IsTransient  bool   `json:"is_transient"`
	UserTitle    string `json:"error_user_title"`
	UserMsg      string `json:"error_user_msg"`
	FBTraceID    string `json:"fbtrace_id"`
}

func baseURL(app sdk.App) string {
	if app.APIBaseURL != "" {
		return strings.TrimRight(app.APIBaseURL, "/")
	}
	return DefaultAPIBaseURL
}

// graph performs one Graph call. body, when non-nil, is sent as JSON; the
// token goes in the Authorization header so it never lands in URLs or
// access logs. out receives the decoded 2xx answer.
func (c *connector) graph(ctx context.Context, app sdk.App, token, method, path string, query url.Values, body, out any) error {
	if token == "" {
		return sdk.NewError(sdk.ClassAuthRevoked, "", "no access token: reconnect the channel")
	}
	u := baseURL(app) + "/" + strings.TrimLeft(path, "/")
	if app.ClientSecret != "" {
		// appsecret_proof proves the call comes from the app's server;
		// apps with "Require App Secret" on refuse calls without it.
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("appsecret_proof", sdk.HMACSHA256Hex([]byte(app.ClientSecret), []byte(token)))
		query = q
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return sdk.NewError(sdk.ClassPermanent, "", "encode request: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// Network failures and timeouts may succeed later. The URL is
		// left out: it carries ids the logs do not need twice.
		return &sdk.Error{Class: sdk.ClassRetryable, Message: fmt.Sprintf("%s %s: %v", method, path, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return sdk.NewError(sdk.ClassRetryable, "", "%s %s: read response: %v", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var env struct {
			Error *graphError `json:"error"`
		}
		_ = json.Unmarshal(raw, &env)
		return classify(resp.StatusCode, resp.Header, env.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx we cannot read: the call may have taken effect, so a
		// retry could duplicate it; say so instead of retrying blindly.
		return sdk.NewError(sdk.ClassPermanent, "", "%s %s: unreadable response: %v", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Graph error codes the classification relies on.
const (
	codeAPIUnknown       = 1
	codeAPIService       = 2
	codeTooManyCalls     = 4
	codeRequestLimit     = 9
	codePermission       = 10
	codeAppRateLimit     = 17
	codePageRateLimit    = 32
	codeSessionInvalid   = 102
	codeInvalidParam     = 100
	codeOAuth            = 190
	codeSessionExpired   = 463
	codeInvalidToken     = 467
	codeUserUnavailable  = 551
	codeCallsExceeded    = 613
	codeAlreadyReplied   = 10900
	codeReplyNotAllowed  = 10903
	subcodeOutsideWindow = 2018278
	subcodeIGOutside     = 2534022
	subcodeAlreadyReply  = 2018324
	subcodePublishLimit  = 2207042
)

// classify maps a failed Graph call to the host's error classes. Subcodes
// are checked before codes because Meta reuses broad codes (10, 100) for
// very different situations.
func classify(status int, h http.Header, ge *graphError) *sdk.Error {
	retryAfter := sdk.ParseRetryAfter(h.Get("Retry-After"), time.Now())
	if ge == nil {
		ge = &graphError{Message: http.StatusText(status)}
	}
	code := ""
	if ge.Code != 0 {
		code = strconv.Itoa(ge.Code)
		if ge.ErrorSubcode != 0 {
			code += "/" + strconv.Itoa(ge.ErrorSubcode)
		}
	}
	msg := ge.Message
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", status)
	}
	if ge.FBTraceID != "" {
		msg += " (fbtrace_id " + ge.FBTraceID + ")"
	}
	mk := func(class sdk.ErrorClass, format string, args ...any) *sdk.Error {
		e := sdk.NewError(class, code, format, args...)
		if class == sdk.ClassRetryable {
			e.RetryAfter = retryAfter
		}
		return e
	}
	switch {
	case ge.ErrorSubcode == subcodeOutsideWindow || ge.ErrorSubcode == subcodeIGOutside:
		return mk(sdk.ClassWindowClosed, "outside the messaging window: only a HUMAN_AGENT message (within 7 days) may be sent: %s", msg)
	case ge.Code == codeAlreadyReplied || ge.ErrorSubcode == subcodeAlreadyReply:
		return mk(sdk.ClassPermanent, "this comment already has a private reply (one per comment): %s", msg)
	case ge.Code == codeReplyNotAllowed:
		return mk(sdk.ClassPermanent, "this comment can no longer get a private reply (7 days) or never could: %s", msg)
	case ge.Code == codeRequestLimit && ge.ErrorSubcode == subcodePublishLimit:
		return mk(sdk.ClassPermanent, "the account reached Instagram's publishing limit (about 50 posts per 24 h): %s", msg)
	case ge.Code == codeUserUnavailable:
		return mk(sdk.ClassPermanent, "this person is not available to receive messages: %s", msg)
	case ge.Code == codeOAuth || ge.Code == codeSessionInvalid || ge.Code == codeSessionExpired ||
		ge.Code == codeInvalidToken || status == http.StatusUnauthorized:
		return mk(sdk.ClassAuthRevoked, "the access token is invalid or revoked: reconnect the channel: %s", msg)
	case ge.Code == codeTooManyCalls || ge.Code == codeAppRateLimit || ge.Code == codePageRateLimit ||
		ge.Code == codeCallsExceeded || ge.Code == codeRequestLimit || ge.Code >= 80001 && ge.Code <= 80009 ||
		status == http.StatusTooManyRequests:
		return mk(sdk.ClassRetryable, "rate limited: %s", msg)
	case ge.IsTransient || ge.Code == codeAPIUnknown || ge.Code == codeAPIService || status >= 500:
		return mk(sdk.ClassRetryable, "temporary platform error: %s", msg)
	case ge.Code == codePermission || ge.Code >= 200 && ge.Code <= 299:
		return mk(sdk.ClassPermanent, "permission denied: %s", msg)
	default:
		// 100 (invalid parameter) and every other 4xx: the same request
		// will fail the same way.
		return mk(sdk.ClassPermanent, "%s", msg)
	}
}
