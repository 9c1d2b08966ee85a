package testidp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	rpClientID    = "gatehouse-rp"
	rpSecret      = "rp-secret"
	rpRedirectURI = "https://rp.example.test/sso/oidc/callback"
)

// newOIDCServer starts an OIDC provider behind httptest with alice as a
// user and a confidential client.
func newOIDCServer(t *testing.T, opts OIDCOptions) (*OIDCProvider, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	op, err := NewOIDC("http://"+srv.Listener.Addr().String(), opts)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	srv.Config.Handler = op
	srv.Start()
	t.Cleanup(srv.Close)
	if err := op.AddUser(alice); err != nil {
		t.Fatal(err)
	}
	if err := op.AddClient(OIDCClient{ID: rpClientID, Secret: rpSecret, RedirectURIs: []string{rpRedirectURI}}); err != nil {
		t.Fatal(err)
	}
	return op, srv
}

// rp is a relying party built on go-oidc and x/oauth2, as Gatehouse's.
type rp struct {
	t        *testing.T
	ctx      context.Context
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client
}

func newRP(t *testing.T, op *OIDCProvider) *rp {
	t.Helper()
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, op.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	endpoint := provider.Endpoint()
	// One attempt per exchange: auto-detection would retry a refused
	// request, which meets an already consumed code.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return &rp{
		t:        t,
		ctx:      ctx,
		provider: provider,
		config: oauth2.Config{
			ClientID:     rpClientID,
			ClientSecret: rpSecret,
			Endpoint:     endpoint,
			RedirectURL:  rpRedirectURI,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: rpClientID, SupportedSigningAlgs: []string{oidc.RS256}}),
		browser:  browser(t),
	}
}

// authorization is the outcome of the front-channel part of the flow.
type authorization struct {
	state, nonce, verifier string
	callback               url.Values // the redirect's query
}

// authorize sends the browser to the authorization endpoint and returns
// where the provider redirected it, following the login form if shown.
func (r *rp) authorize(extra ...oauth2.AuthCodeOption) authorization {
	r.t.Helper()
	a := authorization{state: randomID(), nonce: randomID(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce)}, extra...)
	resp, page := get(r.t, r.browser, r.config.AuthCodeURL(a.state, opts...))
	if resp.StatusCode == http.StatusOK && loginIDRe.MatchString(page) {
		resp, page = login(r.t, r.browser, strings.TrimSuffix(r.config.Endpoint.AuthURL, "/authorize")+"/login", page, alice.Password)
	}
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("authorize: %s\n%s", resp.Status, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		r.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpRedirectURI {
		r.t.Fatalf("redirected to %q", got)
	}
	a.callback = loc.Query()
	return a
}

// exchange redeems the code and returns the raw ID token and the token.
func (r *rp) exchange(a authorization) (string, *oauth2.Token) {
	r.t.Helper()
	if got := a.callback.Get("state"); got != a.state {
		r.t.Fatalf("state = %q, want %q", got, a.state)
	}
	tok, err := r.config.Exchange(r.ctx, a.callback.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		r.t.Fatal("no id_token in the token response")
	}
	return raw, tok
}

