package sso

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// samlProvider builds the crewjam SP that validates a connection's
// responses, and returns the certificate rows it read.
func (s *Service) samlProvider(ctx context.Context, q store.Queries, c store.Connection, spInitiated bool) (*crewjam.ServiceProvider, []store.Certificate, error) {
	// The trusted certificates are read from the store on every login, so
	// one added, removed or retired on any node counts at once; only their
	// parsing is cached, by content.
	certs, err := q.ListCertificates(ctx, c.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("certificates: %w", err)
	}
	now := s.now()
	var trusted []*x509.Certificate
	for _, rec := range certs {
		if !rec.Trusted(now) {
			continue // its overlap ended; the sweep deletes it
		}
		x, err := s.Certificates.parse(rec.PEM)
		if err != nil {
			return nil, nil, fmt.Errorf("stored certificate %s: %w", rec.Fingerprint, err)
		}
		trusted = append(trusted, x)
	}
	sp, err := s.newServiceProvider(c, spInitiated, trusted, now)
	return sp, certs, err
}

// requestSP is a connection's ServiceProvider for what we send (the
// AuthnRequest, SP metadata): it needs our keys and the IdP's SSO URL,
// not the IdP's certificates, so they are not read.
func (s *Service) requestSP(c store.Connection) (*crewjam.ServiceProvider, error) {
	return s.newServiceProvider(c, true, nil, s.now())
}

func (s *Service) newServiceProvider(c store.Connection, spInitiated bool, certs []*x509.Certificate, now time.Time) (*crewjam.ServiceProvider, error) {
	cfg := ssosaml.Config{
		EntityID: s.SPEntityID(c.ID), ACSURL: s.ACSURL(c.ID), MetadataURL: s.SPEntityID(c.ID),
		IdPEntityID: c.SAML.IdPEntityID, IdPSSOURL: c.SAML.IdPSSOURL, IdPSSOBinding: c.SAML.IdPSSOBinding,
		AllowIdPInitiated: c.SAML.AllowIdPInitiated && !spInitiated, AllowSHA1: c.SAML.AllowSHA1,
		SignRequests: c.SAML.SignRequests,
		ReplayCache:  &replayCache{prefix: c.ID + ":"},
		Certificates: certs,
	}
	keys, err := s.loadSPKeys(c, now)
	if err != nil {
		return nil, err
	}
	cfg.Key, cfg.Certificate, cfg.DecryptionKeys = keys.key, keys.cert, keys.decrypt
	return ssosaml.NewServiceProvider(cfg)
}

// SPMetadata returns a connection's SP metadata XML.
func (s *Service) SPMetadata(ctx context.Context, connID string) ([]byte, error) {
	c, err := s.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	if c.Protocol != store.ProtocolSAML {
		return nil, fmt.Errorf("connection %s is not SAML: %w", connID, store.ErrNotFound)
	}
	sp, err := s.requestSP(c.Connection)
	if err != nil {
		return nil, err
	}
	// The next SP key is published beside the active one.
	keys, err := s.loadSPKeys(c.Connection, s.now())
	if err != nil || keys.next == nil || keys.cert == nil {
		return ssosaml.Metadata(sp)
	}
	return ssosaml.Metadata(sp, keys.next)
}

// replayCache is crewjam's AssertionReplayCache for one request. crewjam
// calls Consume once the assertion is valid; the IDs are kept here and
// recorded in the database in the transaction that issues the code (see
// succeed), so a replay is refused on every node and the login costs one
// write transaction, not two. Of two concurrent posts of one assertion,
// the second insert conflicts and that login fails as a replay.
type replayCache struct {
	prefix string
	keys   []replayKey
}

type replayKey struct {
	key     string
	expires time.Time
}

// Consume implements crewjam's AssertionReplayCache.
func (r *replayCache) Consume(assertionID string, expiresAt time.Time) error {
	r.keys = append(r.keys, replayKey{r.prefix + assertionID, expiresAt})
	return nil
}

// errReplayed aborts the code transaction when an assertion ID is taken.
var errReplayed = errors.New("assertion already used")

