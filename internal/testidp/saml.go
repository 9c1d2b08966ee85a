package testidp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
)

const (
	// samlProtocol labels the pages of the SAML IdP.
	samlProtocol = "SAML 2.0"
	// samlSessionCookie names the browser session cookie of the SAML IdP.
	samlSessionCookie = "gatehouse_testidp_saml"
	// sessionLifetime is how long a browser stays signed in at the IdP.
	sessionLifetime = 8 * time.Hour
	// pendingLifetime is how long a login page stays usable.
	pendingLifetime = 15 * time.Minute
	// maxFormBytes bounds the login and start forms, which are tiny.
	maxFormBytes = 64 << 10
	// maxMetadataBytes bounds SP metadata given to AddServiceProviderMetadata.
	maxMetadataBytes = 1 << 20
)

// metadataValidity is the validUntil (and cacheDuration) of the IdP
// metadata. crewjam's default of 48 hours would let the copy a relying
// party stored at start-up expire under a long-running `gatehouse dev`.
const metadataValidity = 365 * 24 * time.Hour

// SAMLOptions configures NewSAML.
type SAMLOptions struct {
	// BaseURL is the absolute URL under which the IdP's handler is reached,
	// such as "http://127.0.0.1:8080/testidp/saml". Required. The metadata
	// is served at BaseURL+"/metadata" and the SSO endpoint at
	// BaseURL+"/sso".
	BaseURL string
	// EntityID is the IdP's entity ID (the Issuer of its responses). It
	// defaults to the metadata URL.
	EntityID string
	// KeyPair signs responses and is published in the metadata. When nil
	// a new RSA-2048 key and self-signed certificate are generated; pass a
	// saved one to keep the IdP stable across restarts.
	KeyPair *KeyPair
	// HideUsers leaves the demo accounts and their passwords off the login
	// page.
	HideUsers bool
	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
}

// SAMLIdP is an in-process SAML 2.0 identity provider for tests and demos.
// It serves its metadata, the SSO endpoint (HTTP-Redirect and HTTP-POST
// bindings), a login form, and IdP-initiated login; it answers with the
// HTTP-POST binding. It also builds arbitrary, possibly malformed, signed
// responses without a browser (see Response).
//
// A SAMLIdP is an http.Handler: mount it at the path of BaseURL without
// stripping the prefix. It is safe for concurrent use.
type SAMLIdP struct {
	baseURL   string // BaseURL without a trailing slash
	basePath  string // path of BaseURL without a trailing slash
	secure    bool   // BaseURL is https, so cookies are Secure
	keys      *KeyPair
	idp       *saml.IdentityProvider
	mux       *http.ServeMux
	log       *slog.Logger
	hideUsers bool
	origin    *http.CrossOriginProtection
	users     userStore

	mu       sync.Mutex
	sps      map[string]*saml.EntityDescriptor
	spOrder  []string
	sessions map[string]samlSession
	pending  map[string]pendingLogin
}

// samlSession is a browser's sign-in at the IdP.
type samlSession struct {
	email   string
	created time.Time
	expires time.Time
	index   string
}

// pendingLogin is what a login page continues with once the user has
// signed in. It is kept on the server, keyed by the login page's random
// login_id, so the form cannot be pointed anywhere else (no open redirect)
// and a signed AuthnRequest is replayed byte for byte.
type pendingLogin struct {
	expires time.Time
	app     string     // service provider shown on the page
	method  string     // method of the request to resume; "" goes home
	path    string     // path of the request to resume
	query   string     // raw query of the request to resume
	form    url.Values // posted form of the request to resume
}

