package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const directoryCols = `id, organization_id, type, name, state, domain, external_key, activated_at, google,
	next_sync_at, last_sync_at, last_sync_error, created_at, updated_at`

func scanDirectory(s rowScanner) (store.Directory, error) {
	var d store.Directory
	var activated, next, last, created, updated int64
	err := s.Scan(&d.ID, &d.OrganizationID, &d.Type, &d.Name, &d.State, &d.Domain, &d.ExternalKey, &activated,
		&d.Google, &next, &last, &d.LastSyncError, &created, &updated)
	d.ActivatedAt, d.NextSyncAt, d.LastSyncAt = fromOptMillis(activated), fromOptMillis(next), fromOptMillis(last)
	d.CreatedAt, d.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return d, err
}

func fromOptMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return store.FromMillis(ms)
}

// forUpdate returns the row-locking suffix for a SELECT in a transaction.
// SQLite needs none: its write transactions are serialised (BEGIN IMMEDIATE).
func (q *queries) forUpdate(lock bool) string {
	if lock && q.inTx && q.d.Name() == "postgres" {
		return " FOR UPDATE"
	}
	return ""
}

// CreateDirectory implements store.Directories.
func (q *queries) CreateDirectory(ctx context.Context, d store.Directory) error {
	return q.exec(ctx, false, `INSERT INTO directories (`+directoryCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		d.ID, d.OrganizationID, d.Type, d.Name, d.State, d.Domain, d.ExternalKey, optMillis(d.ActivatedAt), d.Google,
		optMillis(d.NextSyncAt), optMillis(d.LastSyncAt), d.LastSyncError, store.Millis(d.CreatedAt), store.Millis(d.UpdatedAt))
}

// UpdateDirectory implements store.Directories.
func (q *queries) UpdateDirectory(ctx context.Context, d store.Directory) error {
	return q.exec(ctx, true, `UPDATE directories SET name = $1, state = $2, domain = $3, activated_at = $4, google = $5,
		next_sync_at = $6, last_sync_at = $7, last_sync_error = $8, updated_at = $9 WHERE id = $10`,
		d.Name, d.State, d.Domain, optMillis(d.ActivatedAt), d.Google, optMillis(d.NextSyncAt), optMillis(d.LastSyncAt),
		d.LastSyncError, store.Millis(d.UpdatedAt), d.ID)
}

// DeleteDirectory implements store.Directories.
func (q *queries) DeleteDirectory(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM directories WHERE id = $1`, id)
}

// GetDirectory implements store.Directories.
func (q *queries) GetDirectory(ctx context.Context, id string) (store.Directory, error) {
	d, err := scanDirectory(q.r.QueryRowContext(ctx, `SELECT `+directoryCols+` FROM directories WHERE id = $1`, id))
	return d, notFound(err)
}

// ListDirectories implements store.Directories.
func (q *queries) ListDirectories(ctx context.Context, f store.DirectoryFilter, p store.Page) ([]store.Directory, store.PageInfo, error) {
	var w where
	if f.OrganizationID != "" {
		w.add("organization_id = ?", f.OrganizationID)
	}
	if f.Search != "" {
		w.add(`LOWER(name) LIKE ? ESCAPE '\'`, "%"+likeEscape(strings.ToLower(f.Search))+"%")
	}
	if f.Domain != "" {
		w.add("domain = ?", strings.ToLower(f.Domain))
	}
	return listPage(ctx, q.r, `SELECT `+directoryCols+` FROM directories`, "id", w, p,
		func(r *sql.Rows) (store.Directory, error) { return scanDirectory(r) },
		func(d store.Directory) string { return d.ID })
}

// CountDirectory implements store.Directories.
func (q *queries) CountDirectory(ctx context.Context, id string) (store.DirectoryCounts, error) {
	var c store.DirectoryCounts
	rows, err := q.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM directory_users WHERE directory_id = $1 GROUP BY state`, id)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return c, err
		}
		if state == store.UserActive {
			c.ActiveUsers += n
		} else {
			c.InactiveUsers += n
		}
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	err = q.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_groups WHERE directory_id = $1`, id).Scan(&c.Groups)
	return c, err
}