// ACS handles a SAML Response posted to a connection's ACS. An answer to a
// login we started must come from the browser that started it.
func (s *Service) ACS(ctx context.Context, connID, samlResponse, relayState, ip, ua string, browser Browser) (o Outcome) {
	conn, err := s.Store.GetConnection(ctx, connID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Outcome{ErrorCode: "server_error", Err: failure.New(failure.InternalError, err)}
	}
	if err != nil || conn.Protocol != store.ProtocolSAML {
		return Outcome{ErrorCode: "connection_invalid", Err: failure.Newf(failure.ConnectionInvalid, "no SAML connection %q", connID)}
	}
	// Find the login this answers. A RelayState we did not issue may be an
	// IdP's own (IdP-initiated); it is then ignored. The login is only read
	// here: it is taken (so used once) in the one transaction that ends it,
	// with the code or with the failure (succeed, samlFail).
	req, err := s.findLogin(ctx, relayState)
	if err != nil {
		return s.samlFail(ctx, conn, nil, ip, ua, failure.New(failure.InternalError, err))
	}
	// Decoded once; a decoding error is reported below, after the checks
	// that come first.
	raw, decodeErr := ssosaml.DecodeResponse(samlResponse)
	// A response to a login we started names it in InResponseTo even when
	// the IdP drops RelayState: it is bound to the browser all the same.
	if req == nil && decodeErr == nil {
		if req, err = s.findLogin(ctx, ssosaml.InResponseTo(raw)); err != nil {
			return s.samlFail(ctx, conn, nil, ip, ua, failure.New(failure.InternalError, err))
		}
	}
	if req != nil {
		defer func() { o.Unbind = req.ID }()
	}
	if req != nil && (req.ConnectionID != conn.ID || s.now().After(req.ExpiresAt)) {
		return s.samlFail(ctx, conn, req, ip, ua, failure.Newf(failure.RequestUnknown, "the sign-in request expired or belongs to another connection"))
	}
	// The response's InResponseTo must be req.ID (checked with the
	// signature below), so this binds the login it answers to the browser.
	if req != nil {
		if f := checkBrowser(*req, browser); f != nil {
			return s.samlFail(ctx, conn, req, ip, ua, f)
		}
	}
	if conn.State != store.ConnectionActive {
		return s.samlFail(ctx, conn, req, ip, ua, failure.Newf(failure.ConnectionInactive, "connection is %s", conn.State))
	}
	if req == nil && !conn.SAML.AllowIdPInitiated {
		code := failure.IdPInitiatedOff
		if relayState != "" {
			code = failure.RequestUnknown
		}
		return s.samlFail(ctx, conn, nil, ip, ua, failure.Newf(code, ""))
	}
	if decodeErr != nil {
		return s.samlFail(ctx, conn, req, ip, ua, asFailure(decodeErr))
	}
	sp, certs, err := s.samlProvider(ctx, s.Store, conn, req != nil)
	if err != nil {
		return s.samlFail(ctx, conn, req, ip, ua, failure.New(failure.InternalError, err))
	}
	var ids []string
	if req != nil {
		ids = []string{req.ID}
	}
	assertion, signer, err := s.validate(sp, certs, raw, ids, conn.SAML.EncryptAssertions)
	if f := asFailureOrNil(err); f != nil && f.Code == failure.CertificateUnknown {
		// The IdP may have rolled its key: when its metadata now publishes
		// the certificate, trust it and validate this very response again.
		if fresh, ok := s.recoverUnknownCertificate(ctx, conn, raw, f); ok {
			conn = fresh
			if sp, certs, err = s.samlProvider(ctx, s.Store, conn, req != nil); err != nil {
				return s.samlFail(ctx, conn, req, ip, ua, failure.New(failure.InternalError, err))
			}
			assertion, signer, err = s.validate(sp, certs, raw, ids, conn.SAML.EncryptAssertions)
		}
	}
	if err != nil {
		return s.samlFail(ctx, conn, req, ip, ua, asFailure(err))
	}
	prof, ferr := s.samlProfile(conn, assertion)
	if ferr != nil {
		return s.samlFail(ctx, conn, req, ip, ua, ferr)
	}
	rc, _ := sp.ReplayCache.(*replayCache)
	if rc == nil || len(rc.keys) == 0 {
		// crewjam always consumes a valid assertion; refuse rather than
		// accept one that could be replayed.
		return s.samlFail(ctx, conn, req, ip, ua, failure.New(failure.InternalError, errors.New("assertion ID not recorded")))
	}
	return s.succeed(ctx, conn, req, true, prof, ip, ua, rc.keys, s.staleVerification(certs, signer))
}