// NewSAML returns a SAML IdP reachable at opts.BaseURL.
func NewSAML(opts SAMLOptions) (*SAMLIdP, error) {
	base, err := parseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	keys := opts.KeyPair
	if keys == nil {
		if keys, err = NewKeyPair("Gatehouse test IdP " + base.Host); err != nil {
			return nil, err
		}
	} else if err := keys.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	baseURL := strings.TrimSuffix(base.String(), "/")
	entityID := opts.EntityID
	if entityID == "" {
		entityID = baseURL + "/metadata"
	}
	entityURL, err := url.Parse(entityID)
	if err != nil {
		return nil, fmt.Errorf("testidp: entity ID: %w", err)
	}
	ssoURL, err := url.Parse(baseURL + "/sso")
	if err != nil {
		return nil, fmt.Errorf("testidp: SSO URL: %w", err)
	}

	origin := http.NewCrossOriginProtection()
	if err := origin.AddTrustedOrigin(base.Scheme + "://" + base.Host); err != nil {
		return nil, fmt.Errorf("testidp: trusted origin: %w", err)
	}

	s := &SAMLIdP{
		baseURL:   baseURL,
		basePath:  strings.TrimSuffix(base.Path, "/"),
		secure:    base.Scheme == "https",
		keys:      keys,
		log:       log,
		hideUsers: opts.HideUsers,
		origin:    origin,
		sps:       make(map[string]*saml.EntityDescriptor),
		sessions:  make(map[string]samlSession),
		pending:   make(map[string]pendingLogin),
	}
	validity := metadataValidity // crewjam wants a pointer
	s.idp = &saml.IdentityProvider{
		Key:         keys.Key,
		Certificate: keys.Certificate,
		Logger:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// crewjam uses MetadataURL as the entity ID; our own mux decides
		// where the metadata is served.
		MetadataURL:             *entityURL,
		SSOURL:                  *ssoURL,
		ServiceProviderProvider: spProvider{s},
		SessionProvider:         sessionProvider{s},
		AssertionMaker:          assertionMaker{s},
		ResponseFormTemplate:    pages().Lookup("post"),
		OnError:                 s.onError,
		NameIDFormats:           []saml.NameIDFormat{saml.EmailAddressNameIDFormat, saml.PersistentNameIDFormat},
		ValidDuration:           &validity,
	}

	p := s.basePath
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+p+"/metadata", s.idp.ServeMetadata)
	s.mux.HandleFunc(p+"/sso", s.idp.ServeSSO) // crewjam dispatches on GET (Redirect) and POST
	s.mux.HandleFunc(p+"/start", s.handleStart)
	s.mux.HandleFunc("POST "+p+"/login", s.handleLogin)
	s.mux.HandleFunc("POST "+p+"/logout", s.handleLogout)
	s.mux.HandleFunc("GET "+p+"/{$}", s.handleHome)
	return s, nil
}

// parseBaseURL checks that raw is an absolute http(s) URL without query or
// fragment, since every endpoint URL is derived from it.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("testidp: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("testidp: base URL %q must be an absolute http(s) URL without query or fragment", raw)
	}
	return u, nil
}

