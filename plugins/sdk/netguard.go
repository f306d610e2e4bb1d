package sdk

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Connectors download what platforms point at (an inbound attachment's
// CDN URL) and hand platforms URLs to fetch (outbound media). A URL that
// reaches a loopback, private or link-local address would let whoever
// wrote it read the host's own network, so both directions refuse them.

// nonPublic are special-purpose ranges that netip's predicates leave out.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// PublicAddr reports whether ip is a public unicast address: not
// loopback, private, link-local, multicast, unspecified or reserved.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckPublicURL refuses a URL that is not absolute http(s) or whose host
// is a local name or a literal address that is not public. It looks at
// the URL only: a public name that resolves to a private address is
// caught when connecting (PublicHTTPClient), or is the platform's to
// refuse when the platform fetches it.
func CheckPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return NewError(ClassPermanent, CodePrivateAddress, "%q is not an absolute http(s) URL", raw)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(ip) {
			return NewError(ClassPermanent, CodePrivateAddress, "%s is not a public address", host)
		}
		return nil
	}
	if host == "localhost" || !strings.Contains(host, ".") ||
		strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return NewError(ClassPermanent, CodePrivateAddress, "%s is a local host name", host)
	}
	return nil
}

// CodePrivateAddress is the Error.Code of a refused non-public URL.
const CodePrivateAddress = "private_address"

// dialPublicOnly is a net.Dialer Control function: it runs after name
// resolution, on the address actually dialled, so neither a public name
// resolving to a private address nor a redirect to one gets through.
func dialPublicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return NewError(ClassPermanent, CodePrivateAddress, "cannot tell whether %s is public", address)
	}
	if !PublicAddr(ap.Addr()) {
		return NewError(ClassPermanent, CodePrivateAddress, "%s is not a public address", ap.Addr())
	}
	return nil
}

// PublicHTTPClient returns a client for downloading what a platform or a
// message points at: it connects only to public addresses (checked on
// every connection, redirects included) and uses no proxy, since a proxy
// would dial on its behalf unchecked. With allowPrivate (emulators and
// tests on 127.0.0.1) it connects anywhere.
func PublicHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = dialPublicOnly
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          10,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		},
	}
}
