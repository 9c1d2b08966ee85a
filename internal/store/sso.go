package store

import (
	"context"
	"time"
)

// Connection states, as WorkOS names them.
const (
	ConnectionDraft    = "draft"
	ConnectionActive   = "active"
	ConnectionInactive = "inactive"
)

// Connection protocols.
const (
	ProtocolSAML = "saml"
	ProtocolOIDC = "oidc"
)

// Connection is an organization's SSO connection to its identity provider.
type Connection struct {
	ID             string
	OrganizationID string
	Type           string // WorkOS connection_type, e.g. "OktaSAML"
	Name           string
	State          string // draft | active | inactive
	Protocol       string // saml | oidc
	SAML           SAMLConfig
	OIDC           OIDCConfig
	// NextRefreshAt is when the IdP metadata URL is fetched next; zero =
	// never (no metadata URL).
	NextRefreshAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SAMLConfig is a SAML connection's IdP and SP settings. It is stored as
// one JSON document; IdP signing certificates live in their own table.
type SAMLConfig struct {
	IdPEntityID string `json:"idp_entity_id,omitempty"`
	IdPSSOURL   string `json:"idp_sso_url,omitempty"`
	// IdPSSOBinding is "redirect" (default, also when empty) or "post".
	IdPSSOBinding  string `json:"idp_sso_binding,omitempty"`
	IdPMetadataURL string `json:"idp_metadata_url,omitempty"`
	// IdPMetadataXML is the metadata last given or fetched.
	IdPMetadataXML string `json:"idp_metadata_xml,omitempty"`
	// MetadataFetchedAt and MetadataError report the last metadata fetch.
	MetadataFetchedAt time.Time `json:"metadata_fetched_at,omitzero"`
	MetadataError     string    `json:"metadata_error,omitempty"`
	// AllowIdPInitiated accepts unsolicited responses (default true).
	AllowIdPInitiated bool `json:"allow_idp_initiated"`
	// SignRequests signs AuthnRequests with the SP key.
	SignRequests bool `json:"sign_requests,omitempty"`
	// EncryptAssertions advertises the SP certificate for encryption and
	// requires encrypted assertions.
	EncryptAssertions bool `json:"encrypt_assertions,omitempty"`
	// SPKeySealed is the SP's private key (PKCS #8 PEM) sealed with the
	// master key; SPCertificatePEM is its self-signed certificate.
	// Connections made before SP key sets have these (read as the active
	// key); once SPKeys is written they are empty.
	SPKeySealed      string `json:"sp_key_sealed,omitempty"`
	SPCertificatePEM string `json:"sp_certificate_pem,omitempty"`
	// SPKeys is the SP's key set: one active key, one next key published
	// beside it, and retired keys that still decrypt for a grace period.
	SPKeys []SPKey `json:"sp_keys,omitempty"`
	// AllowSHA1 accepts RSA-SHA1 signatures (off by default).
	AllowSHA1 bool `json:"allow_sha1,omitempty"`
	// DefaultRedirectURI receives IdP-initiated logins; empty = the
	// install's default redirect URI.
	DefaultRedirectURI string `json:"default_redirect_uri,omitempty"`
	// AttributeMap overrides the preset's attribute names, by profile
	// field (email, first_name, last_name, groups, idp_id).
	AttributeMap map[string]string `json:"attribute_map,omitempty"`
}

// States of an SP key.
const (
	SPKeyNext    = "next"
	SPKeyActive  = "active"
	SPKeyRetired = "retired"
)

// SPKey is one of a SAML connection's own key pairs: the private key
// (PKCS #8 PEM) sealed with the master key under the connection's ID, and
// its self-signed certificate.
type SPKey struct {
	ID             string    `json:"id"`
	State          string    `json:"state"`
	KeySealed      string    `json:"key_sealed"`
	CertificatePEM string    `json:"certificate_pem"`
	CreatedAt      time.Time `json:"created_at"`
	ActivatedAt    time.Time `json:"activated_at,omitzero"`
	RetiredAt      time.Time `json:"retired_at,omitzero"`
}

// OIDCConfig is an OIDC connection's relying-party settings.
type OIDCConfig struct {
	Issuer             string    `json:"issuer,omitempty"`
	ClientID           string    `json:"client_id,omitempty"`
	ClientSecretSealed string    `json:"client_secret_sealed,omitempty"`
	Scopes             []string  `json:"scopes,omitempty"`
	DiscoveredAt       time.Time `json:"discovered_at,omitzero"`
	DiscoveryError     string    `json:"discovery_error,omitempty"`
}

// ConnectionFilter narrows ListConnections.
type ConnectionFilter struct {
	OrganizationID string
	Type           string
	Domain         string // a domain of the connection's organization
	Search         string // case-insensitive substring of the name
}

// Certificate is one trusted IdP signing certificate of a SAML connection.
type Certificate struct {
	ConnectionID string
	Fingerprint  string // lowercase hex SHA-256 of the DER
	PEM          string
	NotBefore    time.Time
	NotAfter     time.Time
	Source       string // "manual" | "metadata"
	CreatedAt    time.Time
	// RenewalNotified is the smallest days-before-expiry threshold whose
	// renewal notice was sent; -1 = none.
	RenewalNotified int
	// RetireAt is when a certificate that left the IdP's metadata stops
	// being trusted; zero = not retiring.
	RetireAt time.Time
	// LastVerifiedAt is when the certificate last verified a sign-in's
	// signature, to within about a minute; zero = never.
	LastVerifiedAt time.Time
}

// Trusted reports whether c still verifies signatures at now.
func (c Certificate) Trusted(now time.Time) bool {
	return c.RetireAt.IsZero() || now.Before(c.RetireAt)
}

// SSORequest is a login in flight between /sso/authorize and the IdP's
// answer. Its ID is the SAML AuthnRequest ID (and RelayState) or the OIDC
// state.
type SSORequest struct {
	ID             string
	ConnectionID   string
	OrganizationID string
	RedirectURI    string
	State          string // the host app's state, echoed back
	Nonce          string // OIDC nonce we sent
	CodeVerifier   string // OIDC PKCE verifier we keep
	// CodeChallenge and CodeChallengeMethod are the host app's PKCE
	// challenge for the code we will issue (optional).
	CodeChallenge       string
	CodeChallengeMethod string
	IPAddress           string
	UserAgent           string
	// BrowserHash is the SHA-256 of the secret in the cookie set in the
	// browser that started the login; the IdP's answer must come with it.
	BrowserHash []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// SSOGrant is a profile bound to a one-time code or an access token; only
// the SHA-256 of the code or token is stored.
type SSOGrant struct {
	Hash           []byte
	ConnectionID   string
	OrganizationID string
	Profile        []byte // the profile's JSON
	RedirectURI    string
	// CodeChallenge and CodeChallengeMethod carry the host app's PKCE
	// challenge from the request to the code.
	CodeChallenge       string
	CodeChallengeMethod string
	ExpiresAt           time.Time
}

// RedirectURI is an allow-listed redirect_uri of /sso/authorize.
type RedirectURI struct {
	ID        string
	URI       string
	Default   bool
	CreatedAt time.Time
}

// SSO stores connections and the state of logins.
type SSO interface {
	// CreateConnection inserts c; ErrConflict if its ID is taken.
	CreateConnection(ctx context.Context, c Connection) error
	// UpdateConnection writes c but its organization and CreatedAt;
	// ErrNotFound if it does not exist.
	UpdateConnection(ctx context.Context, c Connection) error
	// UpdateConnectionIf updates c only if the stored connection's
	// UpdatedAt is still prev (compare-and-set); ok is false when it was
	// changed or deleted meanwhile.
	UpdateConnectionIf(ctx context.Context, c Connection, prev time.Time) (ok bool, err error)
	// DeleteConnection deletes a connection with its certificates;
	// ErrNotFound if it does not exist.
	DeleteConnection(ctx context.Context, id string) error
	GetConnection(ctx context.Context, id string) (Connection, error)
	// ListConnections returns one page, ordered by ID.
	ListConnections(ctx context.Context, f ConnectionFilter, p Page) ([]Connection, PageInfo, error)
	// ConnectionsForOrganization returns an organization's connections, oldest first.
	ConnectionsForOrganization(ctx context.Context, orgID string) ([]Connection, error)
	// ClaimDueMetadataRefresh returns up to limit connections whose
	// NextRefreshAt has come (most overdue first) and moves it to next, so
	// each refresh runs on one node.
	ClaimDueMetadataRefresh(ctx context.Context, now, next time.Time, limit int) ([]Connection, error)

	// PutCertificate inserts or replaces a certificate (its RetireAt too;
	// RenewalNotified and LastVerifiedAt are kept).
	PutCertificate(ctx context.Context, c Certificate) error
	// DeleteCertificate deletes a connection's certificate; ErrNotFound if
	// the connection has none with that fingerprint.
	DeleteCertificate(ctx context.Context, connectionID, fingerprint string) error
	// DeleteCertificatesBySource removes a connection's certificates of one source.
	DeleteCertificatesBySource(ctx context.Context, connectionID, source string) error
	// DeleteRetiredCertificates removes certificates whose RetireAt has
	// passed and returns them.
	DeleteRetiredCertificates(ctx context.Context, now time.Time) ([]Certificate, error)
	// RecordUnknownCertificate notes that the IdP signed with a certificate
	// the connection does not trust; first is true for the first sighting of
	// that fingerprint on that connection (exactly one caller sees it), and
	// recent counts the connection's unknown certificates first seen in the
	// day before seen (this one included).
	RecordUnknownCertificate(ctx context.Context, connectionID, fingerprint string, notAfter, seen time.Time) (first bool, recent int, err error)
	// ListCertificates returns a connection's certificates, oldest first.
	ListCertificates(ctx context.Context, connectionID string) ([]Certificate, error)
	// CertificatesExpiringBefore returns every certificate whose NotAfter is
	// before t, soonest first.
	CertificatesExpiringBefore(ctx context.Context, t time.Time) ([]Certificate, error)
	// MarkCertificateNotified records that the notice for threshold was
	// sent, if no notice for that or a smaller threshold was; it reports
	// whether it did (so exactly one node sends each notice).
	MarkCertificateNotified(ctx context.Context, connectionID, fingerprint string, threshold int) (bool, error)
	// MarkCertificateVerified records that a certificate verified a
	// sign-in at at, unless a later time is already recorded; it reports
	// whether it wrote. An unknown certificate is no error (it may have been
	// removed meanwhile): false.
	MarkCertificateVerified(ctx context.Context, connectionID, fingerprint string, at time.Time) (bool, error)

	// CreateSSORequest inserts r; ErrConflict if its ID is taken.
	CreateSSORequest(ctx context.Context, r SSORequest) error
	// GetSSORequest returns a request without taking it (the ACS reads it
	// first and takes it in the transaction that ends the login);
	// ErrNotFound if it does not exist (or was taken).
	GetSSORequest(ctx context.Context, id string) (SSORequest, error)
	// TakeSSORequest returns and deletes a request, so it is used once;
	// ErrNotFound if it does not exist (or was taken).
	TakeSSORequest(ctx context.Context, id string) (SSORequest, error)
	// TakeExpiredSSORequests returns and deletes up to limit requests that
	// expired before now (logins that timed out), longest expired first.
	TakeExpiredSSORequests(ctx context.Context, now time.Time, limit int) ([]SSORequest, error)

	// CreateSSOCode stores a code's grant; ErrConflict if its hash is taken.
	CreateSSOCode(ctx context.Context, g SSOGrant) error
	// TakeSSOCode returns and deletes a code's grant, so it is used once;
	// ErrNotFound if none. An expired grant is returned until it is swept:
	// the caller checks ExpiresAt.
	TakeSSOCode(ctx context.Context, hash []byte) (SSOGrant, error)
	// CreateSSOToken stores a token's grant; ErrConflict if its hash is taken.
	CreateSSOToken(ctx context.Context, g SSOGrant) error
	// GetSSOToken returns a token's grant; ErrNotFound if none. As with
	// codes, the caller checks ExpiresAt.
	GetSSOToken(ctx context.Context, hash []byte) (SSOGrant, error)

	// ConsumeReplayKey records key until expiresAt; ErrConflict if it is
	// already recorded. The database makes this hold across nodes.
	ConsumeReplayKey(ctx context.Context, key string, expiresAt time.Time) error
	// DeleteExpiredSSO drops codes, tokens and replay keys that expired
	// before now (expired requests: TakeExpiredSSORequests).
	DeleteExpiredSSO(ctx context.Context, now time.Time) error

	// CreateRedirectURI adds r; ErrConflict if the URI is listed (and then
	// nothing changes). A default one makes the others non-default.
	CreateRedirectURI(ctx context.Context, r RedirectURI) error
	// ListRedirectURIs returns every allow-listed URI, oldest first.
	ListRedirectURIs(ctx context.Context) ([]RedirectURI, error)
	// DeleteRedirectURI removes a URI; ErrNotFound if it does not exist.
	DeleteRedirectURI(ctx context.Context, id string) error
}