// ServeHTTP serves the IdP's endpoints under the path of BaseURL:
//
//	GET       /metadata  the IdP metadata
//	GET, POST /sso       SP-initiated login (HTTP-Redirect or HTTP-POST binding)
//	GET, POST /start     IdP-initiated login: sp=<SP entity ID>[&RelayState=…]
//	GET       /          the login page, or the list of applications once signed in
//	POST      /login     the login form's target
//	POST      /logout    ends the browser's session
func (s *SAMLIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// EntityID returns the IdP's entity ID.
func (s *SAMLIdP) EntityID() string { return s.idp.MetadataURL.String() }

// MetadataURL returns the URL of the IdP metadata.
func (s *SAMLIdP) MetadataURL() string { return s.baseURL + "/metadata" }

// SSOURL returns the URL of the single sign-on service.
func (s *SAMLIdP) SSOURL() string { return s.idp.SSOURL.String() }

// LoginURL returns the URL of the IdP's own page: a login form, then the
// list of applications that can be opened with IdP-initiated login.
func (s *SAMLIdP) LoginURL() string { return s.baseURL + "/" }

// StartURL returns the URL that starts an IdP-initiated login to the
// service provider spEntityID, with an optional RelayState.
func (s *SAMLIdP) StartURL(spEntityID, relayState string) string {
	q := url.Values{"sp": {spEntityID}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	return s.baseURL + "/start?" + q.Encode()
}

// KeyPair returns the IdP's signing key and certificate.
func (s *SAMLIdP) KeyPair() *KeyPair { return s.keys }

// CertificatePEM returns the IdP's signing certificate in PEM form.
func (s *SAMLIdP) CertificatePEM() []byte { return s.keys.CertificatePEM() }

// MetadataXML returns the IdP metadata, as served at MetadataURL. It is
// valid for a year from the call.
func (s *SAMLIdP) MetadataXML() []byte {
	buf, err := xml.MarshalIndent(s.idp.Metadata(), "", "  ")
	if err != nil {
		// The metadata is built from our own well-formed values.
		panic(fmt.Sprintf("testidp: marshal metadata: %v", err))
	}
	return buf
}

// AddUser adds a user who can sign in, replacing any user with the same
// email address.
func (s *SAMLIdP) AddUser(u User) error { return s.users.put(u) }

// AddServiceProvider registers a service provider by its entity ID and its
// assertion consumer service URL (HTTP-POST binding). It replaces any
// registration with the same entity ID.
func (s *SAMLIdP) AddServiceProvider(entityID, acsURL string) error {
	if entityID == "" {
		return errors.New("testidp: service provider needs an entity ID")
	}
	if u, err := url.Parse(acsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("testidp: ACS URL %q must be an absolute http(s) URL", acsURL)
	}
	ed := &saml.EntityDescriptor{
		EntityID: entityID,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{
				RoleDescriptor: saml.RoleDescriptor{ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"},
			},
			AssertionConsumerServices: []saml.IndexedEndpoint{{
				Binding:  saml.HTTPPostBinding,
				Location: acsURL,
				Index:    0,
			}},
		}},
	}
	s.putSP(ed)
	return nil
}

// AddServiceProviderMetadata registers a service provider from its SAML
// metadata (an EntityDescriptor with an SPSSODescriptor) and returns its
// entity ID. If the metadata publishes an encryption certificate, browser
// logins encrypt their assertions to it. It replaces any registration with
// the same entity ID.
func (s *SAMLIdP) AddServiceProviderMetadata(metadata []byte) (string, error) {
	if len(metadata) > maxMetadataBytes {
		return "", errors.New("testidp: SP metadata is too large")
	}
	// encoding/xml resolves no entities, but a DOCTYPE has no business in
	// metadata and refusing it mirrors what a careful IdP does.
	if bytes.Contains(bytes.ToUpper(metadata), []byte("<!DOCTYPE")) {
		return "", errors.New("testidp: SP metadata must not contain a DOCTYPE")
	}
	ed := &saml.EntityDescriptor{}
	if err := xml.Unmarshal(metadata, ed); err != nil {
		return "", fmt.Errorf("testidp: parse SP metadata: %w", err)
	}
	if ed.EntityID == "" {
		return "", errors.New("testidp: SP metadata has no entityID")
	}
	hasACS := slices.ContainsFunc(ed.SPSSODescriptors, func(d saml.SPSSODescriptor) bool {
		return len(d.AssertionConsumerServices) > 0
	})
	if !hasACS {
		return "", errors.New("testidp: SP metadata has no AssertionConsumerService")
	}
	s.putSP(ed)
	return ed.EntityID, nil
}

// putSP stores a service provider registration.
func (s *SAMLIdP) putSP(ed *saml.EntityDescriptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sps[ed.EntityID]; !ok {
		s.spOrder = append(s.spOrder, ed.EntityID)
	}
	s.sps[ed.EntityID] = ed
}

// sp returns a registered service provider.
func (s *SAMLIdP) sp(entityID string) (*saml.EntityDescriptor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ed, ok := s.sps[entityID]
	return ed, ok
}

// PostForm is a SAML Response ready for the HTTP-POST binding: post
// SAMLResponse and RelayState as form fields to URL.
type PostForm struct {
	URL          string
	SAMLResponse string
	RelayState   string
}

// Values returns the form fields to post.
func (f *PostForm) Values() url.Values {
	v := url.Values{"SAMLResponse": {f.SAMLResponse}}
	if f.RelayState != "" {
		v.Set("RelayState", f.RelayState)
	}
	return v
}

// IdPInitiatedLogin signs the registered user email in to the service
// provider spEntityID without a browser, as the /start endpoint does: an
// unsolicited Response to the SP's default ACS, response and assertion
// signed, the assertion encrypted if the SP's metadata asks for it.
func (s *SAMLIdP) IdPInitiatedLogin(spEntityID, email, relayState string) (*PostForm, error) {
	u, ok := s.users.get(email)
	if !ok {
		return nil, fmt.Errorf("testidp: unknown user %q", email)
	}
	r, err := http.NewRequest(http.MethodGet, s.SSOURL(), nil)
	if err != nil {
		return nil, err
	}
	req, err := s.idp.NewIdpInitiatedRequest(r, spEntityID, relayState)
	if err != nil {
		return nil, fmt.Errorf("testidp: IdP-initiated login: %w", err)
	}
	return s.answer(req, u)
}

// SPInitiatedLogin answers an AuthnRequest for the registered user email
// without a browser, as the SSO endpoint does once the user has signed in.
// authnRequestURL is the HTTP-Redirect binding URL that the service
// provider sent the browser to (SSOURL with SAMLRequest, RelayState and
// any query signature). The request is validated as the SSO endpoint
// validates it.
func (s *SAMLIdP) SPInitiatedLogin(authnRequestURL, email string) (*PostForm, error) {
	u, ok := s.users.get(email)
	if !ok {
		return nil, fmt.Errorf("testidp: unknown user %q", email)
	}
	r, err := http.NewRequest(http.MethodGet, authnRequestURL, nil)
	if err != nil {
		return nil, fmt.Errorf("testidp: AuthnRequest URL: %w", err)
	}
	req, err := saml.NewIdpAuthnRequest(s.idp, r)
	if err != nil {
		return nil, fmt.Errorf("testidp: parse AuthnRequest: %w", err)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("testidp: invalid AuthnRequest: %w", err)
	}
	return s.answer(req, u)
}

// answer makes, signs and encodes the Response to req for u.
func (s *SAMLIdP) answer(req *saml.IdpAuthnRequest, u User) (*PostForm, error) {
	session := newSAMLSession(u, req.Now, randomID())
	if err := (assertionMaker{s}).MakeAssertion(req, session); err != nil {
		return nil, err
	}
	form, err := req.PostBinding()
	if err != nil {
		return nil, fmt.Errorf("testidp: make response: %w", err)
	}
	return &PostForm{URL: form.URL, SAMLResponse: form.SAMLResponse, RelayState: form.RelayState}, nil
}

// newSAMLSession returns the crewjam session for u signed in at created.
func newSAMLSession(u User, created time.Time, index string) *saml.Session {
	nameID, format := samlNameID(u)
	return &saml.Session{
		ID:             index,
		CreateTime:     created,
		ExpireTime:     created.Add(sessionLifetime),
		Index:          index,
		NameID:         nameID,
		NameIDFormat:   format,
		UserEmail:      u.Email,
		UserGivenName:  u.FirstName,
		UserSurname:    u.LastName,
		UserCommonName: u.name(),
		Groups:         slices.Clone(u.Groups),
	}
}

// samlNameID returns the NameID and its format for u: the Subject as a
// persistent identifier, else the email address.
func samlNameID(u User) (string, string) {
	if u.Subject != "" {
		return u.Subject, string(saml.PersistentNameIDFormat)
	}
	return u.Email, string(saml.EmailAddressNameIDFormat)
}

// spProvider looks up registered service providers for crewjam.
type spProvider struct{ s *SAMLIdP }

// GetServiceProvider implements saml.ServiceProviderProvider.
func (p spProvider) GetServiceProvider(_ *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	ed, ok := p.s.sp(entityID)
	if !ok {
		return nil, os.ErrNotExist
	}
	return ed, nil
}

// assertionMaker makes the assertions of browser and programmatic logins,
// with the attributes Gatehouse maps (email, firstName, lastName, groups)
// rather than crewjam's default eduPerson set.
type assertionMaker struct{ s *SAMLIdP }

// MakeAssertion implements saml.AssertionMaker.
func (m assertionMaker) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	u := User{
		Email:     session.UserEmail,
		FirstName: session.UserGivenName,
		LastName:  session.UserSurname,
		Groups:    session.Groups,
	}
	address := ""
	if req.HTTPRequest != nil {
		address = remoteHost(req.HTTPRequest.RemoteAddr)
	}
	req.Assertion = buildAssertion(assertionParams{
		id:           newSAMLID(),
		issuer:       m.s.EntityID(),
		now:          req.Now,
		notBefore:    req.Now,
		notOnOrAfter: req.Now.Add(defaultAssertionLifetime),
		subjectNotOn: req.Now.Add(defaultAssertionLifetime),
		nameID:       session.NameID,
		nameIDFormat: session.NameIDFormat,
		recipient:    req.ACSEndpoint.Location,
		inResponseTo: req.Request.ID,
		audience:     req.ServiceProviderMetadata.EntityID,
		address:      address,
		sessionIndex: session.Index,
		authnInstant: session.CreateTime,
		attributes:   userAttributes(u, nil),
	})
	return nil
}

