package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Throttle bounds sign-in and invite-acceptance attempts per email and per
// client IP, so passwords cannot be guessed at speed and the expensive
// password hash cannot be used to load the server. Every attempt counts,
// successful or not. The limiters live in bounded LRU maps: an attacker
// cycling through addresses evicts old entries rather than growing
// memory (and gets a fresh bucket, which the per-email limit still caps).
type Throttle struct {
	// PerEmail and PerIP are the refill rates, EmailBurst and IPBurst the
	// bucket sizes. Zero values take the defaults below.
	PerEmail   rate.Limit
	EmailBurst int
	PerIP      rate.Limit
	IPBurst    int

	once    sync.Once
	byEmail *lru.Cache[string, *rate.Limiter]
	byIP    *lru.Cache[string, *rate.Limiter]
	mu      sync.Mutex
}

// Defaults: 10 attempts per email, then one a minute; 30 per address,
// then one every two seconds (offices share addresses).
const (
	defaultEmailBurst = 10
	defaultIPBurst    = 30
)

var (
	defaultPerEmail = rate.Every(time.Minute)
	defaultPerIP    = rate.Every(2 * time.Second)
)

func (t *Throttle) init() {
	t.once.Do(func() {
		if t.PerEmail == 0 {
			t.PerEmail = defaultPerEmail
		}
		if t.EmailBurst == 0 {
			t.EmailBurst = defaultEmailBurst
		}
		if t.PerIP == 0 {
			t.PerIP = defaultPerIP
		}
		if t.IPBurst == 0 {
			t.IPBurst = defaultIPBurst
		}
		t.byEmail, _ = lru.New[string, *rate.Limiter](100000)
		t.byIP, _ = lru.New[string, *rate.Limiter](100000)
	})
}

func (t *Throttle) limiter(c *lru.Cache[string, *rate.Limiter], key string, r rate.Limit, burst int) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := c.Get(key)
	if !ok {
		l = rate.NewLimiter(r, burst)
		c.Add(key, l)
	}
	return l
}

// Allow takes one attempt for email (may be empty) from ip (may be
// empty). It reports false when either is over its limit; then neither is
// charged.
func (t *Throttle) Allow(email, ip string) bool {
	t.init()
	now := time.Now()
	var rs []*rate.Reservation
	if ip != "" {
		rs = append(rs, t.limiter(t.byIP, ip, t.PerIP, t.IPBurst).ReserveN(now, 1))
	}
	if email = strings.ToLower(strings.TrimSpace(email)); email != "" {
		rs = append(rs, t.limiter(t.byEmail, email, t.PerEmail, t.EmailBurst).ReserveN(now, 1))
	}
	for _, r := range rs {
		if !r.OK() || r.DelayFrom(now) > 0 {
			for _, r := range rs {
				r.CancelAt(now)
			}
			return false
		}
	}
	return true
}

// Client is who is on the other end of a request, for throttling and the
// session's record. The HTTP server puts it in the request's context.
type Client struct {
	IP        string
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the client of ctx (zero when unknown).
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
