package sso_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestEventClientAddress: authentication events record the address from
// X-Forwarded-For only when the request came through a trusted proxy; a
// client talking to Gatehouse directly cannot choose what is recorded.
func TestEventClientAddress(t *testing.T) {
	cases := []struct {
		name    string
		trusted string
		want    string
	}{
		{"no trusted proxies: the peer", "", "127.0.0.1"},
		{"peer is not a trusted proxy: spoofed header ignored", "10.0.0.0/8", "127.0.0.1"},
		{"peer is a trusted proxy: the forwarded client", "127.0.0.0/8", "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "sqlite", func(c *config.Config) {
				if tc.trusted != "" {
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
				}
			})
			conn := e.samlConnection(e.samlIdP(testidp.SAMLOptions{}), nil)
			q := url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "connection": {conn.ID}}
			req, _ := http.NewRequest("GET", e.srv.URL+"/sso/authorize?"+q.Encode(), nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.66, 198.51.100.7")
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusFound {
				t.Fatalf("authorize = %d", res.StatusCode)
			}
			evs, err := e.srv.Store.ListEvents(context.Background(), store.EventFilter{Names: []string{"authentication.sso_started"}}, 1, true)
			if err != nil || len(evs) != 1 {
				t.Fatalf("events %v %v", evs, err)
			}
			var d struct {
				IPAddress string `json:"ip_address"`
			}
			json.Unmarshal(evs[0].Data, &d)
			if d.IPAddress != tc.want {
				t.Errorf("ip_address = %q, want %q", d.IPAddress, tc.want)
			}
		})
	}
}
