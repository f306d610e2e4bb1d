package connector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/neksio/neksio/plugins/sdk"
)

// unmetered are the calls that never reach the platform's API (a webhook
// is verified and parsed locally; a consent URL is built, not fetched):
// they do not count against a connector's request quota.
var unmetered = map[string]bool{
	"Describe":           true,
	"VerifySubscription": true,
	"HandleWebhook":      true,
	"AuthorizeURL":       true,
}

// newLimiters spaces each quota's calls evenly: perMinute/60 a second with
// no burst, so no minute ever sees more than the quota (plus one).
func newLimiters(perMinute map[string]int) map[string]*rate.Limiter {
	out := map[string]*rate.Limiter{}
	for name, n := range perMinute {
		if n > 0 {
			out[quotaKey(name)] = rate.NewLimiter(rate.Limit(float64(n)/60), 1)
		}
	}
	return out
}

// SettingName spells a connector's name as its settings do, lower-cased:
// "my_relay" for "my-relay", whose settings are NEKSIO_MY_RELAY_* (its app
// settings, NEKSIO_MY_RELAY_REQUESTS_PER_MINUTE).
func SettingName(name string) string { return strings.ToLower(strings.ReplaceAll(name, "-", "_")) }

func quotaKey(name string) string { return SettingName(name) }

// wait holds a call to connector name until its quota allows it. It waits
// rather than fails, but never past ctx: a call that could not start
// before its deadline fails retryable at once, with the wait as
// RetryAfter, so the job layer tries again when the quota allows.
func (m *Manager) wait(ctx context.Context, name, method string) error {
	lim := m.limiters[quotaKey(name)]
	if lim == nil || unmetered[method] {
		return nil
	}
	r := lim.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		r.Cancel()
		return &sdk.Error{Class: sdk.ClassRetryable, RetryAfter: d,
			Message: fmt.Sprintf("connector %s: %s must wait %s for the request quota, longer than the call may take", name, method, d.Round(time.Millisecond))}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return &sdk.Error{Class: sdk.ClassRetryable, RetryAfter: d,
			Message: fmt.Sprintf("connector %s: %s cancelled while waiting for the request quota: %v", name, method, ctx.Err())}
	}
}

// PlatformRules returns a copy of the rules connector name states for
// platform in Describe, or nil when it states none (a plugin older than
// protocol 1.1, an unknown connector or platform): the host then applies
// only its own limits.
func (m *Manager) PlatformRules(name, platform string) *sdk.PlatformRules {
	in, err := m.Info(name)
	if err != nil {
		return nil
	}
	d := sdk.Description{Rules: in.Rules}
	r := d.RulesFor(platform)
	if r == nil {
		return nil
	}
	cp := *r
	return &cp
}

// HasCapability reports whether connector name offers c, as its last
// Describe said.
func (m *Manager) HasCapability(name string, c sdk.Capability) bool {
	in, err := m.Info(name)
	return err == nil && slices.Contains(in.Capabilities, c)
}
