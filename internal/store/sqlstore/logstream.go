package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const logStreamCols = `id, organization_id, type, state, config, secrets_sealed, last_error_code, last_error_text,
	last_error_at, last_synced_at, created_at, updated_at`

func scanLogStream(s rowScanner) (store.LogStream, error) {
	var ls store.LogStream
	var cfg string
	var errAt, synced, created, updated int64
	err := s.Scan(&ls.ID, &ls.OrganizationID, &ls.Type, &ls.State, &cfg, &ls.SecretsSealed, &ls.LastErrorCode,
		&ls.LastErrorText, &errAt, &synced, &created, &updated)
	ls.Config = []byte(cfg)
	if errAt != 0 {
		ls.LastErrorAt = store.FromMillis(errAt)
	}
	if synced != 0 {
		ls.LastSyncedAt = store.FromMillis(synced)
	}
	ls.CreatedAt, ls.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return ls, err
}

// CreateLogStream implements store.LogStreams.
func (q *queries) CreateLogStream(ctx context.Context, s store.LogStream) error {
	return q.exec(ctx, false, `INSERT INTO log_streams (`+logStreamCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		s.ID, s.OrganizationID, s.Type, s.State, string(s.Config), s.SecretsSealed, s.LastErrorCode, s.LastErrorText,
		optMillis(s.LastErrorAt), optMillis(s.LastSyncedAt), store.Millis(s.CreatedAt), store.Millis(s.UpdatedAt))
}

// UpdateLogStream implements store.LogStreams.
func (q *queries) UpdateLogStream(ctx context.Context, s store.LogStream) error {
	return q.exec(ctx, true, `UPDATE log_streams SET state = $1, config = $2, secrets_sealed = $3, last_error_code = $4,
		last_error_text = $5, last_error_at = $6, updated_at = $7 WHERE id = $8 AND organization_id = $9`,
		s.State, string(s.Config), s.SecretsSealed, s.LastErrorCode, s.LastErrorText, optMillis(s.LastErrorAt),
		store.Millis(s.UpdatedAt), s.ID, s.OrganizationID)
}

// logStreamWhere selects stream id, within organizationID unless it is "".
func logStreamWhere(organizationID, id string) where {
	var w where
	w.add("id = ?", id)
	if organizationID != "" {
		w.add("organization_id = ?", organizationID)
	}
	return w
}

// DeleteLogStream implements store.LogStreams.
func (q *queries) DeleteLogStream(ctx context.Context, organizationID, id string) error {
	w := logStreamWhere(organizationID, id)
	return q.exec(ctx, true, `DELETE FROM log_streams`+w.sql(), w.args...)
}

// GetLogStream implements store.LogStreams.
func (q *queries) GetLogStream(ctx context.Context, organizationID, id string) (store.LogStream, error) {
	w := logStreamWhere(organizationID, id)
	s, err := scanLogStream(q.r.QueryRowContext(ctx, `SELECT `+logStreamCols+` FROM log_streams`+w.sql(), w.args...))
	return s, notFound(err)
}

// ListLogStreams implements store.LogStreams.
func (q *queries) ListLogStreams(ctx context.Context, organizationID string, p store.Page) ([]store.LogStream, store.PageInfo, error) {
	var w where
	if organizationID != "" {
		w.add("organization_id = ?", organizationID)
	}
	return listPage(ctx, q.r, `SELECT `+logStreamCols+` FROM log_streams`, "id", w, p,
		func(r *sql.Rows) (store.LogStream, error) { return scanLogStream(r) },
		func(s store.LogStream) string { return s.ID })
}

// RecordLogStreamDelivery implements store.LogStreams.
func (q *queries) RecordLogStreamDelivery(ctx context.Context, id string, at time.Time, code, text string) error {
	if code == "" {
		return q.exec(ctx, true, `UPDATE log_streams SET last_synced_at = $1,
			state = CASE WHEN state = 'error' THEN 'active' ELSE state END WHERE id = $2`, store.Millis(at), id)
	}
	return q.exec(ctx, true, `UPDATE log_streams SET last_error_code = $1, last_error_text = $2, last_error_at = $3,
		state = CASE WHEN state = 'inactive' THEN state ELSE 'error' END WHERE id = $4`, code, text, store.Millis(at), id)
}
