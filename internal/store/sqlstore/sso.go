package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// connConfig is the JSON document in sso_connections.config.
type connConfig struct {
	SAML *store.SAMLConfig `json:"saml,omitempty"`
	OIDC *store.OIDCConfig `json:"oidc,omitempty"`
}

const connCols = `id, organization_id, connection_type, name, state, protocol, config, next_refresh_at, created_at, updated_at`

func (q *queries) scanConn(s rowScanner) (store.Connection, error) {
	var c store.Connection
	var cfg string
	var next, created, updated int64
	if err := s.Scan(&c.ID, &c.OrganizationID, &c.Type, &c.Name, &c.State, &c.Protocol, &cfg, &next, &created, &updated); err != nil {
		return c, err
	}
	cc, err := q.configs.decode(c.ID, cfg)
	if err != nil {
		return c, fmt.Errorf("connection %s config: %w", c.ID, err)
	}
	if cc.SAML != nil {
		c.SAML = *cc.SAML
	}
	if cc.OIDC != nil {
		c.OIDC = *cc.OIDC
	}
	if next != 0 {
		c.NextRefreshAt = store.FromMillis(next)
	}
	c.CreatedAt, c.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return c, nil
}

func connConfigJSON(c store.Connection) (string, error) {
	var cc connConfig
	switch c.Protocol {
	case store.ProtocolSAML:
		cc.SAML = &c.SAML
	case store.ProtocolOIDC:
		cc.OIDC = &c.OIDC
	}
	b, err := json.Marshal(cc)
	return string(b), err
}

// CreateConnection implements store.SSO.
func (q *queries) CreateConnection(ctx context.Context, c store.Connection) error {
	cfg, err := connConfigJSON(c)
	if err != nil {
		return err
	}
	return q.exec(ctx, false, `INSERT INTO sso_connections (`+connCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.OrganizationID, c.Type, c.Name, c.State, c.Protocol, cfg, optMillis(c.NextRefreshAt), store.Millis(c.CreatedAt), store.Millis(c.UpdatedAt))
}

// UpdateConnection implements store.SSO.
func (q *queries) UpdateConnection(ctx context.Context, c store.Connection) error {
	cfg, err := connConfigJSON(c)
	if err != nil {
		return err
	}
	return q.exec(ctx, true, `UPDATE sso_connections SET connection_type = $2, name = $3, state = $4, protocol = $5, config = $6,
		next_refresh_at = $7, updated_at = $8 WHERE id = $1`,
		c.ID, c.Type, c.Name, c.State, c.Protocol, cfg, optMillis(c.NextRefreshAt), store.Millis(c.UpdatedAt))
}

// UpdateConnectionIf implements store.SSO.
func (q *queries) UpdateConnectionIf(ctx context.Context, c store.Connection, prev time.Time) (bool, error) {
	cfg, err := connConfigJSON(c)
	if err != nil {
		return false, err
	}
	err = q.exec(ctx, true, `UPDATE sso_connections SET connection_type = $2, name = $3, state = $4, protocol = $5, config = $6,
		next_refresh_at = $7, updated_at = $8 WHERE id = $1 AND updated_at = $9`,
		c.ID, c.Type, c.Name, c.State, c.Protocol, cfg, optMillis(c.NextRefreshAt), store.Millis(c.UpdatedAt), store.Millis(prev))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteConnection implements store.SSO.
func (q *queries) DeleteConnection(ctx context.Context, id string) error {
	// SQLite enforces ON DELETE CASCADE only with foreign keys on; delete
	// the children explicitly so both backends behave alike.
	if err := q.exec(ctx, false, `DELETE FROM sso_certificates WHERE connection_id = $1`, id); err != nil {
		return err
	}
	return q.exec(ctx, true, `DELETE FROM sso_connections WHERE id = $1`, id)
}

// GetConnection implements store.SSO.
func (q *queries) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c, err := q.scanConn(q.r.QueryRowContext(ctx, `SELECT `+connCols+` FROM sso_connections WHERE id = $1`, id))
	return c, notFound(err)
}

