package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	cases := []struct {
		name string
		addr string
		want bool
	}{
		{"loopback v4", "127.0.0.1", false},
		{"loopback v6", "::1", false},
		{"private 10/8", "10.1.2.3", false},
		{"private 192.168", "192.168.0.1", false},
		{"private 172.16", "172.16.5.4", false},
		{"link-local metadata", "169.254.169.254", false},
		{"link-local v6", "fe80::1", false},
		{"unique local v6", "fd00::1", false},
		{"unspecified", "0.0.0.0", false},
		{"cgnat", "100.64.0.1", false},
		{"mapped loopback", "::ffff:127.0.0.1", false},
		{"public v4", "93.184.216.34", true},
		{"public v6", "2606:4700::1111", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := (Guard{}).Allowed(netip.MustParseAddr(c.addr)); got != c.want {
				t.Fatalf("Allowed(%s) = %v, want %v", c.addr, got, c.want)
			}
			if !(Guard{AllowPrivate: true}).Allowed(netip.MustParseAddr(c.addr)) {
				t.Fatalf("AllowPrivate refused %s", c.addr)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		name string
		url  string
		ok   bool
	}{
		{"public https", "https://idp.example.com/metadata", true},
		{"loopback literal", "http://127.0.0.1:8080/x", false},
		{"localhost", "http://localhost/x", false},
		{"metadata service", "http://169.254.169.254/latest", false},
		{"file scheme", "file:///etc/passwd", false},
		{"credentials", "https://u:p@idp.example.com/", false},
		{"no host", "https:///x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := (Guard{}).CheckURL(c.url)
			if (err == nil) != c.ok {
				t.Fatalf("CheckURL(%q) err = %v, want ok=%v", c.url, err, c.ok)
			}
		})
	}
}

// TestClientRefusesAtDialTime covers names that resolve to a refused
// address (DNS rebinding): the check happens on the connected address.
func TestClientRefusesAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// "localhost" resolves to loopback, as a rebinding name would.
	_, err := (Guard{}).Client(5 * time.Second).Get("http://localhost:" + port + "/")
	if err == nil || !errors.Is(err, ErrForbiddenTarget) {
		t.Fatalf("want ErrForbiddenTarget, got %v", err)
	}
	res, err := (Guard{AllowPrivate: true}).Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed client: %v", err)
	}
	res.Body.Close()
}
