package sso

import (
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ConnectionJSON is a connection on the wire: WorkOS's Connection plus the
// Gatehouse extension blocks saml/oidc and the preset's setup steps.
type ConnectionJSON struct {
	Object         string           `json:"object"`
	ID             string           `json:"id"`
	OrganizationID string           `json:"organization_id"`
	ConnectionType string           `json:"connection_type"`
	Name           string           `json:"name"`
	State          string           `json:"state"`
	Status         string           `json:"status"`
	Domains        []ConnDomainJSON `json:"domains"`
	CreatedAt      string           `json:"created_at"`
	UpdatedAt      string           `json:"updated_at"`
	Options        *OptionsJSON     `json:"options,omitempty"`
	SAML           *SAMLJSON        `json:"saml,omitempty"`
	OIDC           *OIDCJSON        `json:"oidc,omitempty"`
	SetupSteps     []string         `json:"setup_steps,omitempty"`
}

// OptionsJSON is WorkOS's connection options (SAML only): the IdP signing
// certificate, here the newest trusted one.
type OptionsJSON struct {
	SigningCert *string `json:"signing_cert"`
}

// ConnDomainJSON is WorkOS's connection_domain.
type ConnDomainJSON struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Domain string `json:"domain"`
}

// SAMLJSON shows a SAML connection's SP values and IdP configuration.
type SAMLJSON struct {
	SPEntityID         string     `json:"sp_entity_id"`
	ACSURL             string     `json:"acs_url"`
	SPMetadataURL      string     `json:"sp_metadata_url"`
	SPCertificate      string     `json:"sp_certificate,omitempty"`
	IdPEntityID        string     `json:"idp_entity_id"`
	IdPSSOURL          string     `json:"idp_sso_url"`
	IdPSSOBinding      string     `json:"idp_sso_binding"`
	IdPMetadataURL     string     `json:"idp_metadata_url,omitempty"`
	MetadataFetchedAt  *string    `json:"metadata_fetched_at,omitempty"`
	MetadataError      string     `json:"metadata_error,omitempty"`
	IdPCertificates    []CertJSON `json:"idp_certificates"`
	AllowIdPInitiated  bool       `json:"allow_idp_initiated"`
	SignRequests       bool       `json:"sign_requests"`
	EncryptAssertions  bool       `json:"encrypt_assertions"`
	AllowSHA1          bool       `json:"allow_sha1"`
	DefaultRedirectURI string     `json:"default_redirect_uri,omitempty"`

	// SPKeys are our own keys for this connection (Gatehouse extension).
	SPKeys []SPKeyJSON `json:"sp_keys,omitempty"`
}

// CertJSON is one trusted IdP certificate.
type CertJSON struct {
	Object      string `json:"object"`
	Fingerprint string `json:"fingerprint"`
	NotBefore   string `json:"not_before"`
	NotAfter    string `json:"not_after"`
	Source      string `json:"source"`
	CreatedAt   string `json:"created_at"`
	// RetireAt is set on a certificate that left the IdP's metadata: it
	// stops verifying then.
	RetireAt *string `json:"retire_at,omitempty"`
	// LastVerifiedAt is when the certificate last verified a sign-in (to
	// within a minute); null if it never did.
	LastVerifiedAt *string `json:"last_verified_at"`
}

// OIDCJSON shows an OIDC connection's settings; the secret is never shown.
type OIDCJSON struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	ClientSecretSet bool     `json:"client_secret_set"`
	Scopes          []string `json:"scopes"`
	RedirectURI     string   `json:"redirect_uri"`
	DiscoveryError  string   `json:"discovery_error,omitempty"`
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// CertToJSON renders a certificate.
func CertToJSON(c store.Certificate) CertJSON {
	j := CertJSON{Object: "connection_certificate", Fingerprint: c.Fingerprint, NotBefore: wire.Time(c.NotBefore),
		NotAfter: wire.Time(c.NotAfter), Source: c.Source, CreatedAt: wire.Time(c.CreatedAt)}
	if !c.RetireAt.IsZero() {
		j.RetireAt = wire.TimePtr(c.RetireAt)
	}
	if !c.LastVerifiedAt.IsZero() {
		j.LastVerifiedAt = wire.TimePtr(c.LastVerifiedAt)
	}
	return j
}

