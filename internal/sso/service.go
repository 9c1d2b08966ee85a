// Package sso is Gatehouse's single sign-on: SAML and OIDC connections with
// their presets and state machine, the WorkOS SSO flow (/sso/authorize,
// the SAML ACS and OIDC callback, /sso/token, /sso/profile), the redirect
// URI allow-list, and the per-organization SSO policy. The protocol work is
// in internal/sso/saml and internal/sso/oidc; failure reasons are in
// internal/sso/failure.
package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/groupcommit"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Event names for connections and SSO attempts (WorkOS catalogue).
const (
	EventConnectionActivated   = "connection.activated"
	EventConnectionDeactivated = "connection.deactivated"
	EventConnectionDeleted     = "connection.deleted"
	EventSSOStarted            = "authentication.sso_started"
	EventSSOSucceeded          = "authentication.sso_succeeded"
	EventSSOFailed             = "authentication.sso_failed"
	EventSSOTimedOut           = "authentication.sso_timed_out"
)

// Source values of stored IdP certificates.
const (
	CertManual   = "manual"
	CertMetadata = "metadata"
)

// Lifetimes of the login state.
const (
	RequestLifetime = 10 * time.Minute
	CodeLifetime    = 10 * time.Minute
	TokenLifetime   = 10 * time.Minute
)

// Service holds SSO's business rules.
type Service struct {
	Store    store.Store
	Orgs     *organization.Service
	Sealer   *secrets.Sealer
	BaseURL  string
	ClientID string
	// RedirectURIs is the configured allow-list (GATEHOUSE_REDIRECT_URIS);
	// URIs added through the API are allowed too.
	RedirectURIs []string
	// Guard vets metadata URLs and OIDC issuers; HTTP is the guarded client.
	Guard netguard.Guard
	HTTP  *http.Client
	OIDC  *oidc.Client
	// MetadataRefresh is how often IdP metadata URLs are fetched again.
	MetadataRefresh time.Duration
	// CertificateOverlap is how long a certificate that left the IdP's
	// metadata stays trusted (DefaultCertificateOverlap if zero).
	CertificateOverlap time.Duration
	// Recheck limits metadata fetches caused by unknown certificates; nil
	// turns them off.
	Recheck *RecheckLimiter
	Log     *slog.Logger
	Now     func() time.Time
	// SAML validates responses at the ACS (fast path, then crewjam) and
	// caches the IdPs' parsed keys; nil validates without the cache.
	SAML *ssosaml.Validator

	// SPKeyGrace is how long a retired SP key still decrypts
	// (DefaultSPKeyGrace if zero); SPKeyLifetime is how long an SP key is
	// active before the next one is promoted (DefaultSPKeyLifetime if zero).
	SPKeyGrace    time.Duration
	SPKeyLifetime time.Duration
	// SPKeyCache keeps parsed SP keys; nil parses them per request.
	SPKeyCache *SPKeyCache
	// Certificates keeps parsed IdP certificates; nil parses them per
	// request.
	Certificates *CertificateCache
	// Commit groups the login's writes (authorize, ACS, callback, token)
	// with other requests' into shared transactions; nil gives each its
	// own.
	Commit *groupcommit.Committer
}

