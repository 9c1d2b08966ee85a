package testidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// oidcProtocol labels the pages of the OIDC provider.
	oidcProtocol = "OpenID Connect"
	// codeLifetime is how long an authorization code can be redeemed.
	codeLifetime = 2 * time.Minute
	// tokenLifetime is how long ID and access tokens are valid.
	tokenLifetime = time.Hour
)

// Values of Faults.Alg.
const (
	// AlgNone issues an unsecured ID token (alg "none", empty signature).
	AlgNone = "none"
	// AlgHS256 issues an ID token signed with HMAC-SHA256 keyed with the
	// provider's public key in PEM form: the RS256/HS256 confusion attack.
	AlgHS256 = "HS256"
)

// OIDCOptions configures NewOIDC.
type OIDCOptions struct {
	// Key signs ID tokens (RS256). When nil an RSA-2048 key is generated;
	// pass a saved one to keep the provider stable across restarts. The
	// key ID is its RFC 7638 thumbprint.
	Key *rsa.PrivateKey
	// AutoApprove skips the login form: the authorization endpoint signs
	// in the user named by login_hint, or else the first user added, and
	// redirects straight back. Tests use it to run the code flow without
	// a browser.
	AutoApprove bool
	// RequirePKCE refuses authorization requests without an S256
	// code_challenge. Public clients (no secret) always need one.
	RequirePKCE bool
	// AuthorizationResponseIss advertises
	// authorization_response_iss_parameter_supported in discovery and adds
	// iss to authorization responses (RFC 9207, mix-up defence).
	AuthorizationResponseIss bool
	// HideUsers leaves the demo accounts and their passwords off the login
	// page.
	HideUsers bool
	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
}

// OIDCClient is a relying party registered at the provider.
type OIDCClient struct {
	// ID is the client_id. Required.
	ID string
	// Secret is the client_secret, accepted with client_secret_basic or
	// client_secret_post. Empty makes a public client, which must use PKCE.
	Secret string
	// RedirectURIs are the allowed redirect_uri values, matched exactly.
	RedirectURIs []string
}

// Faults are deliberate protocol violations for testing that a relying
// party rejects them. The zero value is a well-behaved provider. They
// apply to every token and redirect issued after SetFaults.
type Faults struct {
	// Alg is the ID token's signing algorithm: "" (RS256 with the
	// published key), AlgNone or AlgHS256.
	Alg string
	// UnknownKey signs the ID token (RS256) with a key that is not in the
	// JWKS, under a kid that is not there either.
	UnknownKey bool
	// Issuer overrides the iss claim.
	Issuer string
	// Audience overrides the aud claim.
	Audience string
	// Expired makes the ID token expired an hour ago (exp, iat in the past).
	Expired bool
	// Nonce overrides the nonce claim (a nonce other than the request's).
	Nonce string
	// Claims are merged into the ID token last; a nil value deletes the
	// claim (to test missing sub, aud, iat…).
	Claims map[string]any

	// ResponseIss is the iss parameter of authorization responses; it is
	// sent even if AuthorizationResponseIss is off.
	ResponseIss string
	// DiscoveryIssuer overrides the issuer in the discovery document.
	DiscoveryIssuer string
	// UserinfoSubject overrides sub in userinfo responses.
	UserinfoSubject string
}

// OIDCProvider is an in-process OpenID Connect provider for tests and
// demos: discovery, JWKS, the authorization code flow with PKCE (S256),
// userinfo, a login form, and Faults to produce bad tokens.
//
// An OIDCProvider is an http.Handler: mount it at the path of the issuer
// URL without stripping the prefix. It is safe for concurrent use.
type OIDCProvider struct {
	issuer   string // issuer URL, no trailing slash
	basePath string // path of the issuer URL, no trailing slash
	key      *rsa.PrivateKey
	kid      string
	opts     OIDCOptions
	log      *slog.Logger
	origin   *http.CrossOriginProtection
	users    userStore
	mux      *http.ServeMux

	mu         sync.Mutex
	clients    map[string]OIDCClient
	pending    map[string]authRequest
	codes      map[string]authCode
	tokens     map[string]accessGrant
	faults     Faults
	unknownKey *rsa.PrivateKey // made on first use by Faults.UnknownKey
}

// authRequest is a validated authorization request.
type authRequest struct {
	clientID, redirectURI string
	state, nonce, scope   string
	challenge, loginHint  string
	expires               time.Time // of the login page, while pending
}