// remoteHost returns the address part of an http.Request RemoteAddr.
func remoteHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// freshLoginKey marks a request resumed right after the user signed in.
type freshLoginKey struct{}

// sessionProvider authenticates browsers for crewjam.
type sessionProvider struct{ s *SAMLIdP }

// GetSession implements saml.SessionProvider: it returns the browser's
// session, or shows the login form and returns nil.
func (p sessionProvider) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s := p.s
	// The user has just signed in and this request resumes the one that
	// showed the login form: ForceAuthn is satisfied by that login.
	if sess, ok := r.Context().Value(freshLoginKey{}).(*saml.Session); ok {
		return sess
	}
	if req.Request.ForceAuthn == nil || !*req.Request.ForceAuthn {
		if sess, ok := s.browserSession(r); ok {
			return sess
		}
	}
	if req.Request.IsPassive != nil && *req.Request.IsPassive {
		// saml-core §3.4.1: a passive request must not show a login form.
		statusErr := &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoPassive}
		if err := s.idp.SendErrorResponse(w, req, statusErr); err != nil {
			s.onError(w, r, http.StatusInternalServerError, err)
		}
		return nil
	}
	pend := pendingLogin{app: spName(req.ServiceProviderMetadata), method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
	if r.Method == http.MethodPost {
		pend.form = cloneValues(r.PostForm)
	}
	s.showLogin(w, http.StatusOK, pend, "", "")
	return nil
}