// loginTx runs a login step's one write transaction, grouped with
// concurrent requests' when a committer is set.
func (s *Service) loginTx(ctx context.Context, fn func(q store.Queries) error) error {
	if s.Commit != nil {
		return s.Commit.InTx(ctx, fn)
	}
	return s.Store.InTx(ctx, fn)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// SPEntityID is our SAML entity ID for a connection (also its metadata URL).
func (s *Service) SPEntityID(connID string) string {
	return s.BaseURL + "/sso/saml/" + connID + "/metadata"
}

// ACSURL is a connection's assertion consumer service URL.
func (s *Service) ACSURL(connID string) string { return s.BaseURL + "/sso/saml/" + connID + "/acs" }

// OIDCRedirectURI is a connection's OIDC callback; one per connection so a
// state cannot be completed at another provider's callback (mix-up).
func (s *Service) OIDCRedirectURI(connID string) string {
	return s.BaseURL + "/sso/oidc/" + connID + "/callback"
}

// ConnectionInput is the body of POST and PUT /connections; absent fields
// (nil) are left as they are on PUT.
type ConnectionInput struct {
	OrganizationID string     `json:"organization_id"`
	ConnectionType string     `json:"connection_type"`
	Name           *string    `json:"name"`
	State          *string    `json:"state"`
	SAML           *SAMLInput `json:"saml"`
	OIDC           *OIDCInput `json:"oidc"`
}

// SAMLInput configures a SAML connection.
type SAMLInput struct {
	IdPMetadataXML     *string           `json:"idp_metadata_xml"`
	IdPMetadataURL     *string           `json:"idp_metadata_url"`
	IdPEntityID        *string           `json:"idp_entity_id"`
	IdPSSOURL          *string           `json:"idp_sso_url"`
	IdPSSOBinding      *string           `json:"idp_sso_binding"`  // "redirect" (default) or "post"
	IdPCertificates    []string          `json:"idp_certificates"` // replaces the manual certificates when present
	AllowIdPInitiated  *bool             `json:"allow_idp_initiated"`
	SignRequests       *bool             `json:"sign_requests"`
	EncryptAssertions  *bool             `json:"encrypt_assertions"`
	AllowSHA1          *bool             `json:"allow_sha1"`
	DefaultRedirectURI *string           `json:"default_redirect_uri"`
	AttributeMap       map[string]string `json:"attribute_map"`
}

// OIDCInput configures an OIDC connection.
type OIDCInput struct {
	Issuer       *string  `json:"issuer"`
	ClientID     *string  `json:"client_id"`
	ClientSecret *string  `json:"client_secret"`
	Scopes       []string `json:"scopes"`
}

// Connection is a connection with what its JSON shows.
type Connection struct {
	store.Connection
	Certificates []store.Certificate
	Domains      []store.Domain
}

// Get returns a connection.
func (s *Service) Get(ctx context.Context, connID string) (Connection, error) {
	return s.get(ctx, s.Store, connID)
}

func (s *Service) get(ctx context.Context, q store.Queries, connID string) (Connection, error) {
	c, err := q.GetConnection(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		return Connection{}, errs.NotFound("Connection", connID)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("get connection: %w", err)
	}
	return s.expand(ctx, q, c)
}

func (s *Service) expand(ctx context.Context, q store.Queries, c store.Connection) (Connection, error) {
	certs, err := q.ListCertificates(ctx, c.ID)
	if err != nil {
		return Connection{}, fmt.Errorf("connection certificates: %w", err)
	}
	ds, err := q.ListDomains(ctx, c.OrganizationID)
	if err != nil {
		return Connection{}, fmt.Errorf("connection domains: %w", err)
	}
	return Connection{Connection: c, Certificates: certs, Domains: ds}, nil
}

// List returns one page of connections.
func (s *Service) List(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]Connection, store.PageInfo, error) {
	if f.Type != "" {
		// SPEC's filter enum spells GithubOAuth; types are matched as given.
		f.Type = strings.TrimSpace(f.Type)
	}
	cs, info, err := s.Store.ListConnections(ctx, f, p)
	if err != nil {
		return nil, info, fmt.Errorf("list connections: %w", err)
	}
	out := make([]Connection, 0, len(cs))
	for _, c := range cs {
		x, err := s.expand(ctx, s.Store, c)
		if err != nil {
			return nil, info, err
		}
		out = append(out, x)
	}
	return out, info, nil
}

