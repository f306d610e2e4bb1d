package tiktok

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

	"github.com/neksio/neksio/plugins/sdk"
)

// maxResponseBytes bounds what is read from an answer: TikTok answers
// with small JSON objects, and a runaway body must not exhaust memory.
const maxResponseBytes = 1 << 20

// response is one raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the answer. Transport failures and timeouts are
// retryable: the call may succeed later.
func (c *connector) do(req *http.Request, what string) (*response, error) {
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		// The URL is left out: it may carry ids the logs do not need.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, sdk.NewError(sdk.ClassRetryable, "", "%s: %v", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "%s: read response: %v", what, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

func jsonBody(v any) (io.Reader, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "encode request: %v", err)
	}
	return bytes.NewReader(b), nil
}

// openError is the error object of every TikTok API v2 answer; code "ok"
// means success.
type openError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	LogID   string `json:"log_id"`
}

// openCall performs one call to the TikTok API (content posting, user
// info) with the user's bearer token. out receives the answer's data.
func (c *connector) openCall(ctx context.Context, app sdk.App, token, method, path string, query url.Values, body, out any) error {
	if token == "" {
		return sdk.NewError(sdk.ClassAuthRevoked, "", "no access token: reconnect the channel")
	}
	u := apiBase(app) + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	rd, err := jsonBody(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	what := method + " " + path
	resp, err := c.do(req, what)
	if err != nil {
		return err
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *openError      `json:"error"`
	}
	decodeErr := json.Unmarshal(resp.body, &env)
	if env.Error != nil && env.Error.Code != "" && env.Error.Code != "ok" {
		return c.classifyOpen(resp, env.Error)
	}
	if resp.status < 200 || resp.status > 299 {
		return c.classifyOpen(resp, &openError{})
	}
	if decodeErr != nil {
		// A 2xx we cannot read may have taken effect: say so instead of
		// retrying blindly.
		return sdk.NewError(sdk.ClassPermanent, "", "%s: unreadable response: %v", what, decodeErr)
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "%s: unreadable response data: %v", what, err)
	}
	return nil
}

// TikTok API v2 error codes the classification relies on.
var openCodeClass = map[string]sdk.ErrorClass{
	"access_token_invalid":                               sdk.ClassAuthRevoked,
	"scope_not_authorized":                               sdk.ClassAuthRevoked,
	"rate_limit_exceeded":                                sdk.ClassRetryable,
	"internal_error":                                     sdk.ClassRetryable,
	"scope_permission_missed":                            sdk.ClassPermanent,
	"invalid_params":                                     sdk.ClassPermanent,
	"spam_risk_too_many_posts":                           sdk.ClassPermanent,
	"spam_risk_too_many_pending_share":                   sdk.ClassPermanent,
	"spam_risk_user_banned_from_posting":                 sdk.ClassPermanent,
	"reached_active_user_cap":                            sdk.ClassPermanent,
	"unaudited_client_can_only_post_to_private_accounts": sdk.ClassPermanent,
	"url_ownership_unverified":                           sdk.ClassPermanent,
	"privacy_level_option_mismatch":                      sdk.ClassPermanent,
	"invalid_publish_id":                                 sdk.ClassPermanent,
	"token_not_authorized_for_specified_publish_id":      sdk.ClassPermanent,
}

// openCodeHint says what to do about codes whose message alone does not.
var openCodeHint = map[string]string{
	"access_token_invalid":                               "the access token is invalid or expired: reconnect the channel",
	"scope_not_authorized":                               "the account did not grant the scope this call needs: reconnect the channel",
	"scope_permission_missed":                            "the app is not approved for the scope this call needs",
	"rate_limit_exceeded":                                "rate limited",
	"spam_risk_too_many_posts":                           "the account posted too many times through the API in the last 24 hours",
	"reached_active_user_cap":                            "the app reached its daily cap of posting creators",
	"unaudited_client_can_only_post_to_private_accounts": "the app is unaudited: TikTok only accepts SELF_ONLY posts until it passes the audit",
	"url_ownership_unverified":                           "the video URL's domain is not verified for the app in the TikTok developer portal",
	"privacy_level_option_mismatch":                      "the privacy level is not among the account's creator_info options",
}