// JSON renders a connection for the API.
func (s *Service) JSON(c Connection) ConnectionJSON {
	out := s.baseJSON(c)
	vars := strings.NewReplacer("{acs_url}", s.ACSURL(c.ID), "{sp_entity_id}", s.SPEntityID(c.ID),
		"{sp_metadata_url}", s.SPEntityID(c.ID), "{redirect_uri}", s.OIDCRedirectURI(c.ID))
	for _, step := range Presets[c.Type].SetupSteps {
		out.SetupSteps = append(out.SetupSteps, vars.Replace(step))
	}
	switch c.Protocol {
	case store.ProtocolSAML:
		sj := &SAMLJSON{
			SPEntityID: s.SPEntityID(c.ID), ACSURL: s.ACSURL(c.ID), SPMetadataURL: s.SPEntityID(c.ID),
			IdPEntityID: c.SAML.IdPEntityID, IdPSSOURL: c.SAML.IdPSSOURL,
			IdPSSOBinding:  orDefault(c.SAML.IdPSSOBinding, "redirect"),
			IdPMetadataURL: c.SAML.IdPMetadataURL, MetadataFetchedAt: wire.TimePtr(c.SAML.MetadataFetchedAt),
			MetadataError: c.SAML.MetadataError, IdPCertificates: []CertJSON{},
			AllowIdPInitiated: c.SAML.AllowIdPInitiated, SignRequests: c.SAML.SignRequests,
			EncryptAssertions: c.SAML.EncryptAssertions, AllowSHA1: c.SAML.AllowSHA1,
			DefaultRedirectURI: c.SAML.DefaultRedirectURI,
		}
		sj.SPKeys, sj.SPCertificate = s.spKeysJSON(c.Connection)
		out.Options = &OptionsJSON{}
		for _, cert := range c.Certificates {
			sj.IdPCertificates = append(sj.IdPCertificates, CertToJSON(cert))
			pem := cert.PEM
			out.Options.SigningCert = &pem
		}
		out.SAML = sj
	case store.ProtocolOIDC:
		scopes := c.OIDC.Scopes
		if scopes == nil {
			scopes = []string{"openid", "profile", "email"}
		}
		out.OIDC = &OIDCJSON{Issuer: c.OIDC.Issuer, ClientID: c.OIDC.ClientID, ClientSecretSet: c.OIDC.ClientSecretSealed != "",
			Scopes: scopes, RedirectURI: s.OIDCRedirectURI(c.ID), DiscoveryError: c.OIDC.DiscoveryError}
	}
	return out
}

func (s *Service) baseJSON(c Connection) ConnectionJSON {
	status := "unlinked"
	if c.State == store.ConnectionActive {
		status = "linked"
	}
	out := ConnectionJSON{
		Object: "connection", ID: c.ID, OrganizationID: c.OrganizationID, ConnectionType: c.Type, Name: c.Name,
		State: c.State, Status: status, Domains: []ConnDomainJSON{},
		CreatedAt: wire.Time(c.CreatedAt), UpdatedAt: wire.Time(c.UpdatedAt),
	}
	for _, d := range c.Domains {
		out.Domains = append(out.Domains, ConnDomainJSON{Object: "connection_domain", ID: d.ID, Domain: d.Domain})
	}
	return out
}

// connectionEvent is the payload of connection.* events (WorkOS §7).
type connectionEvent struct {
	ConnectionJSON
	ExternalKey string `json:"external_key"`
}

func (s *Service) eventJSON(c Connection) connectionEvent {
	return connectionEvent{ConnectionJSON: s.baseJSON(c), ExternalKey: c.ID}
}

// Profile is WorkOS's SSO profile.
type Profile struct {
	Object           string         `json:"object"`
	ID               string         `json:"id"`
	IdPID            string         `json:"idp_id"`
	OrganizationID   *string        `json:"organization_id"`
	ConnectionID     string         `json:"connection_id"`
	ConnectionType   string         `json:"connection_type"`
	Email            string         `json:"email"`
	FirstName        *string        `json:"first_name"`
	LastName         *string        `json:"last_name"`
	Name             *string        `json:"name"`
	Role             *RoleJSON      `json:"role"`
	Roles            []RoleJSON     `json:"roles"`
	Groups           []string       `json:"groups"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	RawAttributes    map[string]any `json:"raw_attributes"`
}

// RoleJSON is WorkOS's SlimRole.
type RoleJSON struct {
	Slug string `json:"slug"`
}

// TokenResponse is the answer of POST /sso/token.
type TokenResponse struct {
	TokenType   string  `json:"token_type"`
	AccessToken string  `json:"access_token"`
	ExpiresIn   int     `json:"expires_in"`
	Profile     Profile `json:"profile"`
}
