package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientIPKey struct{}

// WithClientIP works out each request's client address once, for events
// and logs to read with ClientIP. X-Forwarded-For is believed only when the
// direct peer is one of the trusted proxies: anyone else could write
// whatever address they like into it.
func WithClientIP(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := resolveClientIP(trusted, r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

// ClientIP is the address of the client that sent r: the one WithClientIP
// found, else the direct peer's.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerIP(r.RemoteAddr)
}

// resolveClientIP walks X-Forwarded-For from the right (the hop nearest to
// us), skipping trusted proxies; the first untrusted address is the client.
// An entry that is not an address stops the walk at the last trusted hop,
// since nothing to its left can be believed.
func resolveClientIP(trusted []netip.Prefix, remoteAddr string, xff []string) string {
	peer := peerIP(remoteAddr)
	if len(trusted) == 0 || len(xff) == 0 {
		return peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(trusted, addr) {
		return peer
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = hop.String()
		if !isTrusted(trusted, hop) {
			return client
		}
	}
	// Every hop is a trusted proxy: the leftmost is the nearest we know to
	// the client.
	return client
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// peerIP is the address part of a RemoteAddr.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}