// Create makes a connection from a POST /connections body.
func (s *Service) Create(ctx context.Context, in ConnectionInput) (Connection, error) {
	preset, ok := Presets[in.ConnectionType]
	if !ok {
		return Connection{}, errs.InvalidField("connection_type", "invalid", fmt.Sprintf("connection_type must be one of %s.", strings.Join(presetTypes(), ", ")))
	}
	if in.OrganizationID == "" {
		return Connection{}, errs.InvalidField("organization_id", "required", "organization_id is required.")
	}
	org, err := s.Orgs.Get(ctx, in.OrganizationID)
	if err != nil {
		return Connection{}, err
	}
	now := s.now()
	c := store.Connection{
		ID: id.New("conn"), OrganizationID: org.ID, Type: preset.Type, Name: org.Name, State: store.ConnectionDraft,
		Protocol: preset.Protocol, CreatedAt: now, UpdatedAt: now,
	}
	if c.Protocol == store.ProtocolSAML {
		c.SAML.AllowIdPInitiated = true
	}
	if in.State != nil && *in.State != "" {
		return Connection{}, errs.InvalidField("state", "read_only", "A new connection becomes active on its own once its configuration is complete.")
	}
	certs, err := s.apply(ctx, &c, in)
	if err != nil {
		return Connection{}, err
	}
	var out Connection
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateConnection(ctx, c); err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		if err := s.writeCerts(ctx, q, c, certs); err != nil {
			return err
		}
		return s.settle(ctx, q, c.ID, "", &out)
	})
	return out, err
}

// Update changes a connection from a PUT /connections/{id} body.
func (s *Service) Update(ctx context.Context, connID string, in ConnectionInput) (Connection, error) {
	// The write is a compare-and-set on updated_at: a change made meanwhile
	// (an SP key rotation, a metadata refresh, another PUT, on any node) is
	// never overwritten with what this update read before it. The input
	// is then applied again to the connection as it now is.
	return s.update(ctx, connID, func(store.Connection) (ConnectionInput, bool) { return in, true })
}

// update applies the input that input derives from the connection as
// stored at each attempt; input returns false when there is nothing to do.
func (s *Service) update(ctx context.Context, connID string, input func(store.Connection) (ConnectionInput, bool)) (Connection, error) {
	for range 3 {
		out, won, err := s.updateOnce(ctx, connID, input)
		if err != nil || won {
			return out, err
		}
	}
	return Connection{}, errs.Conflict("concurrent_update", "The connection kept changing while it was being updated; try again.")
}

// updateOnce applies input's change to the connection as stored now; won
// is false if the connection changed before the write.
func (s *Service) updateOnce(ctx context.Context, connID string, input func(store.Connection) (ConnectionInput, bool)) (out Connection, won bool, err error) {
	cur, err := s.Get(ctx, connID)
	if err != nil {
		return Connection{}, false, err
	}
	in, ok := input(cur.Connection)
	if !ok {
		return cur, true, nil
	}
	if in.ConnectionType != "" && in.ConnectionType != cur.Type {
		p, ok := Presets[in.ConnectionType]
		if !ok || p.Protocol != cur.Protocol {
			return Connection{}, false, errs.InvalidField("connection_type", "invalid", "connection_type can only change to another type of the same protocol.")
		}
	}
	if in.OrganizationID != "" && in.OrganizationID != cur.OrganizationID {
		return Connection{}, false, errs.InvalidField("organization_id", "read_only", "A connection cannot move to another organization.")
	}
	wanted := ""
	if in.State != nil {
		switch *in.State {
		case store.ConnectionActive, store.ConnectionInactive:
			wanted = *in.State
		case "":
		default:
			return Connection{}, false, errs.InvalidField("state", "invalid", "state must be active or inactive.")
		}
	}
	c := cur.Connection
	if in.ConnectionType != "" {
		c.Type = in.ConnectionType
	}
	certs, err := s.apply(ctx, &c, in)
	if err != nil {
		return Connection{}, false, err
	}
	prev := cur.UpdatedAt
	c.UpdatedAt = after(prev, s.now())
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		ok, err := q.UpdateConnectionIf(ctx, c, prev)
		if won = ok; err != nil || !ok {
			if err != nil {
				return fmt.Errorf("update connection: %w", err)
			}
			return nil
		}
		if certs != nil {
			if err := s.writeCerts(ctx, q, c, certs); err != nil {
				return err
			}
		}
		return s.settle(ctx, q, c.ID, wanted, &out)
	})
	if err != nil || !won {
		return Connection{}, false, err
	}
	return out, true, nil
}

