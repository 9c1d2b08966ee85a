package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies configured", nil, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"spoofed header from an untrusted peer is ignored", lb, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, one hop", lb, "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written prefix is skipped", lb, "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are walked right to left", lb, "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines count as one list", lb, "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"trusted peer without header", lb, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"hop with a port", lb, "10.1.2.3:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"garbage stops the walk at the last trusted hop", lb, "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip, 10.9.9.9"}, "10.9.9.9"},
		{"all hops trusted", lb, "10.1.2.3:5000", []string{"10.5.5.5, 10.9.9.9"}, "10.5.5.5"},
		{"IPv6 peer and client", lb, "[2001:db8:1::7]:5000", []string{"2001:db8:ff::1"}, "2001:db8:ff::1"},
		{"IPv4-mapped peer matches an IPv4 range", lb, "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"untrusted IPv6 peer", lb, "[2001:db8:2::7]:5000", []string{"198.51.100.1"}, "2001:db8:2::7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := WithClientIP(tc.trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestClientIPWithoutMiddleware falls back to the peer, never the header.
func TestClientIPWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := ClientIP(r); got != "203.0.113.9" {
		t.Errorf("ClientIP = %q", got)
	}
}