// authCode is an issued authorization code.
type authCode struct {
	req      authRequest
	email    string
	authTime time.Time
	expires  time.Time
}

// accessGrant is what an access token allows: userinfo for a user.
type accessGrant struct {
	email   string
	expires time.Time
}

// NewOIDC returns an OpenID provider whose issuer is issuerURL, such as
// "http://127.0.0.1:8080/testidp/oidc". Discovery is served at
// issuerURL+"/.well-known/openid-configuration".
func NewOIDC(issuerURL string, opts OIDCOptions) (*OIDCProvider, error) {
	base, err := parseBaseURL(issuerURL)
	if err != nil {
		return nil, err
	}
	key := opts.Key
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, keyBits); err != nil {
			return nil, fmt.Errorf("testidp: generate RSA key: %w", err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	origin := http.NewCrossOriginProtection()
	if err := origin.AddTrustedOrigin(base.Scheme + "://" + base.Host); err != nil {
		return nil, fmt.Errorf("testidp: trusted origin: %w", err)
	}
	p := &OIDCProvider{
		issuer:   strings.TrimSuffix(base.String(), "/"),
		basePath: strings.TrimSuffix(base.Path, "/"),
		key:      key,
		kid:      jwkThumbprint(&key.PublicKey),
		opts:     opts,
		log:      log,
		origin:   origin,
		clients:  make(map[string]OIDCClient),
		pending:  make(map[string]authRequest),
		codes:    make(map[string]authCode),
		tokens:   make(map[string]accessGrant),
	}
	bp := p.basePath
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET "+bp+"/.well-known/openid-configuration", p.handleDiscovery)
	p.mux.HandleFunc("GET "+bp+"/jwks", p.handleJWKS)
	p.mux.HandleFunc("GET "+bp+"/authorize", p.handleAuthorize)
	p.mux.HandleFunc("POST "+bp+"/login", p.handleLogin)
	p.mux.HandleFunc("POST "+bp+"/token", p.handleToken)
	p.mux.HandleFunc("GET "+bp+"/userinfo", p.handleUserinfo)
	p.mux.HandleFunc("POST "+bp+"/userinfo", p.handleUserinfo)
	p.mux.HandleFunc("GET "+bp+"/{$}", p.handleHome)
	return p, nil
}

// ServeHTTP serves the provider's endpoints under the issuer's path:
//
//	GET       /.well-known/openid-configuration  discovery
//	GET       /jwks                              the signing key
//	GET       /authorize                         authorization (login form or AutoApprove)
//	POST      /login                             the login form's target
//	POST      /token                             authorization_code grant
//	GET, POST /userinfo                          claims for a bearer access token
//	GET       /                                  a landing page: endpoints, clients, demo accounts
func (p *OIDCProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// Issuer returns the issuer URL.
func (p *OIDCProvider) Issuer() string { return p.issuer }

// KeyID returns the kid of the ID token signing key.
func (p *OIDCProvider) KeyID() string { return p.kid }

// AddUser adds a user who can sign in, replacing any user with the same
// email address.
func (p *OIDCProvider) AddUser(u User) error { return p.users.put(u) }

// AddClient registers a relying party, replacing any with the same ID.
func (p *OIDCProvider) AddClient(c OIDCClient) error {
	if c.ID == "" {
		return errors.New("testidp: client needs an ID")
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("testidp: client needs at least one redirect URI")
	}
	for _, ru := range c.RedirectURIs {
		u, err := url.Parse(ru)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return fmt.Errorf("testidp: redirect URI %q must be absolute, without fragment", ru)
		}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
	return nil
}

// SetFaults sets the protocol violations of later responses; pass the
// zero Faults to behave again.
func (p *OIDCProvider) SetFaults(f Faults) {
	f.Claims = maps.Clone(f.Claims)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// currentFaults returns the faults in force.
func (p *OIDCProvider) currentFaults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// client returns a registered client.
func (p *OIDCProvider) client(id string) (OIDCClient, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[id]
	return c, ok
}

// handleDiscovery serves the OpenID Provider Configuration document.
func (p *OIDCProvider) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	f := p.currentFaults()
	doc := map[string]any{
		"issuer":                                orString(f.DiscoveryIssuer, p.issuer),
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"userinfo_endpoint":                     p.issuer + "/userinfo",
		"jwks_uri":                              p.issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported": []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"email", "email_verified", "name", "given_name", "family_name", "groups",
		},
	}
	if p.opts.AuthorizationResponseIss {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc)
}

// handleJWKS serves the public signing key. Faults.UnknownKey relies on
// the rogue key never appearing here.
func (p *OIDCProvider) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{rsaJWK(&p.key.PublicKey, p.kid)}})
}

