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

// GetOrCreateSetting implements store.Settings.
func (q *queries) GetOrCreateSetting(ctx context.Context, key, value string) (string, error) {
	if _, err := q.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	var v string
	if err := q.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	return v, nil
}

// UpsertAPIKey implements store.APIKeys.
func (q *queries) UpsertAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO api_keys (id, name, hash, suffix, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hash) DO NOTHING`, k.ID, k.Name, k.Hash, k.Suffix, store.Millis(k.CreatedAt))
	return q.mapErr(err)
}

// APIKeyByHash implements store.APIKeys.
func (q *queries) APIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	var k store.APIKey
	var created, used int64
	err := q.r.QueryRowContext(ctx, `SELECT id, name, hash, suffix, created_at, last_used_at FROM api_keys WHERE hash = $1`, hash).
		Scan(&k.ID, &k.Name, &k.Hash, &k.Suffix, &created, &used)
	if err != nil {
		return k, notFound(err)
	}
	k.CreatedAt, k.LastUsedAt = store.FromMillis(created), fromOptMillis(used)
	return k, nil
}

// ReserveIdempotencyKey implements store.Idempotency.
func (q *queries) ReserveIdempotencyKey(ctx context.Context, r store.IdempotencyRecord) (bool, store.IdempotencyRecord, error) {
	res, err := q.w.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, request_hash, status, body, created_at)
		VALUES ($1, $2, 0, NULL, $3) ON CONFLICT (scope) DO NOTHING`, r.Scope, r.RequestHash, store.Millis(r.CreatedAt))
	if err != nil {
		return false, r, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, r, nil
	}
	var got store.IdempotencyRecord
	var created int64
	err = q.w.QueryRowContext(ctx, `SELECT scope, request_hash, status, body, created_at FROM idempotency_keys WHERE scope = $1`, r.Scope).
		Scan(&got.Scope, &got.RequestHash, &got.Status, &got.Body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Released between our insert and read: let the client retry.
		return false, store.IdempotencyRecord{Scope: r.Scope}, nil
	}
	got.CreatedAt = store.FromMillis(created)
	return false, got, err
}

// CompleteIdempotencyKey implements store.Idempotency.
func (q *queries) CompleteIdempotencyKey(ctx context.Context, scope string, status int, body []byte) error {
	return q.exec(ctx, false, `UPDATE idempotency_keys SET status = $1, body = $2 WHERE scope = $3`, status, body, scope)
}

// ReleaseIdempotencyKey implements store.Idempotency.
func (q *queries) ReleaseIdempotencyKey(ctx context.Context, scope string) error {
	return q.exec(ctx, false, `DELETE FROM idempotency_keys WHERE scope = $1 AND status = 0`, scope)
}

// DeleteIdempotencyBefore implements store.Idempotency.
func (q *queries) DeleteIdempotencyBefore(ctx context.Context, t time.Time) error {
	return q.exec(ctx, false, `DELETE FROM idempotency_keys WHERE created_at < $1`, store.Millis(t))
}

const orgCols = `id, name, external_id, stripe_customer_id, metadata, allow_profiles_outside_organization, sso_policy, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanOrg(s rowScanner) (store.Organization, error) {
	var o store.Organization
	var ext sql.NullString
	var meta string
	var created, updated int64
	if err := s.Scan(&o.ID, &o.Name, &ext, &o.StripeCustomerID, &meta, &o.AllowProfilesOutsideOrganization, &o.SSOPolicy, &created, &updated); err != nil {
		return o, err
	}
	o.ExternalID = ext.String
	if err := json.Unmarshal([]byte(meta), &o.Metadata); err != nil {
		return o, fmt.Errorf("organization %s metadata: %w", o.ID, err)
	}
	o.CreatedAt, o.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return o, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func metaJSON(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// CreateOrganization implements store.Organizations.
func (q *queries) CreateOrganization(ctx context.Context, o store.Organization) error {
	return q.exec(ctx, false, `INSERT INTO organizations (`+orgCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, o.Name, nullString(o.ExternalID), o.StripeCustomerID, metaJSON(o.Metadata), o.AllowProfilesOutsideOrganization,
		o.SSOPolicy, store.Millis(o.CreatedAt), store.Millis(o.UpdatedAt))
}

// UpdateOrganization implements store.Organizations.
func (q *queries) UpdateOrganization(ctx context.Context, o store.Organization) error {
	return q.exec(ctx, true, `UPDATE organizations SET name = $1, external_id = $2, stripe_customer_id = $3, metadata = $4,
		allow_profiles_outside_organization = $5, sso_policy = $6, updated_at = $7 WHERE id = $8`,
		o.Name, nullString(o.ExternalID), o.StripeCustomerID, metaJSON(o.Metadata), o.AllowProfilesOutsideOrganization,
		o.SSOPolicy, store.Millis(o.UpdatedAt), o.ID)
}

// DeleteOrganization implements store.Organizations.
func (q *queries) DeleteOrganization(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM organizations WHERE id = $1`, id)
}

