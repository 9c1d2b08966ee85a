package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/wire"

	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// AuthorizeParams are the query parameters of GET /sso/authorize.
type AuthorizeParams struct {
	ClientID, RedirectURI, ResponseType, State string
	Connection, Organization, Provider, Domain string
	DomainHint, LoginHint                      string
	Prompt                                     string   // "login" forces re-authentication at the IdP
	ProviderScopes                             []string // extra OIDC scopes
	CodeChallenge, CodeChallengeMethod         string
	IPAddress, UserAgent                       string
}

// Outcome is where a browser goes after a step of the flow. When
// RedirectURI is empty the error cannot be sent back to the host app (the
// redirect_uri is not trusted, or an IdP-initiated login has nowhere to
// land) and is shown as a page instead.
type Outcome struct {
	Location string // on success: the IdP, or redirect_uri?code=
	// Page is an auto-submitting form to show instead of redirecting
	// (AuthnRequest with the HTTP-POST binding); PageNonce is its script's
	// CSP nonce.
	Page        []byte
	PageNonce   string
	RedirectURI string // the trusted redirect_uri for an error
	// Description, when set, is the error_description sent to RedirectURI
	// instead of the failure's message.
	Description string
	State       string
	ErrorCode   string // OAuth-style error for the redirect
	Err         *failure.Error
	// Bind, set when a login starts, is the secret to keep in the
	// browser's cookie for login BindRequestID (LoginCookieName).
	BindRequestID, BindSecret string
	// Unbind names the login whose cookie the IdP's answer spent.
	Unbind string
}

// Browser returns the login secret that the browser sent for a login
// request ID (the value of its LoginCookieName cookie), "" if none.
type Browser func(requestID string) string

// LoginCookieName is the name of the cookie that binds login requestID to
// the browser that started it. Each login has its own, so two tabs signing
// in at once do not overwrite each other's.
func LoginCookieName(requestID string) string {
	sum := sha256.Sum256([]byte(requestID))
	return "gatehouse_login_" + hex.EncodeToString(sum[:8])
}

// checkBrowser refuses an IdP answer to login req that comes without the
// cookie set in the browser that started it (login CSRF: an attacker's
// own IdP answer pushed into a victim's browser).
func checkBrowser(req store.SSORequest, browser Browser) *failure.Error {
	secret := ""
	if browser != nil {
		secret = browser(req.ID)
	}
	if secret == "" {
		return failure.Newf(failure.BrowserMismatch, "this browser has no sign-in cookie for the login")
	}
	if len(req.BrowserHash) == 0 || subtle.ConstantTimeCompare(secrets.Hash(secret), req.BrowserHash) != 1 {
		return failure.Newf(failure.BrowserMismatch, "this browser's sign-in cookie belongs to another login")
	}
	return nil
}

// ErrorLocation is the redirect_uri with error, error_description and state.
func (o Outcome) ErrorLocation() string {
	desc := o.Description
	if desc == "" && o.Err != nil {
		desc = o.Err.Message()
	}
	return withParams(o.RedirectURI, url.Values{"error": {o.ErrorCode}, "error_description": {desc}}, o.State)
}