func TestOIDCCodeFlow(t *testing.T) {
	for _, auto := range []bool{true, false} {
		name := "login form"
		if auto {
			name = "auto-approve"
		}
		t.Run(name, func(t *testing.T) {
			op, _ := newOIDCServer(t, OIDCOptions{AutoApprove: auto})
			r := newRP(t, op)
			a := r.authorize()
			raw, tok := r.exchange(a)
			idToken, err := r.verifier.Verify(r.ctx, raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if idToken.Nonce != a.nonce {
				t.Errorf("nonce = %q, want %q", idToken.Nonce, a.nonce)
			}
			if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			var claims struct {
				Email      string   `json:"email"`
				Verified   bool     `json:"email_verified"`
				GivenName  string   `json:"given_name"`
				FamilyName string   `json:"family_name"`
				Groups     []string `json:"groups"`
			}
			if err := idToken.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idToken.Subject != alice.Email || claims.Email != alice.Email || !claims.Verified ||
				claims.GivenName != "Alice" || claims.FamilyName != "Liddell" || len(claims.Groups) != 2 {
				t.Errorf("sub %q, claims %+v", idToken.Subject, claims)
			}

			info, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Subject != alice.Email || info.Email != alice.Email {
				t.Errorf("userinfo = %+v", info)
			}

			// A code is single use.
			if _, err := r.config.Exchange(r.ctx, a.callback.Get("code"), oauth2.VerifierOption(a.verifier)); err == nil {
				t.Error("a code was redeemed twice")
			}
		})
	}
}

func TestOIDCPublicClientAndLoginHint(t *testing.T) {
	op, _ := newOIDCServer(t, OIDCOptions{AutoApprove: true})
	bob := User{Email: "bob@example.test", Password: "bob", Subject: "user-bob"}
	if err := op.AddUser(bob); err != nil {
		t.Fatal(err)
	}
	if err := op.AddClient(OIDCClient{ID: rpClientID, RedirectURIs: []string{rpRedirectURI}}); err != nil {
		t.Fatal(err)
	}
	r := newRP(t, op)
	r.config.ClientSecret = ""
	r.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	raw, _ := r.exchange(r.authorize(oauth2.SetAuthURLParam("login_hint", bob.Email)))
	idToken, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idToken.Subject != "user-bob" {
		t.Errorf("sub = %q, want the login_hint user's", idToken.Subject)
	}
}

func TestOIDCFaults(t *testing.T) {
	op, _ := newOIDCServer(t, OIDCOptions{AutoApprove: true})
	r := newRP(t, op)
	tests := []struct {
		name   string
		faults Faults
		// check inspects what go-oidc made of the token; nil means
		// Verify must fail.
		check func(t *testing.T, a authorization, tok *oidc.IDToken)
	}{
		{name: "alg none", faults: Faults{Alg: AlgNone}},
		{name: "HS256 keyed with the public key", faults: Faults{Alg: AlgHS256}},
		{name: "unknown signing key", faults: Faults{UnknownKey: true}},
		{name: "wrong issuer", faults: Faults{Issuer: "https://evil.example.test"}},
		{name: "wrong audience", faults: Faults{Audience: "another-client"}},
		{name: "expired", faults: Faults{Expired: true}},
		{name: "audience removed", faults: Faults{Claims: map[string]any{"aud": nil}}},
		{
			// go-oidc leaves the nonce to the caller, so the token
			// verifies: the RP must compare it.
			name:   "wrong nonce",
			faults: Faults{Nonce: "not-the-request-nonce"},
			check: func(t *testing.T, a authorization, tok *oidc.IDToken) {
				if tok.Nonce == a.nonce || tok.Nonce != "not-the-request-nonce" {
					t.Errorf("nonce = %q", tok.Nonce)
				}
			},
		},
		{
			name:   "sub removed",
			faults: Faults{Claims: map[string]any{"sub": nil, "extra": "x"}},
			check: func(t *testing.T, _ authorization, tok *oidc.IDToken) {
				var c map[string]any
				if err := tok.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if _, ok := c["sub"]; ok || c["extra"] != "x" {
					t.Errorf("claims = %v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op.SetFaults(tt.faults)
			defer op.SetFaults(Faults{})
			a := r.authorize()
			raw, _ := r.exchange(a)
			tok, err := r.verifier.Verify(r.ctx, raw)
			if tt.check == nil {
				if err == nil {
					t.Fatalf("go-oidc accepted the token %s", jwtHeader(t, raw))
				}
				t.Logf("rejected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.check(t, a, tok)
		})
	}

	t.Run("expired error type", func(t *testing.T) {
		op.SetFaults(Faults{Expired: true})
		defer op.SetFaults(Faults{})
		raw, _ := r.exchange(r.authorize())
		_, err := r.verifier.Verify(r.ctx, raw)
		var expired *oidc.TokenExpiredError
		if !errors.As(err, &expired) {
			t.Errorf("error = %v, want *oidc.TokenExpiredError", err)
		}
	})

	t.Run("header of bad algorithms", func(t *testing.T) {
		for alg, want := range map[string]string{AlgNone: "none", AlgHS256: "HS256"} {
			op.SetFaults(Faults{Alg: alg})
			raw, _ := r.exchange(r.authorize())
			if got := jwtHeader(t, raw)["alg"]; got != want {
				t.Errorf("%s: alg = %v", alg, got)
			}
			if alg == AlgNone && !strings.HasSuffix(raw, ".") {
				t.Errorf("alg none token has a signature: %s", raw)
			}
		}
		op.SetFaults(Faults{})
	})
}

func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	op, _ := newOIDCServer(t, OIDCOptions{})
	op.SetFaults(Faults{DiscoveryIssuer: "https://evil.example.test"})
	_, err := oidc.NewProvider(t.Context(), op.Issuer())
	var mismatch *oidc.IssuerMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("NewProvider error = %v, want *oidc.IssuerMismatchError", err)
	}
}

func TestOIDCUserinfoSubjectFault(t *testing.T) {
	op, _ := newOIDCServer(t, OIDCOptions{AutoApprove: true})
	r := newRP(t, op)
	_, tok := r.exchange(r.authorize())
	op.SetFaults(Faults{UserinfoSubject: "someone-else"})
	info, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "someone-else" {
		t.Errorf("userinfo sub = %q", info.Subject)
	}
	tok.AccessToken = "forged"
	if _, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo accepted an unknown access token")
	}
}

func TestOIDCAuthorizationResponseIss(t *testing.T) {
	tests := []struct {
		name       string
		opts       OIDCOptions
		faults     Faults
		advertised bool
		wantIss    func(op *OIDCProvider) string
	}{
		{name: "off", wantIss: func(*OIDCProvider) string { return "" }},
		{name: "on", opts: OIDCOptions{AuthorizationResponseIss: true}, advertised: true, wantIss: (*OIDCProvider).Issuer},
		{
			name: "on, wrong iss", opts: OIDCOptions{AuthorizationResponseIss: true}, advertised: true,
			faults:  Faults{ResponseIss: "https://evil.example.test"},
			wantIss: func(*OIDCProvider) string { return "https://evil.example.test" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.AutoApprove = true
			op, _ := newOIDCServer(t, tt.opts)
			op.SetFaults(tt.faults)
			r := newRP(t, op)
			var disc struct {
				IssParam bool `json:"authorization_response_iss_parameter_supported"`
			}
			if err := r.provider.Claims(&disc); err != nil {
				t.Fatal(err)
			}
			if disc.IssParam != tt.advertised {
				t.Errorf("advertised = %v, want %v", disc.IssParam, tt.advertised)
			}
			a := r.authorize()
			if got := a.callback.Get("iss"); got != tt.wantIss(op) {
				t.Errorf("iss = %q, want %q", got, tt.wantIss(op))
			}
			// The error redirect carries it too.
			resp, _ := get(t, r.browser, r.config.AuthCodeURL("s",
				oauth2.SetAuthURLParam("code_challenge", strings.Repeat("x", 43)),
				oauth2.SetAuthURLParam("code_challenge_method", "plain"))) // refused: S256 only
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Query().Get("error") != "invalid_request" || loc.Query().Get("iss") != tt.wantIss(op) {
				t.Errorf("error redirect = %s", loc)
			}
		})
	}
}

func TestOIDCRejections(t *testing.T) {
	op, srv := newOIDCServer(t, OIDCOptions{AutoApprove: true, RequirePKCE: true})
	r := newRP(t, op)

	t.Run("authorize", func(t *testing.T) {
		good := url.Values{
			"response_type":         {"code"},
			"client_id":             {rpClientID},
			"redirect_uri":          {rpRedirectURI},
			"scope":                 {"openid email"},
			"state":                 {"st"},
			"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
			"code_challenge_method": {"S256"},
		}
		tests := []struct {
			name      string
			change    func(url.Values)
			wantError string // the error redirected with; "" means an error page, no redirect
		}{
			{name: "unknown client", change: func(v url.Values) { v.Set("client_id", "nobody") }},
			{name: "unregistered redirect URI", change: func(v url.Values) { v.Set("redirect_uri", "https://evil.example.test/cb") }},
			{name: "missing redirect URI", change: func(v url.Values) { v.Del("redirect_uri") }},
			{name: "implicit flow", change: func(v url.Values) { v.Set("response_type", "id_token") }, wantError: "unsupported_response_type"},
			{name: "no openid scope", change: func(v url.Values) { v.Set("scope", "email") }, wantError: "invalid_scope"},
			{name: "no PKCE", change: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantError: "invalid_request"},
			{name: "PKCE plain", change: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantError: "invalid_request"},
			{name: "malformed challenge", change: func(v url.Values) { v.Set("code_challenge", "short") }, wantError: "invalid_request"},
			{name: "repeated state", change: func(v url.Values) { v.Add("state", "again") }, wantError: "invalid_request"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := url.Values{}
				for k, vs := range good {
					v[k] = append([]string(nil), vs...)
				}
				tt.change(v)
				resp, _ := get(t, r.browser, srv.URL+"/authorize?"+v.Encode())
				if tt.wantError == "" {
					if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
						t.Errorf("got %s to %q, want an error page", resp.Status, resp.Header.Get("Location"))
					}
					return
				}
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || !strings.HasPrefix(loc.String(), rpRedirectURI) {
					t.Fatalf("got %s to %q", resp.Status, resp.Header.Get("Location"))
				}
				if got := loc.Query().Get("error"); got != tt.wantError {
					t.Errorf("error = %q, want %q", got, tt.wantError)
				}
			})
		}
	})

	t.Run("token", func(t *testing.T) {
		tests := []struct {
			name     string
			wantCode string
			mutate   func(cfg *oauth2.Config, a *authorization) []oauth2.AuthCodeOption
		}{
			{name: "wrong verifier", wantCode: "invalid_grant", mutate: func(_ *oauth2.Config, _ *authorization) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			}},
			{name: "no verifier", wantCode: "invalid_grant", mutate: func(*oauth2.Config, *authorization) []oauth2.AuthCodeOption { return nil }},
			{name: "wrong secret", wantCode: "invalid_client", mutate: func(cfg *oauth2.Config, a *authorization) []oauth2.AuthCodeOption {
				cfg.ClientSecret = "wrong"
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(a.verifier)}
			}},
			{name: "other redirect URI", wantCode: "invalid_grant", mutate: func(cfg *oauth2.Config, a *authorization) []oauth2.AuthCodeOption {
				cfg.RedirectURL = "https://rp.example.test/other"
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(a.verifier)}
			}},
			{name: "unknown code", wantCode: "invalid_grant", mutate: func(_ *oauth2.Config, a *authorization) []oauth2.AuthCodeOption {
				a.callback.Set("code", "forged")
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(a.verifier)}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := r.authorize()
				cfg := r.config
				opts := tt.mutate(&cfg, &a)
				_, err := cfg.Exchange(r.ctx, a.callback.Get("code"), opts...)
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) {
					t.Fatalf("exchange error = %v, want an OAuth error", err)
				}
				if re.ErrorCode != tt.wantCode {
					t.Errorf("error = %s (%s), want %s", re.ErrorCode, re.ErrorDescription, tt.wantCode)
				}
				t.Logf("rejected: %s %s", re.ErrorCode, re.ErrorDescription)
			})
		}
	})
}