// browserSession returns the session named by the request's cookie, if it
// is current and its user still exists.
func (s *SAMLIdP) browserSession(r *http.Request) (*saml.Session, bool) {
	c, err := r.Cookie(samlSessionCookie)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	sess, ok := s.sessions[c.Value]
	s.mu.Unlock()
	if !ok || time.Now().After(sess.expires) {
		return nil, false
	}
	u, ok := s.users.get(sess.email)
	if !ok {
		return nil, false
	}
	return newSAMLSession(u, sess.created, sess.index), true
}

// showLogin stores pend and renders the login page that continues it.
func (s *SAMLIdP) showLogin(w http.ResponseWriter, status int, pend pendingLogin, email, errMsg string) {
	id := randomID()
	now := time.Now()
	pend.expires = now.Add(pendingLifetime)
	s.mu.Lock()
	dropExpired(s.pending, now, func(p pendingLogin) time.Time { return p.expires })
	s.pending[id] = pend
	s.mu.Unlock()
	s.renderLogin(w, status, id, pend.app, email, errMsg)
}

// renderLogin renders the login page for the pending login id.
func (s *SAMLIdP) renderLogin(w http.ResponseWriter, status int, id, app, email, errMsg string) {
	page := loginPage{
		Protocol: samlProtocol,
		App:      app,
		Error:    errMsg,
		Action:   s.basePath + "/login",
		LoginID:  id,
		Email:    email,
	}
	if !s.hideUsers {
		page.Users = s.users.all()
	}
	render(w, s.log, status, "login", page)
}