// findLogin reads the login request id names, or nil when id is empty,
// too long to be ours, or unknown.
func (s *Service) findLogin(ctx context.Context, id string) (*store.SSORequest, error) {
	if id == "" || len(id) > 80 {
		return nil, nil
	}
	r, err := s.Store.GetSSORequest(ctx, id)
	switch {
	case err == nil:
		return &r, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	default:
		return nil, err
	}
}

// certVerifiedEvery is how stale a certificate's LastVerifiedAt may get:
// the renewal page shows it to the minute, and sign-ins within a minute of
// the last recorded one add no write.
const certVerifiedEvery = time.Minute

// validate validates a response, asking which certificate verified it
// only when a trusted certificate's record of its last sign-in is stale:
// on crewjam's path finding it can cost extra signature checks, which a
// sign-in within a minute of the last recorded one does not need.
func (s *Service) validate(sp *crewjam.ServiceProvider, certs []store.Certificate, raw []byte, ids []string, requireEncrypted bool) (*crewjam.Assertion, string, error) {
	for _, c := range certs {
		if s.now().Sub(c.LastVerifiedAt) >= certVerifiedEvery {
			return s.SAML.ValidateSigned(sp, raw, ids, requireEncrypted)
		}
	}
	a, err := s.SAML.Validate(sp, raw, ids, requireEncrypted)
	return a, "", err
}

// staleVerification returns the fingerprint of the certificate that
// verified a sign-in when its recorded last verification is older than
// certVerifiedEvery (or missing), else "".
func (s *Service) staleVerification(certs []store.Certificate, fingerprint string) string {
	if fingerprint == "" {
		return ""
	}
	for _, c := range certs {
		if c.Fingerprint == fingerprint {
			if s.now().Sub(c.LastVerifiedAt) >= certVerifiedEvery {
				return fingerprint
			}
			return ""
		}
	}
	return ""
}

func asFailureOrNil(err error) *failure.Error {
	if err == nil {
		return nil
	}
	return asFailure(err)
}

func asFailure(err error) *failure.Error {
	if f, ok := failure.As(err); ok {
		return f
	}
	return failure.New(failure.InternalError, err)
}

// landing returns where a login without a stored request (IdP-initiated)
// lands: the connection's default redirect URI while it is still on the
// allow-list (it may have been removed since it was set), else the
// install's.
func (s *Service) landing(ctx context.Context, conn store.Connection) string {
	if d := conn.SAML.DefaultRedirectURI; d != "" {
		if s.redirectAllowed(ctx, d) {
			return d
		}
		if s.Log != nil {
			s.Log.WarnContext(ctx, "connection default_redirect_uri is no longer on the allow-list; using the default redirect URI",
				"connection_id", conn.ID, "default_redirect_uri", d)
		}
	}
	return s.DefaultRedirectURI(ctx)
}

func (s *Service) samlFail(ctx context.Context, conn store.Connection, req *store.SSORequest, ip, ua string, f *failure.Error) Outcome {
	take := ""
	if req != nil {
		take = req.ID // a login is used once, even when it fails
	}
	s.recordFailureTaking(ctx, conn, ip, ua, f, take)
	o := Outcome{ErrorCode: oauthErrorCode(f.Code), Err: f}
	if req != nil {
		o.RedirectURI, o.State = req.RedirectURI, req.State
	} else if f.Code != failure.ConnectionInvalid {
		o.RedirectURI = s.landing(ctx, conn)
	}
	return o
}

// oauthErrorCode is the error= value sent to the host app.
func oauthErrorCode(c failure.Code) string {
	switch c {
	case failure.ConnectionInvalid, failure.ConnectionInactive:
		return "connection_invalid"
	case failure.InternalError:
		return "server_error"
	case failure.IdPErrorStatus:
		return "access_denied"
	}
	return "invalid_grant" // the IdP's answer was refused
}

// RecordACSFailure records a failure found before the ACS could read the
// request (for example an oversized form), if the connection exists.
func (s *Service) RecordACSFailure(ctx context.Context, connID, ip, ua string, f *failure.Error) {
	if conn, err := s.Store.GetConnection(ctx, connID); err == nil {
		s.recordFailure(ctx, conn, ip, ua, f)
	}
}