// GetOrganization implements store.Organizations.
func (q *queries) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	o, err := scanOrg(q.r.QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE id = $1`, id))
	return o, notFound(err)
}

// GetOrganizationByExternalID implements store.Organizations.
func (q *queries) GetOrganizationByExternalID(ctx context.Context, ext string) (store.Organization, error) {
	o, err := scanOrg(q.r.QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE external_id = $1`, ext))
	return o, notFound(err)
}

// ListOrganizations implements store.Organizations.
func (q *queries) ListOrganizations(ctx context.Context, f store.OrganizationFilter, p store.Page) ([]store.Organization, store.PageInfo, error) {
	var w where
	if f.Search != "" {
		w.add(`LOWER(name) LIKE ? ESCAPE '\'`, "%"+likeEscape(strings.ToLower(f.Search))+"%")
	}
	if len(f.Domains) > 0 {
		sub := where{args: w.args}
		sub.in("domain", f.Domains)
		w.args = sub.args
		w.conds = append(w.conds, `id IN (SELECT organization_id FROM organization_domains WHERE `+sub.conds[0]+`)`)
	}
	return listPage(ctx, q.r, `SELECT `+orgCols+` FROM organizations`, "id", w, p,
		func(r *sql.Rows) (store.Organization, error) { return scanOrg(r) },
		func(o store.Organization) string { return o.ID })
}

const domainCols = `id, organization_id, domain, state, verification_strategy, verification_token, verification_prefix,
	last_checked_at, last_check_error, last_check_message, next_check_at, created_at, updated_at`

func scanDomain(s rowScanner) (store.Domain, error) {
	var d store.Domain
	var checked, next, created, updated int64
	err := s.Scan(&d.ID, &d.OrganizationID, &d.Domain, &d.State, &d.VerificationStrategy, &d.VerificationToken,
		&d.VerificationPrefix, &checked, &d.LastCheckError, &d.LastCheckMessage, &next, &created, &updated)
	if checked != 0 {
		d.LastCheckedAt = store.FromMillis(checked)
	}
	if next != 0 {
		d.NextCheckAt = store.FromMillis(next)
	}
	d.CreatedAt, d.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return d, err
}

func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return store.Millis(t)
}

// CreateDomain implements store.Domains.
func (q *queries) CreateDomain(ctx context.Context, d store.Domain) error {
	return q.exec(ctx, false, `INSERT INTO organization_domains (`+domainCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		d.ID, d.OrganizationID, d.Domain, d.State, d.VerificationStrategy, d.VerificationToken, d.VerificationPrefix,
		optMillis(d.LastCheckedAt), d.LastCheckError, d.LastCheckMessage, optMillis(d.NextCheckAt),
		store.Millis(d.CreatedAt), store.Millis(d.UpdatedAt))
}

// UpdateDomain implements store.Domains.
func (q *queries) UpdateDomain(ctx context.Context, d store.Domain) error {
	return q.exec(ctx, true, `UPDATE organization_domains SET state = $1, verification_strategy = $2, last_checked_at = $3,
		last_check_error = $4, last_check_message = $5, next_check_at = $6, updated_at = $7 WHERE id = $8`,
		d.State, d.VerificationStrategy, optMillis(d.LastCheckedAt), d.LastCheckError, d.LastCheckMessage,
		optMillis(d.NextCheckAt), store.Millis(d.UpdatedAt), d.ID)
}