// ActivateDirectory implements store.Directories.
func (q *queries) ActivateDirectory(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE directories SET state = $1, activated_at = CASE WHEN activated_at = 0 THEN $2 ELSE activated_at END,
		updated_at = $2 WHERE id = $3 AND state <> $1`, store.DirectoryLinked, store.Millis(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimDueDirectorySyncs implements store.Directories with the same
// conditional-update claim as ClaimDueDomains.
func (q *queries) ClaimDueDirectorySyncs(ctx context.Context, now, next time.Time, limit int) ([]store.Directory, error) {
	return claimDue(ctx, q, "directories", directoryCols, "next_sync_at", "", now, next, limit,
		scanDirectory, func(d *store.Directory) (string, *time.Time) { return d.ID, &d.NextSyncAt })
}

// LeaseDirectorySync implements store.Directories: a compare-and-set on the
// lease column, so exactly one of several racing pulls wins.
func (q *queries) LeaseDirectorySync(ctx context.Context, id string, now, until time.Time) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE directories SET sync_lease_until = $1 WHERE id = $2 AND sync_lease_until <= $3`,
		store.Millis(until), id, store.Millis(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseDirectorySync implements store.Directories.
func (q *queries) ReleaseDirectorySync(ctx context.Context, id string) error {
	return q.exec(ctx, false, `UPDATE directories SET sync_lease_until = 0 WHERE id = $1`, id)
}

const tokenCols = `id, directory_id, name, hash, suffix, created_at, last_used_at`

func scanToken(s rowScanner) (store.DirectoryToken, error) {
	var t store.DirectoryToken
	var created, used int64
	err := s.Scan(&t.ID, &t.DirectoryID, &t.Name, &t.Hash, &t.Suffix, &created, &used)
	t.CreatedAt, t.LastUsedAt = store.FromMillis(created), fromOptMillis(used)
	return t, err
}

// CreateDirectoryToken implements store.Directories.
func (q *queries) CreateDirectoryToken(ctx context.Context, t store.DirectoryToken) error {
	return q.exec(ctx, false, `INSERT INTO directory_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, 0)`,
		t.ID, t.DirectoryID, t.Name, t.Hash, t.Suffix, store.Millis(t.CreatedAt))
}

// DeleteDirectoryToken implements store.Directories.
func (q *queries) DeleteDirectoryToken(ctx context.Context, directoryID, id string) (store.DirectoryToken, error) {
	t, err := scanToken(q.w.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE id = $1 AND directory_id = $2`, id, directoryID))
	if err != nil {
		return t, notFound(err)
	}
	return t, q.exec(ctx, true, `DELETE FROM directory_tokens WHERE id = $1`, id)
}

// ListDirectoryTokens implements store.Directories.
func (q *queries) ListDirectoryTokens(ctx context.Context, directoryID string) ([]store.DirectoryToken, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE directory_id = $1 ORDER BY id`, directoryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DirectoryToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DirectoryByTokenHash implements store.Directories.
func (q *queries) DirectoryByTokenHash(ctx context.Context, hash []byte) (store.DirectoryToken, store.Directory, error) {
	var t store.DirectoryToken
	var d store.Directory
	var tCreated, tUsed, activated, next, last, created, updated int64
	err := q.r.QueryRowContext(ctx, `SELECT t.id, t.directory_id, t.name, t.hash, t.suffix, t.created_at, t.last_used_at,
		d.id, d.organization_id, d.type, d.name, d.state, d.domain, d.external_key, d.activated_at, d.google,
		d.next_sync_at, d.last_sync_at, d.last_sync_error, d.created_at, d.updated_at
		FROM directory_tokens t JOIN directories d ON d.id = t.directory_id WHERE t.hash = $1`, hash).
		Scan(&t.ID, &t.DirectoryID, &t.Name, &t.Hash, &t.Suffix, &tCreated, &tUsed,
			&d.ID, &d.OrganizationID, &d.Type, &d.Name, &d.State, &d.Domain, &d.ExternalKey, &activated, &d.Google,
			&next, &last, &d.LastSyncError, &created, &updated)
	if err != nil {
		return t, d, notFound(err)
	}
	t.CreatedAt, t.LastUsedAt = store.FromMillis(tCreated), fromOptMillis(tUsed)
	d.ActivatedAt, d.NextSyncAt, d.LastSyncAt = fromOptMillis(activated), fromOptMillis(next), fromOptMillis(last)
	d.CreatedAt, d.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return t, d, nil
}

// TouchDirectoryToken implements store.Directories.
func (q *queries) TouchDirectoryToken(ctx context.Context, id string, now time.Time) error {
	return q.exec(ctx, false, `UPDATE directory_tokens SET last_used_at = $1 WHERE id = $2`, store.Millis(now), id)
}

func queryAll[T any](ctx context.Context, db execer, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// withTotal scans a row's columns and then the total column.
type withTotal struct {
	r     *sql.Rows
	total *int
}

// Scan implements rowScanner.
func (w withTotal) Scan(dest ...any) error { return w.r.Scan(append(dest, w.total)...) }

// queryCounted reads one SCIM page and the total number of matches in one
// query, so a lookup such as `userName eq` is one round trip; only a page
// past the end needs a separate count. after (when set) seeks past that ID
// instead of skipping rows, so paging through a large directory is not
// quadratic; noTotal leaves the count out (total -1).
func queryCounted[T any](ctx context.Context, db execer, table, cols string, w where, after string, noTotal bool, offset, count int,
	scan func(rowScanner) (T, error)) ([]T, int, error) {
	total := 0
	if noTotal {
		total = -1
	}
	if count > 0 {
		// The count is an uncorrelated subquery over the same conditions
		// (the $N placeholders are shared), computed once from the indexes;
		// a window count would buffer every matching row first.
		totalCol := fmt.Sprintf("(SELECT COUNT(*) FROM %s%s)", table, w.sql())
		if noTotal {
			totalCol = "-1"
		}
		page := w
		page.conds = slices.Clone(w.conds)
		page.args = slices.Clone(w.args)
		if after != "" {
			page.add("id > ?", after)
		}
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s, %s FROM %s%s ORDER BY id LIMIT %d OFFSET %d`,
			cols, totalCol, table, page.sql(), count, offset), page.args...)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		var items []T
		for rows.Next() {
			it, err := scan(withTotal{rows, &total})
			if err != nil {
				return nil, 0, err
			}
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
		if len(items) > 0 || (offset == 0 && after == "") || noTotal {
			return items, total, nil
		}
	}
	if noTotal {
		return nil, -1, nil
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	return nil, total, nil
}

func idMap(ctx context.Context, db execer, query, arg string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// AppendSCIMRequests implements store.Directories.
func (q *queries) AppendSCIMRequests(ctx context.Context, rs []store.SCIMRequest) error {
	if len(rs) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString(`INSERT INTO scim_requests (id, directory_id, method, path, status, error, latency_us, request_body, response_body, created_at) VALUES `)
	args := make([]any, 0, len(rs)*10)
	for i, r := range rs {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
		args = append(args, r.ID, r.DirectoryID, r.Method, r.Path, r.Status, r.Error, r.LatencyMicro, r.RequestBody, r.ResponseBody, store.Millis(r.CreatedAt))
	}
	return q.exec(ctx, false, sb.String(), args...)
}

// ListSCIMRequests implements store.Directories.
func (q *queries) ListSCIMRequests(ctx context.Context, directoryID string, p store.Page) ([]store.SCIMRequest, store.PageInfo, error) {
	var w where
	w.add("directory_id = ?", directoryID)
	return listPage(ctx, q.r, `SELECT id, directory_id, method, path, status, error, latency_us, request_body, response_body, created_at FROM scim_requests`,
		"id", w, p, func(r *sql.Rows) (store.SCIMRequest, error) {
			var s store.SCIMRequest
			var created int64
			err := r.Scan(&s.ID, &s.DirectoryID, &s.Method, &s.Path, &s.Status, &s.Error, &s.LatencyMicro, &s.RequestBody, &s.ResponseBody, &created)
			s.CreatedAt = store.FromMillis(created)
			return s, err
		}, func(s store.SCIMRequest) string { return s.ID })
}

// DeleteSCIMRequestsBefore implements store.Directories.
func (q *queries) DeleteSCIMRequestsBefore(ctx context.Context, t time.Time) error {
	return q.exec(ctx, false, `DELETE FROM scim_requests WHERE created_at < $1`, store.Millis(t))
}
