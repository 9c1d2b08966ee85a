package sso_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sso6 "github.com/workos/workos-go/v6/pkg/sso"
	"github.com/workos/workos-go/v7"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func (e *env) sdk7() *workos.Client {
	return workos.NewClient(apptest.APIKey, workos.WithBaseURL(e.srv.URL), workos.WithClientID(e.srv.ClientID), workos.WithMaxRetries(0))
}

func (e *env) sdk6() *sso6.Client {
	return &sso6.Client{APIKey: apptest.APIKey, ClientID: e.srv.ClientID, Endpoint: e.srv.URL}
}

// TestSAMLLoginSDKs runs SP-initiated and IdP-initiated SAML logins with
// both WorkOS SDK generations doing the host app's part.
func TestSAMLLoginSDKs(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			ctx := context.Background()

			t.Run("sp-initiated/v7", func(t *testing.T) {
				wc := e.sdk7()
				org, state := e.orgID, "st-7"
				authURL := wc.SSO().GetAuthorizationURL(&workos.SSOGetAuthorizationURLParams{Organization: &org, RedirectURI: redirectURI, State: &state})
				res := e.get(authURL)
				if res.StatusCode != http.StatusFound {
					t.Fatalf("authorize: %d", res.StatusCode)
				}
				form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(res.Header.Get("Location"), alice.Email))
				q := callback(t, e.post(form.URL, form.Values()))
				if q.Get("state") != state || q.Get("code") == "" {
					t.Fatalf("callback %v", q)
				}
				tok, err := wc.SSO().GetProfileAndToken(ctx, &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")})
				if err != nil {
					t.Fatal(err)
				}
				p := tok.Profile
				if p.Email != alice.Email || *p.FirstName != "Alice" || *p.LastName != "Liddell" || p.ConnectionID != conn.ID ||
					*p.OrganizationID != e.orgID || string(p.ConnectionType) != "OktaSAML" || len(p.Groups) != 2 || p.RawAttributes["email"] != alice.Email {
					t.Fatalf("profile %+v", p)
				}
				// GO7 sends its API key as Bearer; the access token goes as a second header.
				prof, err := wc.SSO().GetProfile(ctx, workos.WithExtraHeaders(http.Header{"Authorization": {"Bearer " + tok.AccessToken}}))
				if err != nil || prof.ID != p.ID {
					t.Fatalf("GetProfile: %v %+v", err, prof)
				}
				if _, err := wc.SSO().GetProfile(ctx); err == nil {
					t.Fatal("GetProfile with only the API key succeeded")
				}
				// A code is single-use.
				if _, err := wc.SSO().GetProfileAndToken(ctx, &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")}); err == nil {
					t.Fatal("code reused")
				}
			})

			t.Run("sp-initiated/v6", func(t *testing.T) {
				c := e.sdk6()
				u, err := c.GetAuthorizationURL(sso6.GetAuthorizationURLOpts{Connection: conn.ID, RedirectURI: redirectURI, State: "st-6"})
				if err != nil {
					t.Fatal(err)
				}
				res := e.get(u.String())
				form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(res.Header.Get("Location"), alice.Email))
				q := callback(t, e.post(form.URL, form.Values()))
				pt, err := c.GetProfileAndToken(ctx, sso6.GetProfileAndTokenOpts{Code: q.Get("code")})
				if err != nil {
					t.Fatal(err)
				}
				if pt.Profile.Email != alice.Email || pt.Profile.ConnectionID != conn.ID {
					t.Fatalf("profile %+v", pt.Profile)
				}
				p, err := c.GetProfile(ctx, sso6.GetProfileOpts{AccessToken: pt.AccessToken})
				if err != nil || p.ID != pt.Profile.ID {
					t.Fatalf("GetProfile: %v %+v", err, p)
				}
			})

			t.Run("domain-hint", func(t *testing.T) {
				wc := e.sdk7()
				hint := "bob@EXAMPLE.com"
				res := e.get(wc.SSO().GetAuthorizationURL(&workos.SSOGetAuthorizationURLParams{LoginHint: &hint, RedirectURI: redirectURI}))
				if res.StatusCode != http.StatusFound {
					t.Fatalf("authorize by login_hint: %d", res.StatusCode)
				}
				if !strings.Contains(res.Header.Get("Location"), "login_hint=bob%40EXAMPLE.com") {
					t.Fatalf("no login_hint for Okta: %s", res.Header.Get("Location"))
				}
				if _, err := idp.SPInitiatedLogin(res.Header.Get("Location"), alice.Email); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("idp-initiated", func(t *testing.T) {
				form := must[*testidp.PostForm](t)(idp.IdPInitiatedLogin(conn.SAML.SPEntityID, alice.Email, ""))
				q := callback(t, e.post(form.URL, form.Values()))
				tok, err := e.sdk7().SSO().GetProfileAndToken(ctx, &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")})
				if err != nil || tok.Profile.Email != alice.Email {
					t.Fatalf("token: %v %+v", err, tok)
				}
				// The same response again is a replay.
				e.expectRejected(t, e.post(form.URL, form.Values()), "replayed")
			})

			t.Run("events", func(t *testing.T) {
				if n := e.countEvents("authentication.sso_succeeded"); n < 3 {
					t.Fatalf("%d sso_succeeded events", n)
				}
				if n := e.countEvents("authentication.sso_started"); n < 3 {
					t.Fatalf("%d sso_started events", n)
				}
				if n := e.countEvents("connection.activated"); n != 1 {
					t.Fatalf("%d connection.activated events", n)
				}
			})

			t.Run("connections-api", func(t *testing.T) {
				wc := e.sdk7()
				orgID := e.orgID
				it := wc.SSO().ListConnections(ctx, &workos.SSOListConnectionsParams{OrganizationID: &orgID})
				n := 0
				for it.Next() {
					n++
					if it.Current().ID != conn.ID {
						t.Fatalf("listed %s", it.Current().ID)
					}
				}
				if it.Err() != nil || n != 1 {
					t.Fatalf("list: %v, %d", it.Err(), n)
				}
				got, err := wc.SSO().GetConnection(ctx, conn.ID)
				if err != nil || string(got.State) != "active" || len(got.Domains) != 1 || got.Options == nil || got.Options.SigningCert == nil {
					t.Fatalf("get: %v %+v", err, got)
				}
				list, err := e.sdk6().ListConnections(ctx, sso6.ListConnectionsOpts{OrganizationID: e.orgID})
				if err != nil || len(list.Data) != 1 {
					t.Fatalf("v6 list: %v %+v", err, list)
				}
			})
		})
	}
}