// DeleteDomain implements store.Domains.
func (q *queries) DeleteDomain(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM organization_domains WHERE id = $1`, id)
}

// GetDomain implements store.Domains.
func (q *queries) GetDomain(ctx context.Context, id string) (store.Domain, error) {
	d, err := scanDomain(q.r.QueryRowContext(ctx, `SELECT `+domainCols+` FROM organization_domains WHERE id = $1`, id))
	return d, notFound(err)
}

// VerifiedDomain implements store.Domains.
func (q *queries) VerifiedDomain(ctx context.Context, domain string) (store.Domain, error) {
	d, err := scanDomain(q.r.QueryRowContext(ctx, `SELECT `+domainCols+` FROM organization_domains WHERE domain = $1 AND state = 'verified'`, domain))
	return d, notFound(err)
}

// ListDomains implements store.Domains.
func (q *queries) ListDomains(ctx context.Context, orgID string) ([]store.Domain, error) {
	m, err := q.ListDomainsFor(ctx, []string{orgID})
	return m[orgID], err
}

// ListDomainsFor implements store.Domains.
func (q *queries) ListDomainsFor(ctx context.Context, orgIDs []string) (map[string][]store.Domain, error) {
	out := map[string][]store.Domain{}
	if len(orgIDs) == 0 {
		return out, nil
	}
	var w where
	w.in("organization_id", orgIDs)
	rows, err := q.r.QueryContext(ctx, `SELECT `+domainCols+` FROM organization_domains`+w.sql()+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, err
		}
		out[d.OrganizationID] = append(out[d.OrganizationID], d)
	}
	return out, rows.Err()
}

// ClaimDueDomains implements store.Domains.
func (q *queries) ClaimDueDomains(ctx context.Context, now, next time.Time, limit int) ([]store.Domain, error) {
	return claimDue(ctx, q, "organization_domains", domainCols, "next_check_at", "state = 'pending'", now, next, limit,
		scanDomain, func(d *store.Domain) (string, *time.Time) { return d.ID, &d.NextCheckAt })
}

// AppendEvent implements store.Events. The event gets its position (Seq)
// in commit order: at insert on SQLite, whose writers are serialised; from
// the sequencer once the transaction has committed on PostgreSQL (see
// sequencer.go), so writers take no lock and readers, which read only
// numbered events, never see a later number commit before an earlier one.
func (q *queries) AppendEvent(ctx context.Context, e store.Event) error {
	var ctxJSON sql.NullString
	if len(e.Context) > 0 {
		ctxJSON = sql.NullString{String: string(e.Context), Valid: true}
	}
	err := q.exec(ctx, false, `INSERT INTO events (id, name, organization_id, data, context, created_at, pos)
		VALUES ($1, $2, $3, $4, $5, $6, `+q.d.eventPos()+`)`,
		e.ID, e.Name, nullString(e.OrganizationID), string(e.Data), ctxJSON, store.Millis(e.CreatedAt))
	if err != nil {
		return err
	}
	switch {
	case q.inTx:
		q.appended = true // InTx wakes the sequencer after the commit
	case q.seq != nil:
		q.seq.poke()
	}
	return nil
}

// settle makes a read outside a transaction see every event committed
// before it: where a sequencer numbers events (PostgreSQL), it waits for a
// pass if any committed event is still unnumbered, so an event is readable
// on every node once the request that appended it has answered.
func (q *queries) settle(ctx context.Context) {
	if q.seq != nil && !q.inTx {
		q.seq.settle(ctx, q.r)
	}
}

// eventCols reads an event's position as its Seq; readers select only
// numbered events (pos IS NOT NULL).
const eventCols = `pos, id, name, organization_id, data, context, created_at`

func scanEvent(s rowScanner) (store.Event, error) {
	var e store.Event
	var org, ctxJSON sql.NullString
	var data string
	var created int64
	err := s.Scan(&e.Seq, &e.ID, &e.Name, &org, &data, &ctxJSON, &created)
	e.OrganizationID, e.Data, e.CreatedAt = org.String, json.RawMessage(data), store.FromMillis(created)
	if ctxJSON.Valid {
		e.Context = json.RawMessage(ctxJSON.String)
	}
	return e, err
}

// ListEvents implements store.Events.
func (q *queries) ListEvents(ctx context.Context, f store.EventFilter, limit int, desc bool) ([]store.Event, error) {
	if !f.NoWait {
		q.settle(ctx)
	}
	var w where
	switch {
	case f.AfterSeq > 0 && desc:
		w.add("pos < ?", f.AfterSeq)
	case f.AfterSeq > 0:
		w.add("pos > ?", f.AfterSeq)
	default:
		w.add("pos IS NOT NULL")
	}
	if len(f.Names) > 0 {
		w.in("name", f.Names)
	}
	if f.OrganizationID != "" {
		w.add("organization_id = ?", f.OrganizationID)
	}
	if !f.RangeStart.IsZero() {
		w.add("created_at >= ?", store.Millis(f.RangeStart))
	}
	if !f.RangeEnd.IsZero() {
		w.add("created_at <= ?", store.Millis(f.RangeEnd))
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	rows, err := q.r.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM events%s ORDER BY pos %s LIMIT %d`, eventCols, w.sql(), dir, limit), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEvent implements store.Events.
func (q *queries) GetEvent(ctx context.Context, id string) (store.Event, error) {
	q.settle(ctx)
	e, err := scanEvent(q.r.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1 AND pos IS NOT NULL`, id))
	return e, notFound(err)
}
