package limits

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/realclientip/realclientip-go"
	"golang.org/x/time/rate"

	"github.com/neksio/neksio/core/auth"
)

// clientAddr says which client a request comes from: the peer address,
// or — when the peer is one of the trusted proxies — the rightmost address
// of X-Forwarded-For that is not a trusted proxy. With no trusted proxies
// (the default) X-Forwarded-For is ignored: anyone can write it.
type ClientAddr struct {
	trusted  []net.IPNet
	strategy realclientip.Strategy
}

// newClientAddr parses trusted proxy addresses and ranges ("10.0.0.0/8",
// "192.0.2.7", "::1").
func NewClientAddr(trustedProxies []string) (*ClientAddr, error) {
	c := &ClientAddr{}
	if len(trustedProxies) == 0 {
		return c, nil
	}
	list := make([]string, len(trustedProxies))
	for i, p := range trustedProxies {
		list[i] = strings.TrimSpace(p)
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(list...)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	strat, err := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", nets)
	if err != nil {
		return nil, err
	}
	c.trusted, c.strategy = nets, strat
	return c, nil
}

// key returns the client's address as a throttling key: an IPv4 address,
// or the /64 of an IPv6 one (a single host usually holds a whole /64).
func (c *ClientAddr) Key(r *http.Request) string {
	ip := realclientip.RemoteAddrStrategy{}.ClientIP(nil, r.RemoteAddr)
	if c.strategy != nil && ip != "" {
		if peer := net.ParseIP(ip); peer != nil && contains(c.trusted, peer) {
			if fwd := c.strategy.ClientIP(r.Header, r.RemoteAddr); fwd != "" {
				ip = fwd
			}
		}
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return r.RemoteAddr
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func contains(nets []net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// authThrottle limits failed authentications per client address: each
// address may fail Burst times, then once per 1/Rate; meanwhile its
// requests are refused before the key is looked up, so random keys cost
// no database read. Keys that authenticated recently (on this replica)
// are still looked up from a throttled address: a client sharing an
// address with an attacker keeps working. Both maps are bounded LRUs.
type AuthThrottle struct {
	every time.Duration
	burst int
	addrs *lru.Cache[string, *rate.Limiter]
	// known holds hashes of keys that authenticated, dropped when they fail.
	known *lru.Cache[string, struct{}]
}

const ThrottleEntries = 100_000

// newAuthThrottle allows perMinute failures a minute per address (burst
// perMinute); perMinute < 0 turns throttling off.
func NewAuthThrottle(perMinute int) *AuthThrottle {
	if perMinute < 0 {
		return nil
	}
	addrs, _ := lru.New[string, *rate.Limiter](ThrottleEntries)
	known, _ := lru.New[string, struct{}](ThrottleEntries)
	return &AuthThrottle{every: time.Minute / time.Duration(max(perMinute, 1)), burst: max(perMinute, 1), addrs: addrs, known: known}
}

// refused says whether addr is throttled for key, and for how long.
func (t *AuthThrottle) Refused(addr, Key string) (time.Duration, bool) {
	if t == nil {
		return 0, false
	}
	l, ok := t.addrs.Get(addr)
	if !ok {
		return 0, false
	}
	tokens := l.Tokens()
	if tokens >= 1 {
		return 0, false
	}
	if t.known.Contains(auth.HashKey(Key)) {
		return 0, false
	}
	wait := time.Duration(math.Ceil((1 - tokens) * float64(t.every)))
	return wait, true
}

// failed records a failed authentication of key from addr.
func (t *AuthThrottle) Failed(addr, Key string) {
	if t == nil {
		return
	}
	t.known.Remove(auth.HashKey(Key))
	l, ok := t.addrs.Get(addr)
	if !ok {
		l = rate.NewLimiter(rate.Every(t.every), t.burst)
		if prev, found, _ := t.addrs.PeekOrAdd(addr, l); found {
			l = prev
		}
	}
	l.Allow()
}

// succeeded records that key authenticated.
func (t *AuthThrottle) Succeeded(Key string) {
	if t != nil {
		t.known.Add(auth.HashKey(Key), struct{}{})
	}
}

func RetryAfter(d time.Duration) string {
	return fmt.Sprint(max(1, int(math.Ceil(d.Seconds()))))
}