// spName is how the pages name a service provider: its metadata's display
// name, else the host of its entity ID (which is often a long URL).
func spName(md *saml.EntityDescriptor) string {
	if md == nil {
		return ""
	}
	if org := md.Organization; org != nil && len(org.OrganizationDisplayNames) > 0 && org.OrganizationDisplayNames[0].Value != "" {
		return org.OrganizationDisplayNames[0].Value
	}
	if u, err := url.Parse(md.EntityID); err == nil && u.Host != "" {
		return u.Host
	}
	return md.EntityID
}

// handleHome shows the applications to a signed-in browser, else the
// login form.
func (s *SAMLIdP) handleHome(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.browserSession(r)
	if !ok {
		s.showLogin(w, http.StatusOK, pendingLogin{}, "", "")
		return
	}
	type app struct{ Name, EntityID string }
	var apps []app
	s.mu.Lock()
	for _, id := range s.spOrder {
		apps = append(apps, app{Name: spName(s.sps[id]), EntityID: id})
	}
	s.mu.Unlock()
	render(w, s.log, http.StatusOK, "home", map[string]any{
		"Protocol":     samlProtocol,
		"User":         User{Email: sess.UserEmail, FirstName: sess.UserGivenName},
		"Apps":         apps,
		"StartAction":  s.basePath + "/start",
		"LogoutAction": s.basePath + "/logout",
	})
}

// handleLogin checks the posted credentials and resumes what the login
// page was shown for.
func (s *SAMLIdP) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.origin.Check(r); err != nil {
		// Login CSRF: another site must not sign the browser in as the
		// attacker.
		renderError(w, s.log, samlProtocol, http.StatusForbidden, "Sign-in refused", "The sign-in form was posted from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		renderError(w, s.log, samlProtocol, http.StatusBadRequest, "Bad request", "The sign-in form could not be read.")
		return
	}
	id := r.PostForm.Get("login_id")
	email := r.PostForm.Get("email")
	s.mu.Lock()
	pend, ok := s.pending[id]
	s.mu.Unlock()
	if !ok || time.Now().After(pend.expires) {
		s.showLogin(w, http.StatusBadRequest, pendingLogin{}, email, "This sign-in page has expired. Sign in again, then restart from the application.")
		return
	}
	u, ok := s.users.authenticate(email, r.PostForm.Get("password"))
	if !ok {
		s.log.Info("testidp: SAML login failed", "email", email)
		s.renderLogin(w, http.StatusOK, id, pend.app, email, "Incorrect email or password.")
		return
	}
	s.mu.Lock()
	delete(s.pending, id) // each login page is used once
	s.mu.Unlock()

	sess := s.startSession(w, u)
	if pend.method == "" {
		http.Redirect(w, r, s.basePath+"/", http.StatusSeeOther)
		return
	}
	// Resume the original request in this response, rather than
	// redirecting to it, so that it works without cookies, keeps a POSTed
	// AuthnRequest intact, and satisfies ForceAuthn with this login.
	resumed := r.Clone(context.WithValue(r.Context(), freshLoginKey{}, sess))
	resumed.Method = pend.method
	resumed.URL = &url.URL{Path: pend.path, RawQuery: pend.query}
	resumed.RequestURI = resumed.URL.RequestURI()
	resumed.Body = http.NoBody
	resumed.ContentLength = 0
	resumed.Form = nil
	resumed.PostForm = pend.form
	if resumed.PostForm == nil {
		resumed.PostForm = url.Values{}
	}
	s.mux.ServeHTTP(w, resumed)
}

