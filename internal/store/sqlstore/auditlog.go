package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const auditEventCols = `id, organization_id, action, occurred_at, version, actor_id, actor_type, actor_name, body, created_at`

func scanAuditEvent(s rowScanner) (store.AuditLogEvent, error) {
	var e store.AuditLogEvent
	var occurred, created int64
	var body string
	err := s.Scan(&e.ID, &e.OrganizationID, &e.Action, &occurred, &e.Version, &e.ActorID, &e.ActorType, &e.ActorName, &body, &created)
	e.OccurredAt, e.CreatedAt, e.Body = store.FromMillis(occurred), store.FromMillis(created), json.RawMessage(body)
	return e, err
}

// InsertAuditLogEvent implements store.AuditLogs.
func (q *queries) InsertAuditLogEvent(ctx context.Context, e store.AuditLogEvent) error {
	return q.exec(ctx, false, `INSERT INTO audit_log_events (`+auditEventCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.OrganizationID, e.Action, store.Millis(e.OccurredAt), e.Version, e.ActorID, e.ActorType, e.ActorName,
		string(e.Body), store.Millis(e.CreatedAt))
}

// ListAuditLogEvents implements store.AuditLogs: a keyset scan on
// (occurred_at, id), which the (organization_id, occurred_at, id) index serves.
func (q *queries) ListAuditLogEvents(ctx context.Context, f store.AuditLogEventFilter, limit int) ([]store.AuditLogEvent, error) {
	var w where
	w.add("organization_id = ?", f.OrganizationID)
	if !f.From.IsZero() {
		w.add("occurred_at >= ?", store.Millis(f.From))
	}
	if !f.To.IsZero() {
		w.add("occurred_at < ?", store.Millis(f.To))
	}
	if f.Actions != nil {
		w.in("action", f.Actions)
	}
	if f.AfterID != "" {
		at := store.Millis(f.AfterOccurredAt)
		w.add("(occurred_at > ? OR (occurred_at = ? AND id > ?))", at, at, f.AfterID)
	}
	rows, err := q.r.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM audit_log_events%s ORDER BY occurred_at, id LIMIT %d`,
		auditEventCols, w.sql(), limit), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditLogEvent
	for rows.Next() {
		e, err := scanAuditEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteExpiredAuditLogEvents implements store.AuditLogs in one statement:
// each organization's own retention, else defaultDays.
func (q *queries) DeleteExpiredAuditLogEvents(ctx context.Context, now time.Time, defaultDays int) (int64, error) {
	const day = int64(24 * time.Hour / time.Millisecond)
	res, err := q.w.ExecContext(ctx, `DELETE FROM audit_log_events WHERE occurred_at < CAST($1 AS BIGINT) - CAST($2 AS BIGINT) * COALESCE(
		(SELECT r.days FROM audit_log_retention r WHERE r.organization_id = audit_log_events.organization_id), CAST($3 AS INTEGER))`,
		store.Millis(now), day, defaultDays)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func scanSchema(s rowScanner) (store.AuditLogSchema, error) {
	var x store.AuditLogSchema
	var schema string
	var created int64
	err := s.Scan(&x.Action, &x.Version, &schema, &created)
	x.Schema, x.CreatedAt = json.RawMessage(schema), store.FromMillis(created)
	return x, err
}

// CreateAuditLogSchema implements store.AuditLogs. Two writers racing for
// the same next version meet the primary key: one gets ErrConflict.
func (q *queries) CreateAuditLogSchema(ctx context.Context, s store.AuditLogSchema) (store.AuditLogSchema, error) {
	var latest int
	if err := q.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM audit_log_schemas WHERE action = $1`, s.Action).Scan(&latest); err != nil {
		return s, err
	}
	s.Version = latest + 1
	err := q.exec(ctx, false, `INSERT INTO audit_log_schemas (action, version, schema, created_at) VALUES ($1, $2, $3, $4)`,
		s.Action, s.Version, string(s.Schema), store.Millis(s.CreatedAt))
	return s, err
}