// ListConnections implements store.SSO.
func (q *queries) ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, store.PageInfo, error) {
	var w where
	if f.OrganizationID != "" {
		w.add("organization_id = ?", f.OrganizationID)
	}
	if f.Type != "" {
		w.add("connection_type = ?", f.Type)
	}
	if f.Search != "" {
		w.add(`LOWER(name) LIKE ? ESCAPE '\'`, "%"+strings.ToLower(likeEscape(f.Search))+"%")
	}
	if f.Domain != "" {
		w.add("organization_id IN (SELECT organization_id FROM organization_domains WHERE domain = ?)", strings.ToLower(f.Domain))
	}
	return listPage(ctx, q.r, `SELECT `+connCols+` FROM sso_connections`, "id", w, p,
		func(r *sql.Rows) (store.Connection, error) { return q.scanConn(r) },
		func(c store.Connection) string { return c.ID })
}

// ConnectionsForOrganization implements store.SSO.
func (q *queries) ConnectionsForOrganization(ctx context.Context, orgID string) ([]store.Connection, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+connCols+` FROM sso_connections WHERE organization_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Connection
	for rows.Next() {
		c, err := q.scanConn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimDueMetadataRefresh implements store.SSO. Each due row is claimed
// with a compare-and-set on next_refresh_at, so concurrent callers (other
// nodes) never claim the same refresh.
func (q *queries) ClaimDueMetadataRefresh(ctx context.Context, now, next time.Time, limit int) ([]store.Connection, error) {
	return claimDue(ctx, q, "sso_connections", connCols, "next_refresh_at", "", now, next, limit,
		q.scanConn, func(c *store.Connection) (string, *time.Time) { return c.ID, &c.NextRefreshAt })
}

// PutCertificate implements store.SSO.
func (q *queries) PutCertificate(ctx context.Context, c store.Certificate) error {
	return q.exec(ctx, false, `INSERT INTO sso_certificates (connection_id, fingerprint, pem, not_before, not_after, source, created_at, retire_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connection_id, fingerprint) DO UPDATE SET pem = excluded.pem, not_before = excluded.not_before,
		not_after = excluded.not_after, source = excluded.source, retire_at = excluded.retire_at`,
		c.ConnectionID, c.Fingerprint, c.PEM, store.Millis(c.NotBefore), store.Millis(c.NotAfter), c.Source, store.Millis(c.CreatedAt),
		optMillis(c.RetireAt))
}

// DeleteCertificate implements store.SSO.
func (q *queries) DeleteCertificate(ctx context.Context, connectionID, fingerprint string) error {
	return q.exec(ctx, true, `DELETE FROM sso_certificates WHERE connection_id = $1 AND fingerprint = $2`, connectionID, fingerprint)
}

// DeleteCertificatesBySource implements store.SSO.
func (q *queries) DeleteCertificatesBySource(ctx context.Context, connectionID, source string) error {
	return q.exec(ctx, false, `DELETE FROM sso_certificates WHERE connection_id = $1 AND source = $2`, connectionID, source)
}

const certCols = `connection_id, fingerprint, pem, not_before, not_after, source, created_at, renewal_notified, retire_at, last_verified_at`

func scanCerts(rows *sql.Rows) ([]store.Certificate, error) {
	defer rows.Close()
	var out []store.Certificate
	for rows.Next() {
		var c store.Certificate
		var nb, na, created, retire, verified int64
		if err := rows.Scan(&c.ConnectionID, &c.Fingerprint, &c.PEM, &nb, &na, &c.Source, &created, &c.RenewalNotified, &retire, &verified); err != nil {
			return nil, err
		}
		c.NotBefore, c.NotAfter, c.CreatedAt = store.FromMillis(nb), store.FromMillis(na), store.FromMillis(created)
		c.RetireAt, c.LastVerifiedAt = fromOptMillis(retire), fromOptMillis(verified)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ListCertificates implements store.SSO.
func (q *queries) ListCertificates(ctx context.Context, connectionID string) ([]store.Certificate, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+certCols+` FROM sso_certificates WHERE connection_id = $1 ORDER BY created_at, fingerprint`, connectionID)
	if err != nil {
		return nil, err
	}
	return scanCerts(rows)
}

// DeleteRetiredCertificates implements store.SSO: the rows are read and
// then deleted by their exact retire_at, so a certificate that came back
// into the metadata meanwhile (retire_at reset) stays.
func (q *queries) DeleteRetiredCertificates(ctx context.Context, now time.Time) ([]store.Certificate, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+certCols+` FROM sso_certificates WHERE retire_at > 0 AND retire_at <= $1`, store.Millis(now))
	if err != nil {
		return nil, err
	}
	due, err := scanCerts(rows)
	if err != nil {
		return nil, err
	}
	var gone []store.Certificate
	for _, c := range due {
		res, err := q.w.ExecContext(ctx, `DELETE FROM sso_certificates WHERE connection_id = $1 AND fingerprint = $2 AND retire_at = $3`,
			c.ConnectionID, c.Fingerprint, store.Millis(c.RetireAt))
		if err != nil {
			return gone, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			gone = append(gone, c)
		}
	}
	return gone, nil
}

// RecordUnknownCertificate implements store.SSO.
func (q *queries) RecordUnknownCertificate(ctx context.Context, connectionID, fingerprint string, notAfter, seen time.Time) (bool, int, error) {
	res, err := q.w.ExecContext(ctx, `INSERT INTO sso_unknown_certificates (connection_id, fingerprint, not_after, first_seen_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, fingerprint) DO NOTHING`,
		connectionID, fingerprint, store.Millis(notAfter), store.Millis(seen))
	if err != nil {
		return false, 0, q.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	var recent int
	err = q.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM sso_unknown_certificates WHERE connection_id = $1 AND first_seen_at > $2`,
		connectionID, store.Millis(seen.Add(-24*time.Hour))).Scan(&recent)
	return n == 1, recent, err
}

