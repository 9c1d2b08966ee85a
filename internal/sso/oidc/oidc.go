// Package oidc is Gatehouse's OpenID Connect relying party, built on
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: discovery, the
// authorization code flow with PKCE (S256), state and nonce checked by us
// (go-oidc does not check the nonce), ID token iss/aud/exp/alg checks with
// an explicit allow-list of asymmetric algorithms, iat not in the future,
// the RFC 9207 iss parameter, and userinfo merged into the claims. Failures
// are *failure.Error with typed codes.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
)

// signingAlgs are the ID token algorithms accepted: asymmetric only, so
// neither "none" nor HS256 keyed with a public key (key confusion) passes.
var signingAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

// ClockSkew is how far ahead of our clock an ID token's iat may be, as
// SAML's NotBefore (saml.MaxClockSkew): more means the provider's clock is
// wrong or the token was minted for later use, so it is refused.
const ClockSkew = 60 * time.Second

// discoveryTTL is how long a provider's discovery document is reused.
const discoveryTTL = 10 * time.Minute

// Config is one connection's relying-party settings.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string // "openid" is always added
	RedirectURL  string   // our callback for this connection
}

// Client runs the RP side of OIDC flows. Its discovery cache is a cache
// only: every node can rebuild it, nothing depends on it across requests.
type Client struct {
	// HTTP makes every outbound call (discovery, JWKS, token, userinfo);
	// it should be SSRF-guarded (internal/netguard).
	HTTP *http.Client

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	p       *Provider
	fetched time.Time
}

// Provider is a discovered OpenID provider.
type Provider struct {
	*gooidc.Provider
	// IssParameter is true when the provider advertises
	// authorization_response_iss_parameter_supported (RFC 9207).
	IssParameter bool
	issuer       string
}

// Discover fetches (or reuses) the provider's discovery document. go-oidc
// checks that the document's issuer equals the one asked for.
func (c *Client) Discover(ctx context.Context, issuer string) (*Provider, error) {
	c.mu.Lock()
	if e, ok := c.cache[issuer]; ok && time.Since(e.fetched) < discoveryTTL {
		c.mu.Unlock()
		return e.p, nil
	}
	c.mu.Unlock()
	// go-oidc keeps the context for later JWKS fetches, so it must outlive
	// this request; the HTTP client's timeout bounds each call.
	pctx := gooidc.ClientContext(context.WithoutCancel(ctx), c.HTTP)
	gp, err := gooidc.NewProvider(pctx, issuer)
	if err != nil {
		return nil, discoveryFailure(err)
	}
	var extra struct {
		IssParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	_ = gp.Claims(&extra) // an unreadable optional claim means "not advertised"
	p := &Provider{Provider: gp, IssParameter: extra.IssParam, issuer: issuer}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]cached{}
	}
	c.cache[issuer] = cached{p: p, fetched: time.Now()}
	c.mu.Unlock()
	return p, nil
}

func (c *Client) oauth2Config(p *Provider, cfg Config) *oauth2.Config {
	scopes := []string{gooidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s != gooidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	if len(cfg.Scopes) == 0 {
		scopes = append(scopes, "profile", "email")
	}
	return &oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: scopes,
	}
}

// AuthOptions are the optional parts of an authorization request that the
// host app passed to /sso/authorize.
type AuthOptions struct {
	LoginHint   string
	Prompt      string   // e.g. "login" to force re-authentication
	ExtraScopes []string // provider_scopes
}

// AuthURL returns the provider's authorization URL for a new login.
func (c *Client) AuthURL(ctx context.Context, cfg Config, state, nonce, verifier string, o AuthOptions) (string, error) {
	p, err := c.Discover(ctx, cfg.Issuer)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if o.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", o.LoginHint))
	}
	if o.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", o.Prompt))
	}
	oc := c.oauth2Config(p, cfg)
	for _, s := range o.ExtraScopes {
		if s != "" && !slices.Contains(oc.Scopes, s) {
			oc.Scopes = append(oc.Scopes, s)
		}
	}
	return oc.AuthCodeURL(state, opts...), nil
}

// Identity is the verified result of a login.
type Identity struct {
	Subject string
	Claims  map[string]any // ID token claims with userinfo merged in
}