// TestAuthorizeErrors checks every /sso/authorize refusal: while the
// client or its redirect_uri is not trusted, the browser gets an error page
// and never a Location (RFC 6749 §4.1.2.1); after that the error goes back
// to the redirect_uri. Each error carries a fix that fits it.
func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, nil)
	base := e.srv.URL + "/sso/authorize?"
	good := url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"s1"}}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range good {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return base + v.Encode()
	}
	cases := []struct {
		name      string
		url       string
		status    int
		wantError string   // error= on the redirect, or the page's code
		want      []string // in the page, or in error_description
		notWant   []string
	}{
		{"missing client_id", with("client_id", "", "connection", conn.ID), 400, "client_invalid",
			[]string{"client_id parameter is missing", "GATEHOUSE_CLIENT_ID"}, []string{"unknown client_id", "selectors", "exactly one of"}},
		{"unknown client_id", with("client_id", "client_nope", "connection", conn.ID), 400, "client_invalid",
			[]string{"client_nope", "GATEHOUSE_CLIENT_ID"}, []string{"exactly one of"}},
		{"unknown client_id and untrusted redirect_uri", with("client_id", "client_nope", "redirect_uri", "https://evil.example/cb"), 400, "client_invalid",
			[]string{"client_nope", "GATEHOUSE_CLIENT_ID"}, nil},
		{"missing redirect_uri", with("redirect_uri", "", "connection", conn.ID), 400, "redirect_uri_invalid",
			[]string{"redirect_uri parameter is missing", "POST /redirect_uris", "GATEHOUSE_REDIRECT_URIS"}, []string{"exactly one of"}},
		{"untrusted redirect_uri", with("redirect_uri", "https://evil.example/cb", "connection", conn.ID), 400, "redirect_uri_invalid",
			[]string{"https://evil.example/cb", "not on the allow-list", "POST /redirect_uris", "GATEHOUSE_REDIRECT_URIS"}, []string{"exactly one of"}},
		{"no selector", with(), 302, "invalid_request", []string{"domain_hint or login_hint"}, nil},
		{"two selectors", with("connection", conn.ID, "organization", e.orgID), 302, "invalid_request", []string{"Pass only one of"}, nil},
		{"unknown connection", with("connection", "conn_01HZZZZZZZZZZZZZZZZZZZZZZZ"), 302, "connection_invalid", []string{"GET /connections"}, nil},
		{"unknown organization", with("organization", "org_01HZZZZZZZZZZZZZZZZZZZZZZZ"), 302, "organization_invalid", []string{"Create a connection"}, nil},
		{"unverified domain", with("domain_hint", "nowhere.example"), 302, "domain_invalid", []string{"POST /organization_domains"}, nil},
		{"wrong response_type", with("response_type", "token", "connection", conn.ID), 302, "unsupported_response_type", []string{"response_type=code"}, []string{"exactly one of"}},
		{"bad code_challenge_method", with("code_challenge", "abc", "code_challenge_method", "S512", "connection", conn.ID), 302, "invalid_request", []string{"code_challenge_method=S256"}, nil},
		{"oauth provider", with("provider", "GoogleOAuth"), 302, "invalid_request", []string{"no OAuth providers"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := must[*http.Request](t)(http.NewRequest("GET", c.url, nil))
			req.Header.Set("Accept", "text/html,application/xhtml+xml")
			res := must[*http.Response](t)(e.client.Do(req))
			body := string(must[[]byte](t)(io.ReadAll(res.Body)))
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, body)
			}
			text := body
			if c.status == 302 {
				q := callback(t, res)
				if q.Get("error") != c.wantError || q.Get("state") != "s1" || q.Get("error_description") == "" {
					t.Fatalf("callback %v", q)
				}
				text = q.Get("error_description")
			} else {
				if loc := res.Header.Get("Location"); loc != "" {
					t.Fatalf("untrusted request redirected to %s", loc)
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Fatalf("content type %q", ct)
				}
				if !strings.Contains(body, "<code>"+c.wantError+"</code>") || !strings.Contains(body, "How to fix") {
					t.Fatalf("page lacks code %s or a fix:\n%s", c.wantError, body)
				}
				text = html.UnescapeString(body)
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("answer lacks %q:\n%s", w, text)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(text, w) {
					t.Errorf("answer has %q, which does not fit this error:\n%s", w, text)
				}
			}
		})
	}

	// A client that is not a browser gets the same refusal as JSON.
	res := e.get(with("client_id", "", "redirect_uri", "https://evil.example/cb"))
	if res.StatusCode != 400 || res.Header.Get("Location") != "" {
		t.Fatalf("JSON refusal: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestAuthorizeOptions: prompt=login forces re-authentication (SAML
// ForceAuthn, OIDC prompt) and provider_scopes reach the OIDC provider.
func TestAuthorizeOptions(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, nil)
	q := url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "connection": {conn.ID}, "prompt": {"login"}}
	loc := must[*url.URL](t)(url.Parse(e.get(e.srv.URL + "/sso/authorize?" + q.Encode()).Header.Get("Location")))
	raw := must[[]byte](t)(base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest")))
	xml := must[[]byte](t)(io.ReadAll(flate.NewReader(bytes.NewReader(raw))))
	if !strings.Contains(string(xml), `ForceAuthn="true"`) {
		t.Fatalf("AuthnRequest without ForceAuthn: %s", xml)
	}

	var org struct{ ID string }
	e.api("POST", "/organizations", map[string]any{"name": "OIDC Co"}, 201, &org)
	op := e.oidcProvider(testidp.OIDCOptions{})
	oc := e.oidcConnection(op, org.ID)
	q.Set("connection", oc.ID)
	q.Set("provider_scopes", "offline_access,groups")
	loc = must[*url.URL](t)(url.Parse(e.get(e.srv.URL + "/sso/authorize?" + q.Encode()).Header.Get("Location")))
	if loc.Query().Get("prompt") != "login" || !strings.Contains(loc.Query().Get("scope"), "offline_access") ||
		!strings.Contains(loc.Query().Get("scope"), "groups") || loc.Query().Get("code_challenge_method") != "S256" || loc.Query().Get("nonce") == "" {
		t.Fatalf("authorization request %s", loc)
	}
}