// startSession records that u signed in and sets the session cookie.
func (s *SAMLIdP) startSession(w http.ResponseWriter, u User) *saml.Session {
	now := time.Now()
	token := randomID()
	index := randomID()
	s.mu.Lock()
	dropExpired(s.sessions, now, func(sess samlSession) time.Time { return sess.expires })
	s.sessions[token] = samlSession{email: u.Email, created: now, expires: now.Add(sessionLifetime), index: index}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name:     samlSessionCookie,
		Value:    token,
		Path:     s.basePath + "/",
		MaxAge:   int(sessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		// Lax: the cookie must accompany the top-level navigation that
		// brings a browser from the service provider to /sso.
		SameSite: http.SameSiteLaxMode,
	})
	return newSAMLSession(u, now, index)
}

// handleLogout ends the browser's session at the IdP.
func (s *SAMLIdP) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.origin.Check(r); err != nil {
		renderError(w, s.log, samlProtocol, http.StatusForbidden, "Sign-out refused", "The sign-out form was posted from another site.")
		return
	}
	if c, err := r.Cookie(samlSessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: samlSessionCookie, Path: s.basePath + "/", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.Redirect(w, r, s.basePath+"/", http.StatusSeeOther)
}

// handleStart starts an IdP-initiated login to the service provider named
// by the sp parameter. GET serves links (such as those `gatehouse dev`
// prints); POST serves the application list and is checked for
// cross-site posting.
func (s *SAMLIdP) handleStart(w http.ResponseWriter, r *http.Request) {
	var sp, relayState string
	switch r.Method {
	case http.MethodGet:
		sp, relayState = r.URL.Query().Get("sp"), r.URL.Query().Get("RelayState")
	case http.MethodPost:
		if err := s.origin.Check(r); err != nil {
			renderError(w, s.log, samlProtocol, http.StatusForbidden, "Request refused", "The form was posted from another site.")
			return
		}
		if r.PostForm == nil { // not a resumed request
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				renderError(w, s.log, samlProtocol, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
		}
		sp, relayState = r.PostForm.Get("sp"), r.PostForm.Get("RelayState")
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if sp == "" {
		renderError(w, s.log, samlProtocol, http.StatusBadRequest, "No application", "The sp parameter must name a registered service provider.")
		return
	}
	s.idp.ServeIDPInitiated(w, r, sp, relayState)
}

// onError reports the errors of crewjam's handlers on an error page. The
// underlying error is shown: this IdP exists to help debug SAML clients.
func (s *SAMLIdP) onError(w http.ResponseWriter, r *http.Request, status int, err error) {
	s.log.Warn("testidp: SAML request failed", "path", r.URL.Path, "status", status, "err", err)
	title := "Sign-in failed"
	if status == http.StatusNotFound {
		title = "Unknown application"
	}
	renderError(w, s.log, samlProtocol, status, title, err.Error())
}

// randomID returns an unguessable token for sessions, logins and codes.
func randomID() string { return rand.Text() }

// dropExpired deletes the entries of m whose expiry has passed; the
// provider's in-memory logins, codes, tokens and sessions all age out this
// way when a new one is stored. The caller holds the map's lock.
func dropExpired[V any](m map[string]V, now time.Time, expiry func(V) time.Time) {
	for k, v := range m {
		if now.After(expiry(v)) {
			delete(m, k)
		}
	}
}

// newSAMLID returns an XML ID for a SAML message: an NCName, so it must not
// start with a digit.
func newSAMLID() string { return "_" + strings.ToLower(rand.Text()) }

// cloneValues returns a deep copy of v.
func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}