// apply copies in onto c, fetching metadata and running discovery as
// needed (before any transaction: these are network calls). It returns the
// certificate change to write, or nil.
func (s *Service) apply(ctx context.Context, c *store.Connection, in ConnectionInput) (*certChange, error) {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || len(name) > 255 {
			return nil, errs.InvalidField("name", "invalid", "name must be 1 to 255 characters.")
		}
		c.Name = name
	}
	switch c.Protocol {
	case store.ProtocolSAML:
		if in.OIDC != nil {
			return nil, errs.InvalidField("oidc", "invalid", "A SAML connection takes saml settings, not oidc.")
		}
		if in.SAML == nil {
			return nil, nil
		}
		return s.applySAML(ctx, c, in.SAML)
	default:
		if in.SAML != nil {
			return nil, errs.InvalidField("saml", "invalid", "An OIDC connection takes oidc settings, not saml.")
		}
		if in.OIDC != nil {
			return nil, s.applyOIDC(ctx, c, in.OIDC)
		}
		return nil, nil
	}
}

func (s *Service) applySAML(ctx context.Context, c *store.Connection, in *SAMLInput) (*certChange, error) {
	var ch *certChange
	cfg := &c.SAML
	if in.IdPMetadataURL != nil {
		raw := strings.TrimSpace(*in.IdPMetadataURL)
		cfg.IdPMetadataURL = raw
		c.NextRefreshAt = time.Time{}
		if raw != "" {
			if _, err := s.Guard.CheckURL(raw); err != nil {
				return nil, errs.InvalidField("saml.idp_metadata_url", "invalid_url", err.Error())
			}
			c.NextRefreshAt = s.now().Add(s.refreshInterval())
			xml, err := s.fetchMetadata(ctx, raw)
			if err != nil {
				if errors.Is(err, netguard.ErrForbiddenTarget) {
					return nil, errs.InvalidField("saml.idp_metadata_url", "forbidden_target", err.Error())
				}
				cfg.MetadataError = err.Error()
			} else {
				s := string(xml)
				in.IdPMetadataXML = &s
			}
		}
	}
	if in.IdPMetadataXML != nil && strings.TrimSpace(*in.IdPMetadataXML) != "" {
		md, err := ssosaml.ParseMetadata([]byte(*in.IdPMetadataXML))
		if err != nil {
			if in.IdPMetadataURL != nil && cfg.IdPMetadataURL != "" {
				cfg.MetadataError = err.Error()
			} else {
				return nil, errs.InvalidField("saml.idp_metadata_xml", "invalid_metadata", err.Error())
			}
		} else {
			cfg.IdPMetadataXML = *in.IdPMetadataXML
			cfg.IdPEntityID, cfg.IdPSSOURL, cfg.IdPSSOBinding = md.EntityID, md.SSOURL, md.SSOBinding
			cfg.MetadataFetchedAt, cfg.MetadataError = s.now(), ""
			ch = &certChange{sources: []string{CertMetadata}}
			for _, x := range md.Certificates {
				ch.certs = append(ch.certs, certRecord(x, CertMetadata, s.now()))
			}
		}
	}
	if in.IdPEntityID != nil {
		cfg.IdPEntityID = strings.TrimSpace(*in.IdPEntityID)
	}
	if in.IdPSSOURL != nil {
		u := strings.TrimSpace(*in.IdPSSOURL)
		if u != "" {
			if _, err := (netguard.Guard{AllowPrivate: true}).CheckURL(u); err != nil {
				return nil, errs.InvalidField("saml.idp_sso_url", "invalid_url", err.Error())
			}
		}
		cfg.IdPSSOURL = u
	}
	if in.IdPSSOBinding != nil {
		switch b := strings.ToLower(strings.TrimSpace(*in.IdPSSOBinding)); b {
		case "", ssosaml.BindingRedirect:
			cfg.IdPSSOBinding = ssosaml.BindingRedirect
		case ssosaml.BindingPOST:
			cfg.IdPSSOBinding = b
		default:
			return nil, errs.InvalidField("saml.idp_sso_binding", "invalid", "idp_sso_binding must be redirect or post.")
		}
	}
	if in.IdPCertificates != nil {
		if ch == nil {
			ch = &certChange{}
		}
		ch.sources = append(ch.sources, CertManual)
		for i, p := range in.IdPCertificates {
			x, err := ssosaml.ParseCertificatePEM(p)
			if err != nil {
				return nil, errs.InvalidField(fmt.Sprintf("saml.idp_certificates[%d]", i), "invalid_certificate", "Not a PEM or base64 X.509 certificate: "+err.Error())
			}
			ch.certs = append(ch.certs, certRecord(x, CertManual, s.now()))
		}
	}
	if in.AllowIdPInitiated != nil {
		cfg.AllowIdPInitiated = *in.AllowIdPInitiated
	}
	if in.AllowSHA1 != nil {
		cfg.AllowSHA1 = *in.AllowSHA1
	}
	if in.SignRequests != nil {
		cfg.SignRequests = *in.SignRequests
	}
	if in.EncryptAssertions != nil {
		cfg.EncryptAssertions = *in.EncryptAssertions
	}
	if in.DefaultRedirectURI != nil {
		cfg.DefaultRedirectURI = strings.TrimSpace(*in.DefaultRedirectURI)
		if cfg.DefaultRedirectURI != "" && !s.redirectAllowed(ctx, cfg.DefaultRedirectURI) {
			return nil, errs.InvalidField("saml.default_redirect_uri", "not_allowed", "default_redirect_uri must be on the redirect URI allow-list.")
		}
	}
	if in.AttributeMap != nil {
		for k := range in.AttributeMap {
			switch k {
			case "idp_id", "email", "first_name", "last_name", "name", "groups":
			default:
				return nil, errs.InvalidField("saml.attribute_map", "invalid", fmt.Sprintf("Unknown profile field %q.", k))
			}
		}
		cfg.AttributeMap = in.AttributeMap
	}
	if cfg.SignRequests || cfg.EncryptAssertions {
		if err := s.ensureSPKeys(c); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

func (s *Service) applyOIDC(ctx context.Context, c *store.Connection, in *OIDCInput) error {
	cfg := &c.OIDC
	if in.Issuer != nil {
		iss := strings.TrimRight(strings.TrimSpace(*in.Issuer), "/")
		if _, err := s.Guard.CheckURL(iss); err != nil {
			return errs.InvalidField("oidc.issuer", "invalid_url", err.Error())
		}
		cfg.Issuer = iss
	}
	if in.ClientID != nil {
		cfg.ClientID = strings.TrimSpace(*in.ClientID)
	}
	if in.ClientSecret != nil {
		cfg.ClientSecretSealed = ""
		if *in.ClientSecret != "" {
			cfg.ClientSecretSealed = s.Sealer.Seal([]byte(*in.ClientSecret), c.ID+"/oidc_client_secret")
		}
	}
	if in.Scopes != nil {
		cfg.Scopes = in.Scopes
	}
	cfg.DiscoveredAt, cfg.DiscoveryError = time.Time{}, ""
	c.NextRefreshAt = time.Time{}
	if cfg.Issuer != "" {
		if _, err := s.OIDC.Discover(ctx, cfg.Issuer); err != nil {
			if errors.Is(err, netguard.ErrForbiddenTarget) {
				return errs.InvalidField("oidc.issuer", "forbidden_target", err.Error())
			}
			cfg.DiscoveryError = err.Error()
			if fe, ok := failure.As(err); ok {
				cfg.DiscoveryError = fe.Message() // never the provider's answer body
			}
			// Retry soon: the connection stays a draft until discovery works.
			c.NextRefreshAt = s.now().Add(5 * time.Minute)
		} else {
			cfg.DiscoveredAt = s.now()
		}
	}
	return nil
}

// Complete reports whether a connection's configuration can sign users
// in, and if not, what is missing.
func Complete(c store.Connection, certs []store.Certificate, now time.Time) (bool, string) {
	switch c.Protocol {
	case store.ProtocolSAML:
		if c.SAML.IdPEntityID == "" {
			return false, "the IdP entity ID is missing"
		}
		if c.SAML.IdPSSOURL == "" {
			return false, "the IdP SSO URL is missing"
		}
		for _, cert := range certs {
			if now.Before(cert.NotAfter) && !now.Before(cert.NotBefore) {
				return true, ""
			}
		}
		return false, "no valid IdP signing certificate"
	case store.ProtocolOIDC:
		if c.OIDC.Issuer == "" || c.OIDC.ClientID == "" {
			return false, "the issuer or client ID is missing"
		}
		if c.OIDC.DiscoveredAt.IsZero() {
			return false, "OIDC discovery has not succeeded: " + c.OIDC.DiscoveryError
		}
		return true, ""
	}
	return false, "unknown protocol"
}

// after returns now, or prev plus a millisecond when now is not later
// than prev at the store's precision: a compare-and-set on updated_at
// must always see a change.
func after(prev, now time.Time) time.Time {
	if store.Millis(now) > store.Millis(prev) {
		return now
	}
	return prev.Add(time.Millisecond)
}

// settle moves a connection through its state machine after a change
// (draft → active when complete, active → draft when no longer complete,
// active ↔ inactive on request), writes it, appends the transition's
// event, and returns it in out.
func (s *Service) settle(ctx context.Context, q store.Queries, connID, wanted string, out *Connection) error {
	cur, err := s.get(ctx, q, connID)
	if err != nil {
		return err
	}
	c := cur.Connection
	ok, missing := Complete(c, cur.Certificates, s.now())
	next := c.State
	switch {
	case wanted == store.ConnectionInactive:
		next = store.ConnectionInactive
	case wanted == store.ConnectionActive:
		if !ok {
			return errs.InvalidField("state", "incomplete", "The connection cannot be activated: "+missing+".")
		}
		next = store.ConnectionActive
	case c.State == store.ConnectionDraft && ok:
		next = store.ConnectionActive
	case c.State == store.ConnectionActive && !ok:
		next = store.ConnectionDraft
	}
	if next != c.State {
		prev := c.State
		// Never below what the caller's compare-and-set wrote: going back
		// to the value others read would let their stale write win.
		c.State, c.UpdatedAt = next, after(c.UpdatedAt, s.now())
		if err := q.UpdateConnection(ctx, c); err != nil {
			return fmt.Errorf("update connection state: %w", err)
		}
		cur.Connection = c
		name := ""
		switch {
		case next == store.ConnectionActive:
			name = EventConnectionActivated
		case prev == store.ConnectionActive:
			name = EventConnectionDeactivated
		}
		if name != "" {
			*out = cur
			return events.Append(ctx, q, name, c.OrganizationID, s.eventJSON(cur))
		}
	}
	*out = cur
	return nil
}

// Delete removes a connection.
func (s *Service) Delete(ctx context.Context, connID string) error {
	return s.Store.InTx(ctx, func(q store.Queries) error { return s.deleteIn(ctx, q, connID) })
}

func (s *Service) deleteIn(ctx context.Context, q store.Queries, connID string) error {
	cur, err := s.get(ctx, q, connID)
	if err != nil {
		return err
	}
	if err := q.DeleteConnection(ctx, connID); err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	cur.State = "deleting"
	return events.Append(ctx, q, EventConnectionDeleted, cur.OrganizationID, s.eventJSON(cur))
}

// DeleteForOrganization removes every connection of an organization that
// is being deleted, each with its connection.deleted event; it runs in the
// organization's delete transaction (organization.Service.OnDelete).
func (s *Service) DeleteForOrganization(ctx context.Context, q store.Queries, orgID string) error {
	for {
		conns, _, err := q.ListConnections(ctx, store.ConnectionFilter{OrganizationID: orgID}, store.Page{Limit: 100})
		if err != nil {
			return fmt.Errorf("list connections of %s: %w", orgID, err)
		}
		if len(conns) == 0 {
			return nil
		}
		for _, c := range conns {
			if err := s.deleteIn(ctx, q, c.ID); err != nil {
				return err
			}
		}
	}
}

func presetTypes() []string {
	var out []string
	for k := range Presets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
