package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CreatePortalLink implements store.Portal.
func (q *queries) CreatePortalLink(ctx context.Context, l store.PortalLink) error {
	return q.exec(ctx, false, `INSERT INTO portal_links (hash, organization_id, intent, return_url, success_url, options, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		l.Hash, l.OrganizationID, l.Intent, l.ReturnURL, l.SuccessURL, l.Options, store.Millis(l.CreatedAt), store.Millis(l.ExpiresAt))
}

// TakePortalLink implements store.Portal.
func (q *queries) TakePortalLink(ctx context.Context, hash []byte) (store.PortalLink, error) {
	var l store.PortalLink
	var created, expires int64
	err := q.w.QueryRowContext(ctx, `DELETE FROM portal_links WHERE hash = $1
		RETURNING hash, organization_id, intent, return_url, success_url, options, created_at, expires_at`, hash).
		Scan(&l.Hash, &l.OrganizationID, &l.Intent, &l.ReturnURL, &l.SuccessURL, &l.Options, &created, &expires)
	if err != nil {
		return l, notFound(err)
	}
	l.CreatedAt, l.ExpiresAt = store.FromMillis(created), store.FromMillis(expires)
	return l, nil
}

// CreatePortalSession implements store.Portal.
func (q *queries) CreatePortalSession(ctx context.Context, s store.PortalSession) error {
	return q.exec(ctx, false, `INSERT INTO portal_sessions (hash, id, organization_id, intent, return_url, success_url, options,
		created_at, idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.Hash, s.ID, s.OrganizationID, s.Intent, s.ReturnURL, s.SuccessURL, s.Options,
		store.Millis(s.CreatedAt), store.Millis(s.IdleExpiresAt), store.Millis(s.ExpiresAt))
}

// GetPortalSession implements store.Portal.
func (q *queries) GetPortalSession(ctx context.Context, hash []byte) (store.PortalSession, error) {
	var s store.PortalSession
	var created, idle, expires int64
	err := q.r.QueryRowContext(ctx, `SELECT hash, id, organization_id, intent, return_url, success_url, options,
		created_at, idle_expires_at, expires_at FROM portal_sessions WHERE hash = $1`, hash).
		Scan(&s.Hash, &s.ID, &s.OrganizationID, &s.Intent, &s.ReturnURL, &s.SuccessURL, &s.Options, &created, &idle, &expires)
	if err != nil {
		return s, notFound(err)
	}
	s.CreatedAt, s.IdleExpiresAt, s.ExpiresAt = store.FromMillis(created), store.FromMillis(idle), store.FromMillis(expires)
	return s, nil
}

// TouchPortalSession implements store.Portal.
func (q *queries) TouchPortalSession(ctx context.Context, hash []byte, now, idleUntil time.Time) error {
	return q.exec(ctx, true, `UPDATE portal_sessions SET idle_expires_at = CASE WHEN $1 < expires_at THEN $1 ELSE expires_at END
		WHERE hash = $2 AND idle_expires_at > $3 AND expires_at > $3`, store.Millis(idleUntil), hash, store.Millis(now))
}

// DeletePortalSession implements store.Portal.
func (q *queries) DeletePortalSession(ctx context.Context, hash []byte) error {
	return q.exec(ctx, false, `DELETE FROM portal_sessions WHERE hash = $1`, hash)
}

// DeleteExpiredPortal implements store.Portal.
func (q *queries) DeleteExpiredPortal(ctx context.Context, now time.Time) error {
	if err := q.exec(ctx, false, `DELETE FROM portal_links WHERE expires_at < $1`, store.Millis(now)); err != nil {
		return err
	}
	return q.exec(ctx, false, `DELETE FROM portal_sessions WHERE idle_expires_at < $1 OR expires_at < $1`, store.Millis(now))
}