func withParams(base string, v url.Values, state string) string {
	if state != "" {
		v.Set("state", state)
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// newRequestID returns an ID usable as a SAML xs:ID, OIDC state and
// RelayState: unguessable, URL-safe, starting with an underscore.
func newRequestID() string {
	return "_" + secrets.Token(20)
}

// Authorize starts a login: it checks the request, picks the connection,
// stores the login in flight and returns the IdP URL.
func (s *Service) Authorize(ctx context.Context, p AuthorizeParams) Outcome {
	// RFC 6749 §4.1.2.1: while the client or its redirect_uri is not
	// trusted, never redirect; the error is shown as a page.
	refuse := func(f *failure.Error) Outcome { return Outcome{State: p.State, ErrorCode: "invalid_request", Err: f} }
	switch {
	case p.ClientID == "":
		return refuse(failure.Newf(failure.ClientInvalid, "the client_id parameter is missing"))
	case subtle.ConstantTimeCompare([]byte(p.ClientID), []byte(s.ClientID)) != 1:
		return refuse(failure.Newf(failure.ClientInvalid, "client_id %q is not this Gatehouse's client ID", p.ClientID))
	case p.RedirectURI == "":
		return refuse(failure.Newf(failure.RedirectURIInvalid, "the redirect_uri parameter is missing"))
	case !s.redirectAllowed(ctx, p.RedirectURI):
		return refuse(failure.Newf(failure.RedirectURIInvalid, "redirect_uri %q is not on the allow-list", p.RedirectURI))
	}
	// From here on errors go back to the (trusted) redirect_uri, with the
	// fix in error_description: they are the host app developer's to fix.
	back := func(errCode string, f *failure.Error) Outcome {
		return Outcome{RedirectURI: p.RedirectURI, State: p.State, ErrorCode: errCode, Err: f,
			Description: f.Message() + ". How to fix: " + f.Reason().Fix}
	}
	if p.ResponseType != "code" {
		return back("unsupported_response_type", failure.Newf(failure.InvalidRequest, "response_type must be code").
			WithFix("Send response_type=code (the WorkOS SDKs do): Gatehouse supports only the authorization code flow."))
	}
	if p.CodeChallenge != "" && p.CodeChallengeMethod != "S256" && p.CodeChallengeMethod != "plain" && p.CodeChallengeMethod != "" {
		return back("invalid_request", failure.Newf(failure.InvalidRequest, "code_challenge_method must be S256 or plain").
			WithFix("Send code_challenge_method=S256 with a code_challenge, or leave both out."))
	}
	selectors := 0
	for _, v := range []string{p.Connection, p.Organization, p.Provider, p.Domain} {
		if v != "" {
			selectors++
		}
	}
	if selectors > 1 {
		return back("invalid_request", failure.Newf(failure.InvalidRequest, "give exactly one of connection, organization, provider or domain").
			WithFix("Pass only one of connection, organization, provider or domain to /sso/authorize."))
	}
	var conn store.Connection
	var err error
	switch {
	case p.Connection != "":
		conn, err = s.Store.GetConnection(ctx, p.Connection)
		if errors.Is(err, store.ErrNotFound) {
			return back("connection_invalid", failure.Newf(failure.ConnectionInvalid, "no connection %q", p.Connection).
				WithFix("Pass the ID of an existing connection (GET /connections lists them), or pass organization instead."))
		}
	case p.Organization != "":
		conn, err = s.activeConnection(ctx, p.Organization)
		if errors.Is(err, store.ErrNotFound) {
			return back("organization_invalid", failure.Newf(failure.ConnectionInvalid, "organization %q has no active connection", p.Organization))
		}
	case p.Provider != "":
		return back("invalid_request", failure.Newf(failure.InvalidRequest, "provider %q is not supported; use connection or organization", p.Provider).
			WithFix("Gatehouse has no OAuth providers (GoogleOAuth, MicrosoftOAuth, …) yet: sign users in through a connection or organization."))
	default:
		domain := p.Domain
		if domain == "" {
			domain = p.DomainHint
		}
		if domain == "" {
			if _, d, ok := strings.Cut(p.LoginHint, "@"); ok {
				domain = d
			}
		}
		if domain == "" {
			return back("invalid_request", failure.Newf(failure.InvalidRequest, "give one of connection, organization, domain_hint or login_hint").
				WithFix("Pass connection or organization, or a domain_hint or login_hint whose domain an organization has verified."))
		}
		conn, err = s.connectionForDomain(ctx, domain)
		if errors.Is(err, store.ErrNotFound) {
			return back("domain_invalid", failure.Newf(failure.ConnectionInvalid, "no organization with an active connection has verified %q", strings.ToLower(domain)).
				WithFix("Verify the domain for the organization (POST /organization_domains, then its DNS check) and give the organization an active connection, or pass organization or connection instead."))
		}
	}
	if err != nil {
		return back("server_error", failure.New(failure.InternalError, err))
	}
	if conn.State != store.ConnectionActive {
		f := failure.Newf(failure.ConnectionInactive, "connection %s is %s", conn.ID, conn.State)
		s.recordFailure(ctx, conn, p.IPAddress, p.UserAgent, f)
		return back("connection_invalid", f)
	}
	req := store.SSORequest{
		ID: newRequestID(), ConnectionID: conn.ID, OrganizationID: conn.OrganizationID, RedirectURI: p.RedirectURI,
		State: p.State, CodeChallenge: p.CodeChallenge, CodeChallengeMethod: p.CodeChallengeMethod,
		IPAddress: p.IPAddress, UserAgent: p.UserAgent, CreatedAt: s.now(), ExpiresAt: s.now().Add(RequestLifetime),
	}
	secret := secrets.Token(32)
	req.BrowserHash = secrets.Hash(secret)
	if req.CodeChallenge != "" && req.CodeChallengeMethod == "" {
		req.CodeChallengeMethod = "plain"
	}
	var location, pageNonce string
	var page []byte
	switch conn.Protocol {
	case store.ProtocolSAML:
		sp, err := s.requestSP(conn)
		if err == nil && p.Prompt == "login" {
			force := true
			sp.ForceAuthn = &force
		}
		switch {
		case err != nil:
		case conn.SAML.IdPSSOBinding == ssosaml.BindingPOST:
			nonce := secrets.Token(16)
			req.ID, page, err = ssosaml.AuthnRequestPOST(sp, nonce)
			pageNonce = nonce
		default:
			location, err = ssosaml.AuthnRequestURL(sp, req.ID, req.ID)
			if err == nil && p.LoginHint != "" && loginHintTypes[conn.Type] {
				location = addQuery(location, "login_hint", p.LoginHint)
			}
		}
		if err != nil {
			f := failure.New(failure.InternalError, err)
			s.recordFailure(ctx, conn, p.IPAddress, p.UserAgent, f)
			return back("server_error", f)
		}
	case store.ProtocolOIDC:
		req.Nonce, req.CodeVerifier = secrets.Token(24), secrets.Token(32)
		cfg, err := s.oidcConfig(conn)
		if err == nil {
			location, err = s.OIDC.AuthURL(ctx, cfg, req.ID, req.Nonce, req.CodeVerifier,
				oidc.AuthOptions{LoginHint: p.LoginHint, Prompt: p.Prompt, ExtraScopes: p.ProviderScopes})
		}
		if err != nil {
			f, ok := failure.As(err)
			if !ok {
				f = failure.New(failure.InternalError, err)
			}
			s.recordFailure(ctx, conn, p.IPAddress, p.UserAgent, f)
			return back("server_error", f)
		}
	}
	err = s.loginTx(ctx, func(q store.Queries) error {
		if err := q.CreateSSORequest(ctx, req); err != nil {
			return fmt.Errorf("store sso request: %w", err)
		}
		return events.Append(ctx, q, EventSSOStarted, conn.OrganizationID, authEvent("started", conn, p.IPAddress, p.UserAgent, "", nil))
	})
	if err != nil {
		return back("server_error", failure.New(failure.InternalError, err))
	}
	return Outcome{Location: location, Page: page, PageNonce: pageNonce, BindRequestID: req.ID, BindSecret: secret}
}

// loginHintTypes are the SAML IdPs that pre-fill their sign-in form from a
// login_hint query parameter on the SSO URL (outside the redirect
// binding's signature, so signed requests stay valid).
var loginHintTypes = map[string]bool{"OktaSAML": true, "AzureSAML": true}

// addQuery appends k=v to rawURL without re-encoding the existing query,
// whose exact bytes a redirect-binding signature covers.
func addQuery(rawURL, k, v string) string {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

// activeConnection returns an organization's first active connection.
func (s *Service) activeConnection(ctx context.Context, orgID string) (store.Connection, error) {
	cs, err := s.Store.ConnectionsForOrganization(ctx, orgID)
	if err != nil {
		return store.Connection{}, err
	}
	for _, c := range cs {
		if c.State == store.ConnectionActive {
			return c, nil
		}
	}
	return store.Connection{}, store.ErrNotFound
}

// connectionForDomain routes a domain to the active connection of the
// organization that verified it.
func (s *Service) connectionForDomain(ctx context.Context, domain string) (store.Connection, error) {
	d, err := s.Store.VerifiedDomain(ctx, strings.ToLower(strings.TrimSpace(domain)))
	if err != nil {
		return store.Connection{}, err
	}
	return s.activeConnection(ctx, d.OrganizationID)
}

// recordFailure appends authentication.sso_failed with the typed reason.
func (s *Service) recordFailure(ctx context.Context, conn store.Connection, ip, ua string, f *failure.Error) {
	s.recordFailureTaking(ctx, conn, ip, ua, f, "")
}

// recordFailureTaking is recordFailure that also takes the login request
// takeID (if not empty and not taken yet) in the same transaction.
func (s *Service) recordFailureTaking(ctx context.Context, conn store.Connection, ip, ua string, f *failure.Error, takeID string) {
	if f.Code == failure.InternalError && s.Log != nil {
		s.Log.ErrorContext(ctx, "sso internal error", "connection_id", conn.ID, "err", f.Err)
	} else if s.Log != nil {
		s.Log.InfoContext(ctx, "sso failed", "connection_id", conn.ID, "code", string(f.Code), "err", f)
	}
	// Record the failure even if the browser went away meanwhile.
	ctx = context.WithoutCancel(ctx)
	err := s.loginTx(ctx, func(q store.Queries) error {
		if takeID != "" {
			if _, err := q.TakeSSORequest(ctx, takeID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("take sso request: %w", err)
			}
		}
		return events.Append(ctx, q, EventSSOFailed, conn.OrganizationID, authEvent("failed", conn, ip, ua, "", f))
	})
	if err != nil && s.Log != nil {
		s.Log.ErrorContext(ctx, "record sso failure", "err", err)
	}
}

// succeed issues a one-time code for prof and returns the redirect to the
// host app. With takeRequest it takes the login req in the same
// transaction (the ACS only read it). verifiedBy, when set, is the
// fingerprint of the SAML certificate that verified the sign-in, recorded
// in the same transaction.
func (s *Service) succeed(ctx context.Context, conn store.Connection, req *store.SSORequest, takeRequest bool, prof Profile, ip, ua string, replay []replayKey, verifiedBy string) Outcome {
	redirect, state := "", ""
	var challenge, method string
	if req != nil {
		redirect, state, challenge, method = req.RedirectURI, req.State, req.CodeChallenge, req.CodeChallengeMethod
	} else {
		redirect = s.landing(ctx, conn)
	}
	if redirect == "" {
		f := failure.Newf(failure.RequestUnknown, "IdP-initiated login has no default redirect URI; add one with POST /redirect_uris {default: true}")
		s.recordFailure(ctx, conn, ip, ua, f)
		return Outcome{ErrorCode: "invalid_request", Err: f}
	}
	body, err := json.Marshal(prof)
	if err != nil {
		return Outcome{RedirectURI: redirect, State: state, ErrorCode: "server_error", Err: failure.New(failure.InternalError, err)}
	}
	code := secrets.Token(32)
	grant := store.SSOGrant{Hash: secrets.Hash(code), ConnectionID: conn.ID, OrganizationID: conn.OrganizationID, Profile: body,
		RedirectURI: redirect, CodeChallenge: challenge, CodeChallengeMethod: method, ExpiresAt: s.now().Add(CodeLifetime)}
	err = s.loginTx(ctx, func(q store.Queries) error {
		// The login is taken here, with its code: of two answers to one
		// login, the second finds it gone.
		if req != nil && takeRequest {
			if _, err := q.TakeSSORequest(ctx, req.ID); errors.Is(err, store.ErrNotFound) {
				return errReplayed
			} else if err != nil {
				return fmt.Errorf("take sso request: %w", err)
			}
		}
		for _, k := range replay {
			if err := q.ConsumeReplayKey(ctx, k.key, k.expires); errors.Is(err, store.ErrConflict) {
				return errReplayed
			} else if err != nil {
				return fmt.Errorf("replay cache: %w", err)
			}
		}
		if err := q.CreateSSOCode(ctx, grant); err != nil {
			return fmt.Errorf("store code: %w", err)
		}
		if verifiedBy != "" {
			if _, err := q.MarkCertificateVerified(ctx, conn.ID, verifiedBy, s.now()); err != nil {
				return fmt.Errorf("mark certificate verified: %w", err)
			}
		}
		return events.Append(ctx, q, EventSSOSucceeded, conn.OrganizationID, authEvent("succeeded", conn, ip, ua, prof.Email, nil))
	})
	if errors.Is(err, errReplayed) {
		return s.samlFail(ctx, conn, req, ip, ua, failure.Newf(failure.Replayed, ""))
	}
	if err != nil {
		return Outcome{RedirectURI: redirect, State: state, ErrorCode: "server_error", Err: failure.New(failure.InternalError, err)}
	}
	return Outcome{Location: withParams(redirect, url.Values{"code": {code}}, state)}
}

// authEventData is the payload of authentication.sso_* events.
type authEventData struct {
	Type      string         `json:"type"`
	Status    string         `json:"status"`
	IPAddress *string        `json:"ip_address"`
	UserAgent *string        `json:"user_agent"`
	UserID    *string        `json:"user_id"`
	Email     *string        `json:"email"`
	SSO       authEventSSO   `json:"sso"`
	Error     *authEventFail `json:"error,omitempty"`
}

type authEventSSO struct {
	OrganizationID *string `json:"organization_id"`
	ConnectionID   *string `json:"connection_id"`
	SessionID      *string `json:"session_id"`
}

type authEventFail struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Explanation string `json:"explanation,omitempty"`
	Fix         string `json:"fix,omitempty"`
}

func authEvent(status string, conn store.Connection, ip, ua, email string, f *failure.Error) authEventData {
	d := authEventData{
		Type: "sso", Status: status, IPAddress: wire.StrPtr(ip), UserAgent: wire.StrPtr(ua), Email: wire.StrPtr(email),
		SSO: authEventSSO{OrganizationID: wire.StrPtr(conn.OrganizationID), ConnectionID: wire.StrPtr(conn.ID)},
	}
	if f != nil {
		r := f.Reason()
		d.Error = &authEventFail{Code: string(f.Code), Message: f.Message(), Explanation: r.Explanation, Fix: r.Fix}
	}
	return d
}

// newProfile fills the fields every profile has.
func newProfile(conn store.Connection) Profile {
	org := conn.OrganizationID
	return Profile{
		Object: "profile", ID: id.New("prof"), OrganizationID: &org, ConnectionID: conn.ID, ConnectionType: conn.Type,
		Role: &RoleJSON{Slug: "member"}, Roles: []RoleJSON{{Slug: "member"}}, Groups: []string{},
		CustomAttributes: map[string]any{}, RawAttributes: map[string]any{},
	}
}