// CertificatesExpiringBefore implements store.SSO.
func (q *queries) CertificatesExpiringBefore(ctx context.Context, t time.Time) ([]store.Certificate, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+certCols+` FROM sso_certificates WHERE not_after < $1 ORDER BY not_after`, store.Millis(t))
	if err != nil {
		return nil, err
	}
	return scanCerts(rows)
}

// MarkCertificateNotified implements store.SSO.
func (q *queries) MarkCertificateNotified(ctx context.Context, connectionID, fingerprint string, threshold int) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE sso_certificates SET renewal_notified = $1
		WHERE connection_id = $2 AND fingerprint = $3 AND (renewal_notified = -1 OR renewal_notified > $1)`, threshold, connectionID, fingerprint)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkCertificateVerified implements store.SSO. The time only moves
// forward, so two nodes recording one minute's sign-ins write once.
func (q *queries) MarkCertificateVerified(ctx context.Context, connectionID, fingerprint string, at time.Time) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE sso_certificates SET last_verified_at = $1
		WHERE connection_id = $2 AND fingerprint = $3 AND last_verified_at < $1`, store.Millis(at), connectionID, fingerprint)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CreateSSORequest implements store.SSO.
func (q *queries) CreateSSORequest(ctx context.Context, r store.SSORequest) error {
	return q.exec(ctx, false, `INSERT INTO sso_requests (id, connection_id, organization_id, redirect_uri, state, nonce, code_verifier,
		code_challenge, code_challenge_method, ip_address, user_agent, created_at, expires_at, browser_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.ConnectionID, r.OrganizationID, r.RedirectURI, r.State, r.Nonce, r.CodeVerifier, r.CodeChallenge, r.CodeChallengeMethod,
		r.IPAddress, r.UserAgent,
		store.Millis(r.CreatedAt), store.Millis(r.ExpiresAt), r.BrowserHash)
}

const requestCols = `id, connection_id, organization_id, redirect_uri, state, nonce, code_verifier, code_challenge,
	code_challenge_method, ip_address, user_agent, created_at, expires_at, browser_hash`

func scanRequest(s rowScanner) (store.SSORequest, error) {
	var r store.SSORequest
	var created, expires int64
	err := s.Scan(&r.ID, &r.ConnectionID, &r.OrganizationID, &r.RedirectURI, &r.State, &r.Nonce, &r.CodeVerifier, &r.CodeChallenge,
		&r.CodeChallengeMethod, &r.IPAddress, &r.UserAgent, &created, &expires, &r.BrowserHash)
	r.CreatedAt, r.ExpiresAt = store.FromMillis(created), store.FromMillis(expires)
	return r, err
}

// GetSSORequest implements store.SSO.
func (q *queries) GetSSORequest(ctx context.Context, id string) (store.SSORequest, error) {
	r, err := scanRequest(q.r.QueryRowContext(ctx, `SELECT `+requestCols+` FROM sso_requests WHERE id = $1`, id))
	return r, notFound(err)
}

// TakeSSORequest implements store.SSO.
func (q *queries) TakeSSORequest(ctx context.Context, id string) (store.SSORequest, error) {
	r, err := scanRequest(q.w.QueryRowContext(ctx, `DELETE FROM sso_requests WHERE id = $1 RETURNING `+requestCols, id))
	return r, notFound(err)
}

// TakeExpiredSSORequests implements store.SSO.
func (q *queries) TakeExpiredSSORequests(ctx context.Context, now time.Time, limit int) ([]store.SSORequest, error) {
	rows, err := q.w.QueryContext(ctx, `DELETE FROM sso_requests WHERE id IN
		(SELECT id FROM sso_requests WHERE expires_at < $1 ORDER BY expires_at LIMIT $2) RETURNING `+requestCols, store.Millis(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SSORequest
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (q *queries) createGrant(ctx context.Context, table string, g store.SSOGrant) error {
	return q.exec(ctx, false, `INSERT INTO `+table+` (hash, connection_id, organization_id, profile, redirect_uri, code_challenge,
		code_challenge_method, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		g.Hash, g.ConnectionID, g.OrganizationID, string(g.Profile), g.RedirectURI, g.CodeChallenge, g.CodeChallengeMethod, store.Millis(g.ExpiresAt))
}

func scanGrant(s rowScanner) (store.SSOGrant, error) {
	var g store.SSOGrant
	var profile string
	var expires int64
	if err := s.Scan(&g.Hash, &g.ConnectionID, &g.OrganizationID, &profile, &g.RedirectURI, &g.CodeChallenge, &g.CodeChallengeMethod, &expires); err != nil {
		return g, notFound(err)
	}
	g.Profile, g.ExpiresAt = []byte(profile), store.FromMillis(expires)
	return g, nil
}

const grantCols = `hash, connection_id, organization_id, profile, redirect_uri, code_challenge, code_challenge_method, expires_at`

// CreateSSOCode implements store.SSO.
func (q *queries) CreateSSOCode(ctx context.Context, g store.SSOGrant) error {
	return q.createGrant(ctx, "sso_codes", g)
}

// TakeSSOCode implements store.SSO.
func (q *queries) TakeSSOCode(ctx context.Context, hash []byte) (store.SSOGrant, error) {
	return scanGrant(q.w.QueryRowContext(ctx, `DELETE FROM sso_codes WHERE hash = $1 RETURNING `+grantCols, hash))
}

// CreateSSOToken implements store.SSO.
func (q *queries) CreateSSOToken(ctx context.Context, g store.SSOGrant) error {
	return q.createGrant(ctx, "sso_tokens", g)
}

// GetSSOToken implements store.SSO.
func (q *queries) GetSSOToken(ctx context.Context, hash []byte) (store.SSOGrant, error) {
	return scanGrant(q.r.QueryRowContext(ctx, `SELECT `+grantCols+` FROM sso_tokens WHERE hash = $1`, hash))
}

// ConsumeReplayKey implements store.SSO.
func (q *queries) ConsumeReplayKey(ctx context.Context, key string, expiresAt time.Time) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO sso_replay (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		key, store.Millis(expiresAt))
	if err != nil {
		return q.mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// DeleteExpiredSSO implements store.SSO.
func (q *queries) DeleteExpiredSSO(ctx context.Context, now time.Time) error {
	// Expired sso_requests are taken by TakeExpiredSSORequests, which reports them.
	for _, t := range []string{"sso_codes", "sso_tokens", "sso_replay"} {
		if err := q.exec(ctx, false, `DELETE FROM `+t+` WHERE expires_at < $1`, store.Millis(now)); err != nil {
			return fmt.Errorf("sweep %s: %w", t, err)
		}
	}
	return nil
}

// CreateRedirectURI implements store.SSO. The insert goes first, so a
// refused duplicate leaves the current default in place.
func (q *queries) CreateRedirectURI(ctx context.Context, r store.RedirectURI) error {
	if err := q.exec(ctx, false, `INSERT INTO redirect_uris (id, uri, is_default, created_at) VALUES ($1, $2, $3, $4)`,
		r.ID, r.URI, r.Default, store.Millis(r.CreatedAt)); err != nil {
		return err
	}
	if !r.Default {
		return nil
	}
	return q.exec(ctx, false, `UPDATE redirect_uris SET is_default = FALSE WHERE is_default AND id <> $1`, r.ID)
}

// ListRedirectURIs implements store.SSO.
func (q *queries) ListRedirectURIs(ctx context.Context) ([]store.RedirectURI, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT id, uri, is_default, created_at FROM redirect_uris ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RedirectURI
	for rows.Next() {
		var r store.RedirectURI
		var created int64
		if err := rows.Scan(&r.ID, &r.URI, &r.Default, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = store.FromMillis(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRedirectURI implements store.SSO.
func (q *queries) DeleteRedirectURI(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM redirect_uris WHERE id = $1`, id)
}