// authorizeParams are the parameters that must not be repeated (RFC 6749
// §3.1).
var authorizeParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "login_hint", "prompt",
}

// handleAuthorize validates an authorization request, then signs the user
// in with the login form or AutoApprove.
func (p *OIDCProvider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, ok := p.client(q.Get("client_id"))
	if !ok {
		// Never redirect before client and redirect URI are known good
		// (RFC 6749 §4.1.2.1): that would be an open redirect.
		renderError(w, p.log, oidcProtocol, http.StatusBadRequest, "Unknown application", "client_id does not name a registered client.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if len(q["redirect_uri"]) != 1 || !slices.Contains(client.RedirectURIs, redirectURI) {
		renderError(w, p.log, oidcProtocol, http.StatusBadRequest, "Invalid redirect URI", "redirect_uri is missing or not registered for this client.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		p.redirect(w, r, redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
	}
	for _, name := range authorizeParams {
		if len(q[name]) > 1 {
			fail("invalid_request", name+" is repeated")
			return
		}
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		fail("invalid_scope", "scope must include openid")
		return
	}
	challenge := q.Get("code_challenge")
	switch {
	case challenge == "" && (p.opts.RequirePKCE || client.Secret == ""):
		fail("invalid_request", "code_challenge is required")
		return
	case challenge != "" && q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case challenge != "" && !validPKCEValue(challenge, 43, 43):
		fail("invalid_request", "code_challenge is malformed")
		return
	}
	ar := authRequest{
		clientID:    client.ID,
		redirectURI: redirectURI,
		state:       state,
		nonce:       q.Get("nonce"),
		scope:       q.Get("scope"),
		challenge:   challenge,
		loginHint:   q.Get("login_hint"),
	}
	if p.opts.AutoApprove {
		u, ok := p.users.get(ar.loginHint)
		if !ok {
			all := p.users.all()
			if len(all) == 0 {
				fail("access_denied", "the provider has no users")
				return
			}
			u = all[0]
		}
		p.approve(w, r, ar, u)
		return
	}
	if q.Get("prompt") == "none" {
		// There is no session at this provider: every login is explicit.
		fail("login_required", "the user must sign in")
		return
	}
	p.showLogin(w, http.StatusOK, ar, ar.loginHint, "")
}

// handleHome is the provider's landing page: what it is, its endpoints,
// its registered clients and (unless hidden) the demo accounts.
func (p *OIDCProvider) handleHome(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	clients := slices.SortedFunc(maps.Values(p.clients), func(a, b OIDCClient) int { return strings.Compare(a.ID, b.ID) })
	p.mu.Unlock()
	var users []User
	if !p.opts.HideUsers {
		users = p.users.all()
	}
	render(w, p.log, http.StatusOK, "oidc-home", map[string]any{
		"Protocol":  oidcProtocol,
		"Issuer":    p.issuer,
		"Discovery": p.issuer + "/.well-known/openid-configuration",
		"Clients":   clients,
		"Users":     users,
	})
}

// showLogin stores ar and renders the login page that continues it.
func (p *OIDCProvider) showLogin(w http.ResponseWriter, status int, ar authRequest, email, errMsg string) {
	id := randomID()
	now := time.Now()
	ar.expires = now.Add(pendingLifetime)
	p.mu.Lock()
	dropExpired(p.pending, now, func(v authRequest) time.Time { return v.expires })
	p.pending[id] = ar
	p.mu.Unlock()
	p.renderLogin(w, status, id, ar.clientID, email, errMsg)
}

// renderLogin renders the login page for the pending request id.
func (p *OIDCProvider) renderLogin(w http.ResponseWriter, status int, id, app, email, errMsg string) {
	page := loginPage{
		Protocol: oidcProtocol,
		App:      app,
		Error:    errMsg,
		Action:   p.basePath + "/login",
		LoginID:  id,
		Email:    email,
	}
	if !p.opts.HideUsers {
		page.Users = p.users.all()
	}
	render(w, p.log, status, "login", page)
}

// handleLogin checks the login form and completes the authorization.
func (p *OIDCProvider) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := p.origin.Check(r); err != nil {
		renderError(w, p.log, oidcProtocol, http.StatusForbidden, "Sign-in refused", "The sign-in form was posted from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		renderError(w, p.log, oidcProtocol, http.StatusBadRequest, "Bad request", "The sign-in form could not be read.")
		return
	}
	id := r.PostForm.Get("login_id")
	email := r.PostForm.Get("email")
	p.mu.Lock()
	ar, ok := p.pending[id]
	p.mu.Unlock()
	if !ok || time.Now().After(ar.expires) {
		renderError(w, p.log, oidcProtocol, http.StatusBadRequest, "Sign-in expired", "This sign-in page has expired. Go back to the application and start again.")
		return
	}
	u, ok := p.users.authenticate(email, r.PostForm.Get("password"))
	if !ok {
		p.log.Info("testidp: OIDC login failed", "email", email)
		p.renderLogin(w, http.StatusOK, id, ar.clientID, email, "Incorrect email or password.")
		return
	}
	p.mu.Lock()
	delete(p.pending, id) // each login page is used once
	p.mu.Unlock()
	p.approve(w, r, ar, u)
}

// approve issues a code for u and redirects back to the client.
func (p *OIDCProvider) approve(w http.ResponseWriter, r *http.Request, ar authRequest, u User) {
	code := randomID()
	now := time.Now()
	p.mu.Lock()
	dropExpired(p.codes, now, func(c authCode) time.Time { return c.expires })
	p.codes[code] = authCode{req: ar, email: u.Email, authTime: now, expires: now.Add(codeLifetime)}
	p.mu.Unlock()
	p.redirect(w, r, ar.redirectURI, url.Values{"code": {code}, "state": {ar.state}})
}

// redirect sends the authorization response params to redirectURI, with
// iss when RFC 9207 is on or a fault asks for it.
func (p *OIDCProvider) redirect(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// Registered URIs were parsed by AddClient.
		renderError(w, p.log, oidcProtocol, http.StatusInternalServerError, "Bad redirect URI", err.Error())
		return
	}
	q := u.Query()
	for k, vs := range params {
		if len(vs) > 0 && vs[0] != "" {
			q.Set(k, vs[0])
		}
	}
	if iss := p.currentFaults().ResponseIss; iss != "" {
		q.Set("iss", iss)
	} else if p.opts.AuthorizationResponseIss {
		q.Set("iss", p.issuer)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// tokenError writes an OAuth error response (RFC 6749 §5.2).
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.6) for an access token and an ID token.
func (p *OIDCProvider) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return
	}
	form := r.PostForm

	client, err := p.authenticateClient(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="testidp"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	if form.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is supported")
		return
	}

	p.mu.Lock()
	code, ok := p.codes[form.Get("code")]
	delete(p.codes, form.Get("code")) // single use, even when the request fails
	p.mu.Unlock()
	switch {
	case !ok || time.Now().After(code.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, used or expired")
		return
	case code.req.clientID != client.ID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client")
		return
	case form.Get("redirect_uri") != code.req.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	}
	verifier := form.Get("code_verifier")
	switch {
	case code.req.challenge == "" && verifier != "":
		// RFC 9700 §2.1.1: refuse a verifier when no challenge was sent,
		// or PKCE could be downgraded.
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier sent without a code_challenge")
		return
	case code.req.challenge != "" && (!validPKCEValue(verifier, 43, 128) ||
		subtle.ConstantTimeCompare([]byte(pkceS256(verifier)), []byte(code.req.challenge)) != 1):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	u, ok := p.users.get(code.email)
	if !ok {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the user no longer exists")
		return
	}

	accessToken := randomID()
	now := time.Now()
	p.mu.Lock()
	dropExpired(p.tokens, now, func(g accessGrant) time.Time { return g.expires })
	p.tokens[accessToken] = accessGrant{email: u.Email, expires: now.Add(tokenLifetime)}
	p.mu.Unlock()

	idToken, err := p.idToken(client.ID, u, code.req.nonce, code.authTime, accessToken, now)
	if err != nil {
		p.log.Error("testidp: make ID token", "err", err)
		tokenError(w, http.StatusInternalServerError, "server_error", "cannot make the ID token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": accessToken,
		"token_type":   "Bearer",
		"expires_in":   int(tokenLifetime / time.Second),
		"id_token":     idToken,
		"scope":        code.req.scope,
	})
}

// authenticateClient returns the client that authenticated the token
// request with client_secret_basic or client_secret_post, or the public
// client named by client_id.
func (p *OIDCProvider) authenticateClient(r *http.Request) (OIDCClient, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return OIDCClient{}, errors.New("malformed client credentials")
		}
		if r.PostForm.Has("client_secret") {
			return OIDCClient{}, errors.New("use one client authentication method")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := p.client(id)
	if !ok {
		return OIDCClient{}, errors.New("unknown client")
	}
	if c.Secret == "" {
		if secret != "" {
			return OIDCClient{}, errors.New("public client sent a secret")
		}
		return c, nil
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return OIDCClient{}, errors.New("client authentication failed")
	}
	return c, nil
}

// idToken makes the ID token for u, with the faults in force.
func (p *OIDCProvider) idToken(clientID string, u User, nonce string, authTime time.Time, accessToken string, now time.Time) (string, error) {
	f := p.currentFaults()
	iat, exp := now, now.Add(tokenLifetime)
	if f.Expired {
		iat, exp = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
	claims := map[string]any{
		"iss":            orString(f.Issuer, p.issuer),
		"sub":            u.subject(),
		"aud":            orString(f.Audience, clientID),
		"iat":            iat.Unix(),
		"exp":            exp.Unix(),
		"auth_time":      authTime.Unix(),
		"at_hash":        atHash(accessToken),
		"email":          u.Email,
		"email_verified": true,
	}
	if n := orString(f.Nonce, nonce); n != "" {
		claims["nonce"] = n
	}
	maps.Copy(claims, profileClaims(u))
	for k, v := range f.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}

	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": p.kid}
	sign := rs256Signer(p.key)
	switch f.Alg {
	case "":
		if f.UnknownKey {
			key, err := p.rogueKey()
			if err != nil {
				return "", err
			}
			header["kid"] = "unknown-" + jwkThumbprint(&key.PublicKey)
			sign = rs256Signer(key)
		}
	case AlgNone:
		header = map[string]any{"typ": "JWT", "alg": AlgNone}
		sign = noneSigner
	case AlgHS256:
		secret, err := publicKeyPEM(&p.key.PublicKey)
		if err != nil {
			return "", err
		}
		header["alg"] = AlgHS256
		sign = hs256Signer(secret)
	default:
		return "", fmt.Errorf("testidp: unsupported fault alg %q", f.Alg)
	}
	return signJWT(header, claims, sign)
}

// rogueKey returns the key that Faults.UnknownKey signs with.
func (p *OIDCProvider) rogueKey() (*rsa.PrivateKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unknownKey == nil {
		key, err := rsa.GenerateKey(rand.Reader, keyBits)
		if err != nil {
			return nil, fmt.Errorf("testidp: generate RSA key: %w", err)
		}
		p.unknownKey = key
	}
	return p.unknownKey, nil
}

// profileClaims returns the name and group claims of u that are set.
func profileClaims(u User) map[string]any {
	c := map[string]any{}
	if n := u.name(); n != "" {
		c["name"] = n
	}
	if u.FirstName != "" {
		c["given_name"] = u.FirstName
	}
	if u.LastName != "" {
		c["family_name"] = u.LastName
	}
	if len(u.Groups) > 0 {
		c["groups"] = slices.Clone(u.Groups)
	}
	return c
}

// handleUserinfo returns the claims of the user an access token was
// issued for.
func (p *OIDCProvider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	grant, found := p.tokens[token]
	p.mu.Unlock()
	if !ok || !found || time.Now().After(grant.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		tokenError(w, http.StatusUnauthorized, "invalid_token", "the access token is unknown or expired")
		return
	}
	u, ok := p.users.get(grant.email)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		tokenError(w, http.StatusUnauthorized, "invalid_token", "the user no longer exists")
		return
	}
	claims := profileClaims(u)
	claims["sub"] = orString(p.currentFaults().UserinfoSubject, u.subject())
	claims["email"] = u.Email
	claims["email_verified"] = true
	writeJSON(w, http.StatusOK, claims)
}

// validPKCEValue reports whether v is a PKCE verifier or challenge: length
// within [min, max] of unreserved characters (RFC 7636 §4.1, §4.2).
func validPKCEValue(v string, minLen, maxLen int) bool {
	if len(v) < minLen || len(v) > maxLen {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// writeJSON writes v as a JSON response that no cache may keep: token and
// userinfo responses carry credentials (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}