func TestOIDCLoginForm(t *testing.T) {
	op, srv := newOIDCServer(t, OIDCOptions{})
	r := newRP(t, op)

	resp, _ := get(t, r.browser, r.config.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc == nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none: %s %q", resp.Status, resp.Header.Get("Location"))
	}

	resp, page := get(t, r.browser, r.config.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "OpenID Connect") || !strings.Contains(page, rpClientID) {
		t.Fatalf("login page: %s\n%s", resp.Status, page)
	}
	resp, page = login(t, r.browser, srv.URL+"/login", page, "wrong")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Incorrect email or password") {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	creds := url.Values{"login_id": {submatch(t, loginIDRe, page)}, "email": {alice.Email}, "password": {alice.Password}}
	if resp, _ = postForm(t, r.browser, srv.URL+"/login", creds, http.Header{"Origin": {"https://evil.example.test"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin login: %s, want 403", resp.Status)
	}
	if resp, _ = postForm(t, r.browser, srv.URL+"/login", creds, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	if resp, _ = postForm(t, r.browser, srv.URL+"/login", creds, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("reused login page: %s, want 400", resp.Status)
	}
}

func TestOIDCStableKey(t *testing.T) {
	kp := mustKeyPair("oidc")
	a, err := NewOIDC("http://127.0.0.1:1/oidc", OIDCOptions{Key: kp.Key})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewOIDC("http://127.0.0.1:1/oidc", OIDCOptions{Key: kp.Key})
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() || a.KeyID() == "" {
		t.Errorf("kid is not stable: %q, %q", a.KeyID(), b.KeyID())
	}
	if _, err := NewOIDC("not a url", OIDCOptions{}); err == nil {
		t.Error("NewOIDC accepted a bad issuer")
	}
	if err := a.AddClient(OIDCClient{ID: "c", RedirectURIs: []string{"/relative"}}); err == nil {
		t.Error("AddClient accepted a relative redirect URI")
	}
	if err := a.AddUser(User{}); err == nil {
		t.Error("AddUser accepted a user without email")
	}
}

func TestOIDCMountedUnderPrefix(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	op, err := NewOIDC("http://"+srv.Listener.Addr().String()+"/testidp/oidc", OIDCOptions{AutoApprove: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/testidp/oidc/", op)
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()
	_ = op.AddUser(alice)
	_ = op.AddClient(OIDCClient{ID: rpClientID, Secret: rpSecret, RedirectURIs: []string{rpRedirectURI}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := oidc.NewProvider(ctx, op.Issuer()); err != nil {
		t.Fatalf("discovery under a prefix: %v", err)
	}
	r := newRP(t, op)
	raw, _ := r.exchange(r.authorize())
	if _, err := r.verifier.Verify(r.ctx, raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestOIDCLandingPage: the provider's root is a page that names its
// endpoints, clients and demo accounts, under the pages' CSP, and never
// shows a client secret.
func TestOIDCLandingPage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      OIDCOptions
		wantUsers bool
	}{
		{"demo accounts shown", OIDCOptions{}, true},
		{"demo accounts hidden", OIDCOptions{HideUsers: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, srv := newOIDCServer(t, tc.opts)
			res, err := http.Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			page := string(b)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") != pageCSP {
				t.Fatalf("status %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
			}
			for _, want := range []string{op.Issuer(), "/.well-known/openid-configuration", rpClientID, rpRedirectURI, `rel="icon"`} {
				if !strings.Contains(page, want) {
					t.Errorf("landing page lacks %q", want)
				}
			}
			if strings.Contains(page, rpSecret) {
				t.Error("landing page shows the client secret")
			}
			if got := strings.Contains(page, alice.Password); got != tc.wantUsers {
				t.Errorf("shows a password: %v, want %v", got, tc.wantUsers)
			}
		})
	}
}
