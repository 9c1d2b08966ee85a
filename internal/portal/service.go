// Package portal is the Admin Portal: one-time links that the host app
// generates (POST /portal/generate_link), the sessions they start, and the
// server-rendered pages where a customer's IT admin sets up SSO, Directory
// Sync, domains, certificates and log streams alone.
package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Lifetimes of links and sessions.
const (
	LinkLifetime       = 5 * time.Minute
	SessionIdleTimeout = 30 * time.Minute
	SessionMaxLifetime = 8 * time.Hour
)

// Intents a link may carry, as WorkOS names them; "" opens the menu.
var Intents = []string{"sso", "dsync", "audit_logs", "log_streams", "domain_verification", "certificate_renewal"}

// Service issues links and runs sessions. It is the only caller of the
// store's portal tables; every page reads and writes through the feature
// services, for the session's organization.
type Service struct {
	Store   store.Store
	Orgs    *organization.Service
	BaseURL string
	Log     *slog.Logger
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// LinkInput is the body of POST /portal/generate_link.
type LinkInput struct {
	Organization    string         `json:"organization"`
	Intent          string         `json:"intent"`
	ReturnURL       string         `json:"return_url"`
	SuccessURL      string         `json:"success_url"`
	ITContactEmails []string       `json:"it_contact_emails"`
	AdminEmails     []string       `json:"admin_emails"` // the Node SDK's name for it_contact_emails
	IntentOptions   *IntentOptions `json:"intent_options"`
}

// IntentOptions pre-fill a page: the IdP to set up, the domain to verify.
type IntentOptions struct {
	SSO *struct {
		BookmarkSlug string `json:"bookmark_slug,omitempty"`
		ProviderType string `json:"provider_type,omitempty"`
	} `json:"sso,omitempty"`
	DomainVerification *struct {
		DomainName string `json:"domain_name,omitempty"`
	} `json:"domain_verification,omitempty"`
}

// Options is what a link carries into its session besides its URLs.
type Options struct {
	IntentOptions   *IntentOptions `json:"intent_options,omitempty"`
	ITContactEmails []string       `json:"it_contact_emails,omitempty"`
}

// Session is an open portal session, for one organization.
type Session struct {
	store.PortalSession
	Opts Options
	// token is the cookie's secret; the CSRF token is derived from it.
	token string
}

// CSRFToken is the session's form token: an HMAC of the cookie's secret,
// so a page of another site, which cannot read the cookie, cannot forge it.
func (s Session) CSRFToken() string {
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("gatehouse portal csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether tok is the session's form token.
func (s Session) CheckCSRF(tok string) bool {
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRFToken())) == 1
}

// GenerateLink checks in and stores a one-time link, returning its URL.
func (s *Service) GenerateLink(ctx context.Context, in LinkInput) (string, error) {
	var fields []errs.FieldError
	bad := func(field, code, msg string) {
		fields = append(fields, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if strings.TrimSpace(in.Organization) == "" {
		bad("organization", "required", "organization is required.")
	}
	if in.Intent != "" && !validIntent(in.Intent) {
		bad("intent", "invalid", fmt.Sprintf("intent must be one of %s.", strings.Join(Intents, ", ")))
	}
	for _, u := range []struct{ field, v string }{{"return_url", in.ReturnURL}, {"success_url", in.SuccessURL}} {
		if u.v != "" && !absoluteHTTP(u.v) {
			bad(u.field, "invalid_url", u.field+" must be an absolute http(s) URL.")
		}
	}
	emails := append(append([]string(nil), in.ITContactEmails...), in.AdminEmails...)
	if len(emails) > 20 {
		bad("it_contact_emails", "too_many", "it_contact_emails accepts up to 20 addresses.")
	}
	for _, e := range emails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad("it_contact_emails", "invalid_email", fmt.Sprintf("%q is not an email address.", e))
			break
		}
	}
	if o := in.IntentOptions; o != nil {
		if o.SSO != nil && o.SSO.ProviderType != "" {
			if _, ok := sso.Presets[o.SSO.ProviderType]; !ok {
				bad("intent_options.sso.provider_type", "invalid", fmt.Sprintf("provider_type %q is not a known connection type.", o.SSO.ProviderType))
			}
		}
		if o.DomainVerification != nil && o.DomainVerification.DomainName != "" {
			if _, msg := organization.NormalizeDomain(o.DomainVerification.DomainName); msg != "" {
				bad("intent_options.domain_verification.domain_name", "invalid_domain", msg)
			}
		}
	}
	if len(fields) > 0 {
		return "", errs.Invalid(fields...)
	}
	if _, err := s.Orgs.Get(ctx, in.Organization); err != nil {
		return "", err
	}
	opts, err := json.Marshal(Options{IntentOptions: in.IntentOptions, ITContactEmails: emails})
	if err != nil {
		return "", err
	}
	tok, now := secrets.Token(32), s.now()
	err = s.Store.CreatePortalLink(ctx, store.PortalLink{Hash: secrets.Hash(tok), OrganizationID: in.Organization, Intent: in.Intent,
		ReturnURL: in.ReturnURL, SuccessURL: in.SuccessURL, Options: string(opts), CreatedAt: now, ExpiresAt: now.Add(LinkLifetime)})
	if err != nil {
		return "", fmt.Errorf("store portal link: %w", err)
	}
	return s.BaseURL + "/portal/launch?token=" + url.QueryEscape(tok), nil
}

func validIntent(i string) bool {
	for _, v := range Intents {
		if v == i {
			return true
		}
	}
	return false
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// ErrLinkUsed and ErrLinkExpired are why a link does not open.
var (
	ErrLinkUsed    = errors.New("portal link already used or unknown")
	ErrLinkExpired = errors.New("portal link expired")
)

// Open uses a link once and starts its session; it returns the session's
// cookie secret.
func (s *Service) Open(ctx context.Context, linkToken string) (string, Session, error) {
	if linkToken == "" {
		return "", Session{}, ErrLinkUsed
	}
	l, err := s.Store.TakePortalLink(ctx, secrets.Hash(linkToken))
	if errors.Is(err, store.ErrNotFound) {
		return "", Session{}, ErrLinkUsed
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("take portal link: %w", err)
	}
	now := s.now()
	if !now.Before(l.ExpiresAt) {
		return "", Session{}, ErrLinkExpired
	}
	tok := secrets.Token(32)
	ps := store.PortalSession{Hash: secrets.Hash(tok), ID: id.New("portal"), OrganizationID: l.OrganizationID, Intent: l.Intent,
		ReturnURL: l.ReturnURL, SuccessURL: l.SuccessURL, Options: l.Options, CreatedAt: now,
		IdleExpiresAt: now.Add(SessionIdleTimeout), ExpiresAt: now.Add(SessionMaxLifetime)}
	if err := s.Store.CreatePortalSession(ctx, ps); err != nil {
		return "", Session{}, fmt.Errorf("create portal session: %w", err)
	}
	sess := Session{PortalSession: ps, token: tok}
	json.Unmarshal([]byte(l.Options), &sess.Opts)
	return tok, sess, nil
}

// ErrNoSession means the cookie names no live session.
var ErrNoSession = errors.New("no portal session")

// Session returns the live session of a cookie secret and slides its idle
// expiry forward.
func (s *Service) Session(ctx context.Context, tok string) (Session, error) {
	if tok == "" {
		return Session{}, ErrNoSession
	}
	h := secrets.Hash(tok)
	ps, err := s.Store.GetPortalSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("get portal session: %w", err)
	}
	now := s.now()
	if !now.Before(ps.IdleExpiresAt) || !now.Before(ps.ExpiresAt) {
		return Session{}, ErrNoSession
	}
	// Touch at most once a minute: reads stay reads.
	if ps.IdleExpiresAt.Sub(now) < SessionIdleTimeout-time.Minute {
		if err := s.Store.TouchPortalSession(ctx, h, now, now.Add(SessionIdleTimeout)); errors.Is(err, store.ErrNotFound) {
			return Session{}, ErrNoSession
		} else if err != nil {
			return Session{}, fmt.Errorf("touch portal session: %w", err)
		}
	}
	sess := Session{PortalSession: ps, token: tok}
	json.Unmarshal([]byte(ps.Options), &sess.Opts)
	return sess, nil
}

// End signs a session out.
func (s *Service) End(ctx context.Context, tok string) error {
	return s.Store.DeletePortalSession(ctx, secrets.Hash(tok))
}

// Sweep drops links and sessions that expired over an hour ago every
// interval until ctx ends; for that hour a late click still gets "this link
// has expired" rather than "already used".
func (s *Service) Sweep(ctx context.Context) error {
	return s.Store.DeleteExpiredPortal(ctx, s.now().Add(-time.Hour))
}