// Callback completes a login from the callback's query (state already
// checked by the caller): RFC 9207 iss, code exchange with the PKCE
// verifier, ID token verification, nonce, and userinfo.
func (c *Client) Callback(ctx context.Context, cfg Config, q url.Values, nonce, verifier string) (*Identity, error) {
	p, err := c.Discover(ctx, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if e := q.Get("error"); e != "" {
		return nil, &failure.Error{Code: failure.IdPErrorStatus, Detail: strings.TrimSpace(e + " " + q.Get("error_description"))}
	}
	// RFC 9207: when the provider advertises the iss parameter it must be
	// present and equal; when it is present anyway it must still be equal.
	if iss, ok := q["iss"]; ok || p.IssParameter {
		if !ok || len(iss) != 1 || iss[0] != cfg.Issuer {
			return nil, failure.Newf(failure.IssParameter, "expected %q", cfg.Issuer)
		}
	}
	code := q.Get("code")
	if code == "" {
		return nil, failure.Newf(failure.InvalidRequest, "the callback has no code")
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.HTTP)
	tok, err := c.oauth2Config(p, cfg).Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, failure.New(failure.TokenExchange, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, failure.Newf(failure.TokenExchange, "the token response has no id_token")
	}
	v := p.Verifier(&gooidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: signingAlgs})
	idt, err := v.Verify(gooidc.ClientContext(ctx, c.HTTP), raw)
	if err != nil {
		return nil, classifyVerify(err)
	}
	// go-oidc checks exp and nbf but not iat.
	if idt.IssuedAt.After(time.Now().Add(ClockSkew)) {
		return nil, failure.Newf(failure.ResponseNotYetValid, "the ID token was issued at %s, more than %s in the future",
			idt.IssuedAt.UTC().Format(time.RFC3339), ClockSkew)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 || nonce == "" {
		return nil, failure.Newf(failure.NonceMismatch, "")
	}
	if idt.Subject == "" {
		return nil, failure.Newf(failure.MalformedResponse, "the ID token has no sub claim")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, failure.New(failure.MalformedResponse, err)
	}
	// OIDC Core 3.1.3.7: with several audiences, azp must be us.
	if azp, _ := claims["azp"].(string); (len(idt.Audience) > 1 || azp != "") && azp != cfg.ClientID {
		return nil, failure.Newf(failure.AudienceMismatch, "the ID token's authorized party is %q", azp)
	}
	// at_hash binds the access token used for userinfo to the ID token.
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, failure.New(failure.SignatureInvalid, fmt.Errorf("at_hash: %w", err))
		}
	}
	if p.UserInfoEndpoint() != "" {
		ui, err := p.UserInfo(gooidc.ClientContext(ctx, c.HTTP), oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, &failure.Error{Code: failure.IdPUnreachable, Detail: "userinfo request failed", Err: err}
		}
		if ui.Subject != idt.Subject {
			return nil, failure.Newf(failure.UserinfoMismatch, "")
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err == nil {
			for k, val := range extra {
				if _, ok := claims[k]; !ok || k == "email" || k == "groups" {
					claims[k] = val
				}
			}
		}
	}
	return &Identity{Subject: idt.Subject, Claims: claims}, nil
}

// statusPrefix matches go-oidc's discovery error for a non-200 answer,
// "<status>: <body>".
var statusPrefix = regexp.MustCompile(`^([1-5][0-9]{2}(?: [A-Za-z ]+)?): `)

// discoveryFailure types a failed discovery. Its detail, shown on the
// connection, never carries the provider's answer body (go-oidc puts it in
// its error): only the HTTP status, or our own transport error.
func discoveryFailure(err error) *failure.Error {
	msg := err.Error()
	var ue *url.Error
	switch m := statusPrefix.FindStringSubmatch(msg); {
	case strings.Contains(msg, "issuer did not match"):
		return &failure.Error{Code: failure.IssuerMismatch, Err: errors.New("the discovery document names another issuer"),
			Detail: "OIDC discovery failed: the discovery document names another issuer than the connection's"}
	case errors.As(err, &ue):
		return &failure.Error{Code: failure.IdPUnreachable, Detail: "OIDC discovery failed: " + ue.Err.Error(), Err: err}
	case m != nil:
		return &failure.Error{Code: failure.IdPUnreachable, Detail: "OIDC discovery failed: the provider answered HTTP " + m[1],
			Err: errors.New("discovery answered " + m[1])}
	}
	return &failure.Error{Code: failure.IdPUnreachable, Detail: "OIDC discovery failed: the discovery document could not be read",
		Err: errors.New("unreadable discovery document")}
}

// classifyVerify maps a go-oidc verification error to a typed failure.
func classifyVerify(err error) *failure.Error {
	var exp *gooidc.TokenExpiredError
	msg := err.Error()
	code := failure.SignatureInvalid
	switch {
	case errors.As(err, &exp):
		code = failure.ResponseExpired
	case strings.Contains(msg, "issued by a different provider"):
		code = failure.IssuerMismatch
	case strings.Contains(msg, "expected audience"):
		code = failure.AudienceMismatch
	case strings.Contains(msg, "before the nbf"):
		code = failure.ResponseNotYetValid
	case strings.Contains(msg, "signature algorithm"), strings.Contains(msg, "unsupported algorithm"),
		strings.Contains(msg, "not signed"), strings.Contains(msg, `"none"`):
		code = failure.AlgorithmForbidden
	}
	return &failure.Error{Code: code, Err: fmt.Errorf("verify id token: %w", err)}
}
