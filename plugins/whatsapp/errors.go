package whatsapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Graph and Cloud API error codes the connector acts on. Codes not listed
// here are classified by HTTP status, and are permanent when that says
// nothing more.
const codeReEngagement = 131047 // outside the 24 h customer service window

// windowCodes need a template: free-form messages cannot succeed until the
// customer writes again.
var windowCodes = map[int]bool{codeReEngagement: true}

// retryableCodes are rate limits and temporary platform failures.
var retryableCodes = map[int]bool{
	1:      true, // API unknown: possibly a server error
	2:      true, // API service: temporary
	4:      true, // application request limit
	17:     true, // user request limit
	341:    true, // application limit
	613:    true, // calls rate limit
	80007:  true, // WABA rate limit
	130429: true, // throughput
	131000: true, // something went wrong
	131016: true, // service unavailable
	131048: true, // spam rate limit
	131056: true, // pair rate limit
	133004: true, // server temporarily unavailable
}

// authCodes mean the token is invalid, expired or lacks a permission:
// reconnecting the channel is the fix.
var authCodes = map[int]bool{
	0:      true, // AuthException
	3:      true, // capability
	10:     true, // permission denied
	102:    true, // session key invalid
	190:    true, // access token expired or invalid
	2500:   true, // no active access token
	131005: true, // access denied
}

func isAuthCode(code int) bool {
	return authCodes[code] || (code >= 200 && code <= 299) // 2xx: permission errors
}

// classOfCode classifies a Cloud API error code, ok false when the code says
// nothing by itself.
func classOfCode(code int) (sdk.ErrorClass, bool) {
	switch {
	case windowCodes[code]:
		return sdk.ClassWindowClosed, true
	case retryableCodes[code]:
		return sdk.ClassRetryable, true
	case isAuthCode(code):
		return sdk.ClassAuthRevoked, true
	}
	return "", false
}

// graphError is the error body of every Graph and Cloud API call.
type graphError struct {
	Message      string     `json:"message"`
	Type         string     `json:"type"`
	Code         flexString `json:"code"`
	ErrorSubcode flexString `json:"error_subcode"`
	IsTransient  bool       `json:"is_transient"`
	ErrorData    struct {
		Details string `json:"details"`
	} `json:"error_data"`
	FBTraceID string `json:"fbtrace_id"`
}

// classifyResponse turns a non-2xx answer into a classified error. The code
// in the body wins over the HTTP status because the Cloud API answers most
// failures, rate limits included, with 400.
func classifyResponse(status int, h http.Header, body []byte, now time.Time) *sdk.Error {
	var env struct {
		Error *graphError `json:"error"`
	}
	var ge *graphError
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		ge = env.Error
	}

	var e sdk.Error
	code, hasCode := -1, false
	if ge != nil && ge.Code != "" {
		if n, err := strconv.Atoi(string(ge.Code)); err == nil {
			code, hasCode = n, true
			e.Code = string(ge.Code)
		}
	}
	class, known := sdk.ErrorClass(""), false
	if hasCode {
		class, known = classOfCode(code)
	}
	if !known {
		switch {
		case ge != nil && ge.IsTransient:
			class = sdk.ClassRetryable
		case status == http.StatusUnauthorized:
			class = sdk.ClassAuthRevoked
		case status == http.StatusTooManyRequests || status >= 500:
			class = sdk.ClassRetryable
		default:
			class = sdk.ClassPermanent
		}
	}
	e.Class = class

	if ge != nil {
		e.Message = joinNonEmpty(": ", ge.Message, ge.ErrorData.Details)
		if ge.ErrorSubcode != "" {
			e.Message += " (subcode " + string(ge.ErrorSubcode) + ")"
		}
		if ge.FBTraceID != "" {
			e.Message += " (fbtrace_id " + ge.FBTraceID + ")"
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d: %s", status, snippet(body))
	} else {
		e.Message = fmt.Sprintf("HTTP %d: %s", status, e.Message)
	}
	if class == sdk.ClassRetryable {
		e.RetryAfter = retryAfter(h, now)
	}
	return &e
}

// retryAfter reads Retry-After (seconds or an HTTP date) and, failing that,
// the estimated_time_to_regain_access minutes of Meta's usage headers.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d := sdk.ParseRetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	var longest time.Duration
	for _, name := range []string{"X-Business-Use-Case-Usage", "X-App-Usage"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		var usage map[string][]struct {
			ETA flexString `json:"estimated_time_to_regain_access"`
		}
		if json.Unmarshal([]byte(v), &usage) != nil {
			continue
		}
		for _, entries := range usage {
			for _, u := range entries {
				if m, err := strconv.Atoi(string(u.ETA)); err == nil && m > 0 {
					longest = max(longest, time.Duration(m)*time.Minute)
				}
			}
		}
	}
	return longest
}

// statusError classifies the errors[] of a failed status or message.
func statusError(errs []apiError) *sdk.Error {
	if len(errs) == 0 {
		return sdk.NewError(sdk.ClassPermanent, "", "message failed without error details")
	}
	ae := errs[0]
	e := &sdk.Error{Class: sdk.ClassPermanent, Code: string(ae.Code)}
	if n, err := strconv.Atoi(string(ae.Code)); err == nil {
		if class, ok := classOfCode(n); ok {
			e.Class = class
		}
	}
	title := ae.Title
	if title == "" {
		title = ae.Message
	}
	e.Message = joinNonEmpty(": ", title, ae.ErrorData.Details)
	if e.Message == "" {
		e.Message = "message failed"
	}
	return e
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// snippet keeps error messages short when a proxy answers with a page.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = truncate(s, 200) + "…"
	}
	if s == "" {
		return "empty body"
	}
	return s
}
