// Package netguard keeps outbound HTTP calls whose target a customer typed
// (SAML metadata URLs, OIDC issuers, the token URL of a Google service
// account key) away from loopback, link-local and private addresses, so
// that Gatehouse cannot be used to reach its own network (SSRF). The check runs in the dialer, on
// the address actually connected to, so a DNS name that resolves to a
// public address at validation time and a private one later (DNS
// rebinding) is refused as well.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenTarget is returned (wrapped) when a call would reach a
// refused address.
var ErrForbiddenTarget = errors.New("netguard: target address is not allowed")

// Guard decides which addresses outbound calls may reach.
type Guard struct {
	// AllowPrivate permits loopback, link-local and private targets
	// (GATEHOUSE_ALLOW_PRIVATE_TARGETS; dev and tests).
	AllowPrivate bool
}

// Allowed reports whether an address may be connected to.
func (g Guard) Allowed(addr netip.Addr) bool {
	if g.AllowPrivate {
		return true
	}
	addr = addr.Unmap()
	switch {
	case !addr.IsValid(),
		addr.IsUnspecified(),
		addr.IsLoopback(),
		addr.IsPrivate(),
		addr.IsLinkLocalUnicast(),
		addr.IsLinkLocalMulticast(),
		addr.IsInterfaceLocalMulticast(),
		addr.IsMulticast():
		return false
	}
	for _, p := range refusedPrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// refusedPrefixes are non-routable ranges that netip has no predicate for.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, incl. broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
}

// Control is a net.Dialer Control function that refuses connections to
// disallowed addresses. It sees the resolved IP, so it also covers DNS
// rebinding and redirects.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbiddenTarget, address)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, link-local or private address", ErrForbiddenTarget, ap.Addr())
	}
	return nil
}

// CheckURL validates a URL a customer typed before it is stored: http or
// https, with a host, and (unless private targets are allowed) not an IP
// literal in a refused range. Names are checked again at dial time.
func (g Guard) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q must not contain credentials", raw)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && !g.Allowed(a) {
		return nil, fmt.Errorf("%w: %s", ErrForbiddenTarget, u.Hostname())
	}
	if !g.AllowPrivate && (u.Hostname() == "localhost" || hasSuffixFold(u.Hostname(), ".localhost")) {
		return nil, fmt.Errorf("%w: %s", ErrForbiddenTarget, u.Hostname())
	}
	return u, nil
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// Client returns an HTTP client whose every connection, including those of
// redirects, goes through the guard, with the given overall timeout.
// Proxies from the environment are not used: a proxy would connect for us
// and bypass the check.
func (g Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: g.Control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
				return fmt.Errorf("redirect to %q refused", req.URL.Scheme)
			}
			return nil
		},
	}
}