// GetAuditLogSchema implements store.AuditLogs.
func (q *queries) GetAuditLogSchema(ctx context.Context, action string, version int) (store.AuditLogSchema, error) {
	query := `SELECT action, version, schema, created_at FROM audit_log_schemas WHERE action = $1 AND version = $2`
	args := []any{action, version}
	if version == 0 {
		query = `SELECT action, version, schema, created_at FROM audit_log_schemas WHERE action = $1 ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	s, err := scanSchema(q.r.QueryRowContext(ctx, query, args...))
	return s, notFound(err)
}

// ListAuditLogSchemas implements store.AuditLogs.
func (q *queries) ListAuditLogSchemas(ctx context.Context, action string) ([]store.AuditLogSchema, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT action, version, schema, created_at FROM audit_log_schemas WHERE action = $1 ORDER BY version DESC`, action)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditLogSchema
	for rows.Next() {
		s, err := scanSchema(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ListAuditLogActions implements store.AuditLogs.
func (q *queries) ListAuditLogActions(ctx context.Context, p store.Page) ([]store.AuditLogSchema, store.PageInfo, error) {
	return listPage(ctx, q.r, `SELECT s.action, s.version, s.schema, s.created_at FROM audit_log_schemas s
		JOIN (SELECT action AS a, MAX(version) AS v FROM audit_log_schemas GROUP BY action) m ON m.a = s.action AND m.v = s.version`,
		"s.action", where{}, p,
		func(r *sql.Rows) (store.AuditLogSchema, error) { return scanSchema(r) },
		func(s store.AuditLogSchema) string { return s.Action })
}

const exportCols = `id, organization_id, state, filter, csv, error, next_attempt_at, created_at, updated_at`

func scanExport(s rowScanner) (store.AuditLogExport, error) {
	var x store.AuditLogExport
	var filter string
	var next, created, updated int64
	err := s.Scan(&x.ID, &x.OrganizationID, &x.State, &filter, &x.CSV, &x.Error, &next, &created, &updated)
	x.Filter, x.NextAttemptAt = json.RawMessage(filter), fromOptMillis(next)
	x.CreatedAt, x.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return x, err
}

// CreateAuditLogExport implements store.AuditLogs.
func (q *queries) CreateAuditLogExport(ctx context.Context, x store.AuditLogExport) error {
	return q.exec(ctx, false, `INSERT INTO audit_log_exports (`+exportCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		x.ID, x.OrganizationID, x.State, string(x.Filter), x.CSV, x.Error, optMillis(x.NextAttemptAt),
		store.Millis(x.CreatedAt), store.Millis(x.UpdatedAt))
}

// GetAuditLogExport implements store.AuditLogs.
func (q *queries) GetAuditLogExport(ctx context.Context, id string) (store.AuditLogExport, error) {
	x, err := scanExport(q.r.QueryRowContext(ctx, `SELECT `+exportCols+` FROM audit_log_exports WHERE id = $1`, id))
	return x, notFound(err)
}

// FinishAuditLogExport implements store.AuditLogs; only a pending export
// changes, so a late second builder cannot overwrite a finished one.
func (q *queries) FinishAuditLogExport(ctx context.Context, x store.AuditLogExport) error {
	return q.exec(ctx, true, `UPDATE audit_log_exports SET state = $1, csv = $2, error = $3, next_attempt_at = 0, updated_at = $4
		WHERE id = $5 AND state = 'pending'`, x.State, x.CSV, x.Error, store.Millis(x.UpdatedAt), x.ID)
}

// ClaimDueAuditLogExports implements store.AuditLogs.
func (q *queries) ClaimDueAuditLogExports(ctx context.Context, now, next time.Time, limit int) ([]store.AuditLogExport, error) {
	return claimDue(ctx, q, "audit_log_exports", exportCols, "next_attempt_at", "state = 'pending'", now, next, limit,
		scanExport, func(x *store.AuditLogExport) (string, *time.Time) { return x.ID, &x.NextAttemptAt })
}

// ExpireAuditLogExports implements store.AuditLogs.
func (q *queries) ExpireAuditLogExports(ctx context.Context, t time.Time) error {
	return q.exec(ctx, false, `UPDATE audit_log_exports SET state = 'expired', csv = NULL WHERE state = 'ready' AND created_at < $1`, store.Millis(t))
}

// GetAuditLogRetention implements store.AuditLogs.
func (q *queries) GetAuditLogRetention(ctx context.Context, organizationID string) (int, error) {
	var days int
	err := q.r.QueryRowContext(ctx, `SELECT days FROM audit_log_retention WHERE organization_id = $1`, organizationID).Scan(&days)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return days, err
}

// SetAuditLogRetention implements store.AuditLogs.
func (q *queries) SetAuditLogRetention(ctx context.Context, organizationID string, days int) error {
	return q.exec(ctx, false, `INSERT INTO audit_log_retention (organization_id, days) VALUES ($1, $2)
		ON CONFLICT (organization_id) DO UPDATE SET days = excluded.days`, organizationID, days)
}
