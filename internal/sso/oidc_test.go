package sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sso6 "github.com/workos/workos-go/v6/pkg/sso"
	"github.com/workos/workos-go/v7"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

const oidcClientID, oidcSecret = "gatehouse-test", "s3cret-value"

// oidcProvider starts a test OpenID provider with alice as its user.
func (e *env) oidcProvider(opts testidp.OIDCOptions) *testidp.OIDCProvider {
	e.t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	opts.AutoApprove = true
	op, err := testidp.NewOIDC("http://"+hs.Listener.Addr().String()+"/oidc", opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := op.AddUser(testidp.User{Email: alice.Email, Password: "pw", FirstName: "Alice", LastName: "Liddell",
		Groups: []string{"eng"}, Subject: "alice-sub-1"}); err != nil {
		e.t.Fatal(err)
	}
	hs.Config.Handler = op
	hs.Start()
	e.t.Cleanup(hs.Close)
	return op
}

type oidcConnJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
	OIDC  struct {
		RedirectURI string `json:"redirect_uri"`
	} `json:"oidc"`
}

func (e *env) oidcConnection(op *testidp.OIDCProvider, orgID string) oidcConnJSON {
	e.t.Helper()
	var c oidcConnJSON
	e.api("POST", "/connections", map[string]any{"organization_id": orgID, "connection_type": "GenericOIDC",
		"oidc": map[string]any{"issuer": op.Issuer(), "client_id": oidcClientID, "client_secret": oidcSecret}}, 201, &c)
	if c.State != "active" {
		e.t.Fatalf("oidc connection state %q", c.State)
	}
	if err := op.AddClient(testidp.OIDCClient{ID: oidcClientID, Secret: oidcSecret, RedirectURIs: []string{c.OIDC.RedirectURI}}); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// oidcLogin follows authorize → provider → our callback and returns our
// callback's answer.
func (e *env) oidcLogin(t testing.TB, authURL string) *http.Response {
	t.Helper()
	res := e.get(authURL)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", res.StatusCode)
	}
	res = e.get(res.Header.Get("Location")) // the provider approves at once
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("provider: %d", res.StatusCode)
	}
	return e.get(res.Header.Get("Location"))
}

func TestOIDCLoginSDKs(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			op := e.oidcProvider(testidp.OIDCOptions{RequirePKCE: true, AuthorizationResponseIss: true})
			conn := e.oidcConnection(op, e.orgID)
			ctx := context.Background()

			t.Run("v7", func(t *testing.T) {
				wc := e.sdk7()
				state := "o7"
				q := callback(t, e.oidcLogin(t, wc.SSO().GetAuthorizationURL(&workos.SSOGetAuthorizationURLParams{
					Connection: &conn.ID, RedirectURI: redirectURI, State: &state})))
				if q.Get("state") != state {
					t.Fatalf("callback %v", q)
				}
				tok, err := wc.SSO().GetProfileAndToken(ctx, &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")})
				if err != nil {
					t.Fatal(err)
				}
				p := tok.Profile
				if p.Email != alice.Email || p.IdpID != "alice-sub-1" || *p.FirstName != "Alice" || string(p.ConnectionType) != "GenericOIDC" ||
					len(p.Groups) != 1 || p.RawAttributes["sub"] != "alice-sub-1" {
					t.Fatalf("profile %+v", p)
				}
			})
			t.Run("v6", func(t *testing.T) {
				c := e.sdk6()
				u, err := c.GetAuthorizationURL(sso6.GetAuthorizationURLOpts{Organization: e.orgID, RedirectURI: redirectURI, State: "o6"})
				if err != nil {
					t.Fatal(err)
				}
				q := callback(t, e.oidcLogin(t, u.String()))
				pt, err := c.GetProfileAndToken(ctx, sso6.GetProfileAndTokenOpts{Code: q.Get("code")})
				if err != nil || pt.Profile.Email != alice.Email {
					t.Fatalf("token: %v %+v", err, pt)
				}
				p, err := c.GetProfile(ctx, sso6.GetProfileOpts{AccessToken: pt.AccessToken})
				if err != nil || p.ID != pt.Profile.ID {
					t.Fatalf("profile: %v %+v", err, p)
				}
			})
		})
	}
}

func TestOIDCAttacks(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { testOIDCAttacks(t, backend) })
	}
}