func (c *connector) classifyOpen(resp *response, oe *openError) *sdk.Error {
	class, known := openCodeClass[oe.Code]
	if !known {
		class = classOfStatus(resp.status)
	}
	msg := oe.Message
	if hint := openCodeHint[oe.Code]; hint != "" {
		msg = joinNonEmpty(": ", hint, msg)
	}
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", resp.status)
	}
	if oe.LogID != "" {
		msg += " (log_id " + oe.LogID + ")"
	}
	e := &sdk.Error{Class: class, Code: oe.Code, Message: msg}
	if class == sdk.ClassRetryable {
		e.RetryAfter = sdk.ParseRetryAfter(resp.header.Get("Retry-After"), c.now())
	}
	return e
}

// classOfStatus classifies an answer by its HTTP status alone.
func classOfStatus(status int) sdk.ErrorClass {
	switch {
	case status == http.StatusUnauthorized:
		return sdk.ClassAuthRevoked
	case status == http.StatusTooManyRequests || status >= 500:
		return sdk.ClassRetryable
	default:
		return sdk.ClassPermanent
	}
}

// businessCode reads the Business API's code, documented as a number and
// sent as a string by some proxies.
type businessCode int

func (b *businessCode) UnmarshalJSON(raw []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if s == "" || s == "null" {
		*b = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("business API code %q is not a number", s)
	}
	*b = businessCode(n)
	return nil
}

// Business API codes the classification relies on (third-party
// documentation; docs/tiktok.md).
const (
	bizNoPermission    = 40001
	bizMessageBlocked  = 40064 // outside the reply window or over its cap
	bizRateLimited     = 40100
	bizTokenEmpty      = 40104
	bizTokenInvalid    = 40105
	bizSystemErrorBase = 50000 // 5xxxx: temporary platform errors
)

// businessCall performs one Business API call with the Access-Token
// header. GET parameters go in query, POST bodies as JSON; out receives
// the envelope's data.
func (c *connector) businessCall(ctx context.Context, app sdk.App, token, method, path string, query url.Values, body, out any) error {
	if token == "" {
		return sdk.NewError(sdk.ClassAuthRevoked, "", "no access token: reconnect the channel")
	}
	u := businessBase(app) + "/" + strings.TrimLeft(path, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	rd, err := jsonBody(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	req.Header.Set("Access-Token", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	what := method + " " + path
	resp, err := c.do(req, what)
	if err != nil {
		return err
	}
	var env struct {
		Code      businessCode    `json:"code"`
		Message   string          `json:"message"`
		RequestID string          `json:"request_id"`
		Data      json.RawMessage `json:"data"`
	}
	decodeErr := json.Unmarshal(resp.body, &env)
	if resp.status < 200 || resp.status > 299 || decodeErr == nil && env.Code != 0 {
		return c.classifyBusiness(resp, int(env.Code), env.Message, env.RequestID)
	}
	if decodeErr != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "%s: unreadable response: %v", what, decodeErr)
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "%s: unreadable response data: %v", what, err)
	}
	return nil
}

func (c *connector) classifyBusiness(resp *response, code int, message, requestID string) *sdk.Error {
	var class sdk.ErrorClass
	hint := ""
	switch {
	case code == bizMessageBlocked:
		class = sdk.ClassWindowClosed
		hint = "TikTok refused the message: more than 48 hours since the customer's last message, or the cap of messages in that window reached"
	case code == bizRateLimited:
		class = sdk.ClassRetryable
		hint = "rate limited"
	case code == bizTokenEmpty || code == bizTokenInvalid:
		class = sdk.ClassAuthRevoked
		hint = "the access token is invalid or expired: reconnect the channel"
	case code == bizNoPermission:
		class = sdk.ClassPermanent
		hint = "no permission: the account did not grant this scope or is not eligible"
	case code >= bizSystemErrorBase:
		class = sdk.ClassRetryable
		hint = "temporary platform error"
	case code != 0:
		class = sdk.ClassPermanent
		if resp.status == http.StatusTooManyRequests || resp.status >= 500 {
			class = sdk.ClassRetryable
		}
	default:
		class = classOfStatus(resp.status)
	}
	msg := joinNonEmpty(": ", hint, message)
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", resp.status)
	}
	if requestID != "" {
		msg += " (request_id " + requestID + ")"
	}
	e := &sdk.Error{Class: class, Message: msg}
	if code != 0 {
		e.Code = strconv.Itoa(code)
	}
	if class == sdk.ClassRetryable {
		e.RetryAfter = sdk.ParseRetryAfter(resp.header.Get("Retry-After"), c.now())
	}
	return e
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