func testOIDCAttacks(t *testing.T, backend string) {
	e := newEnv(t, backend)
	op := e.oidcProvider(testidp.OIDCOptions{AuthorizationResponseIss: true})
	conn := e.oidcConnection(op, e.orgID)
	authURL := e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
		"redirect_uri": {redirectURI}, "connection": {conn.ID}, "state": {"s"}}.Encode()
	login := func() *http.Response { return e.oidcLogin(t, authURL) }

	cases := []struct {
		name   string
		faults testidp.Faults
		code   string
	}{
		{"alg none", testidp.Faults{Alg: testidp.AlgNone}, "algorithm_forbidden"},
		{"HS256 key confusion", testidp.Faults{Alg: testidp.AlgHS256}, "algorithm_forbidden"},
		{"unknown signing key", testidp.Faults{UnknownKey: true}, "signature_invalid"},
		{"wrong issuer", testidp.Faults{Issuer: "https://evil.example"}, "issuer_mismatch"},
		{"wrong audience", testidp.Faults{Audience: "someone-else"}, "audience_mismatch"},
		{"expired", testidp.Faults{Expired: true}, "response_expired"},
		{"issued in the future", testidp.Faults{Claims: map[string]any{"iat": time.Now().Add(10 * time.Minute).Unix()}}, "response_not_yet_valid"},
		{"bad nonce", testidp.Faults{Nonce: "not-the-nonce"}, "nonce_mismatch"},
		{"RFC 9207 iss mismatch", testidp.Faults{ResponseIss: "https://evil.example"}, "iss_parameter_mismatch"},
		{"userinfo for another subject", testidp.Faults{UserinfoSubject: "mallory"}, "userinfo_subject_mismatch"},
		{"missing sub", testidp.Faults{Claims: map[string]any{"sub": nil}}, "malformed_response"},
		{"missing aud", testidp.Faults{Claims: map[string]any{"aud": nil}}, "audience_mismatch"},
		{"several audiences, azp another client", testidp.Faults{Claims: map[string]any{"aud": []string{oidcClientID, "other"}, "azp": "other"}}, "audience_mismatch"},
		{"at_hash mismatch", testidp.Faults{Claims: map[string]any{"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}}, "signature_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op.SetFaults(c.faults)
			defer op.SetFaults(testidp.Faults{})
			e.rejects(t, login, c.code)
		})
	}
	t.Run("bad state", func(t *testing.T) {
		e.rejects(t, func() *http.Response {
			return e.get(conn.OIDC.RedirectURI + "?code=abc&state=_forged&iss=" + url.QueryEscape(op.Issuer()))
		}, "state_invalid")
	})
	t.Run("state replayed", func(t *testing.T) {
		res := e.get(authURL)
		res = e.get(res.Header.Get("Location"))
		cb := res.Header.Get("Location")
		if q := callback(t, e.get(cb)); q.Get("code") == "" {
			t.Fatalf("first callback refused: %v", q)
		}
		e.rejects(t, func() *http.Response { return e.get(cb) }, "state_invalid")
	})
	t.Run("state of another connection", func(t *testing.T) {
		op2 := e.oidcProvider(testidp.OIDCOptions{})
		var org struct{ ID string }
		e.api("POST", "/organizations", map[string]any{"name": "Other"}, 201, &org)
		conn2 := e.oidcConnection(op2, org.ID)
		res := e.get(authURL)
		res = e.get(res.Header.Get("Location"))
		loc := must[*url.URL](t)(url.Parse(res.Header.Get("Location")))
		// Complete conn's state at conn2's callback (mix-up).
		e.rejects(t, func() *http.Response {
			return e.get(conn2.OIDC.RedirectURI + "?" + loc.RawQuery)
		}, "state_invalid")
	})
	t.Run("provider error", func(t *testing.T) {
		res := e.get(authURL)
		state := must[*url.URL](t)(url.Parse(res.Header.Get("Location"))).Query().Get("state")
		e.rejects(t, func() *http.Response {
			return e.get(conn.OIDC.RedirectURI + "?error=access_denied&state=" + state + "&iss=" + url.QueryEscape(op.Issuer()))
		}, "idp_error_status")
	})
	t.Run("issued within the allowed clock skew", func(t *testing.T) {
		op.SetFaults(testidp.Faults{Claims: map[string]any{"iat": time.Now().Add(30 * time.Second).Unix()}})
		defer op.SetFaults(testidp.Faults{})
		if q := callback(t, login()); q.Get("code") == "" {
			t.Fatalf("callback %v", q)
		}
	})
	t.Run("still works", func(t *testing.T) {
		if q := callback(t, login()); q.Get("code") == "" || !strings.HasPrefix(q.Get("state"), "s") {
			t.Fatalf("callback %v", q)
		}
	})
}

// TestDiscoveryErrorBodyNotEchoed: a failed OIDC discovery shows the
// provider's HTTP status on the connection, never the body of its answer.
func TestDiscoveryErrorBodyNotEchoed(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"internal":"sk_live_LEAKED_51HxYz"}`))
			}))
			defer hs.Close()
			var c struct {
				State string
				OIDC  struct {
					DiscoveryError string `json:"discovery_error"`
				}
			}
			e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "GenericOIDC",
				"oidc": map[string]any{"issuer": hs.URL, "client_id": oidcClientID, "client_secret": oidcSecret}}, 201, &c)
			if c.State != "draft" || !strings.Contains(c.OIDC.DiscoveryError, "500") || strings.Contains(c.OIDC.DiscoveryError, "LEAKED") {
				t.Fatalf("connection: %+v", c)
			}
		})
	}
}
