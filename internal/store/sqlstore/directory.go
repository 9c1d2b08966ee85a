package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

const userCols = `id, directory_id, organization_id, idp_id, external_id, user_name, email, first_name, last_name,
	display_name, job_title, state, emails, attributes, custom_attributes, created_at, updated_at`

func scanUser(s rowScanner) (store.DirectoryUser, error) {
	var u store.DirectoryUser
	var emails, attrs, custom string
	var created, updated int64
	err := s.Scan(&u.ID, &u.DirectoryID, &u.OrganizationID, &u.IdPID, &u.ExternalID, &u.UserName, &u.Email, &u.FirstName,
		&u.LastName, &u.DisplayName, &u.JobTitle, &u.State, &emails, &attrs, &custom, &created, &updated)
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(emails), &u.Emails); err != nil {
		return u, fmt.Errorf("directory user %s emails: %w", u.ID, err)
	}
	u.Attributes, u.CustomAttributes = json.RawMessage(attrs), json.RawMessage(custom)
	u.CreatedAt, u.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return u, nil
}

func rawOr(b json.RawMessage, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

func (q *queries) writeEmails(ctx context.Context, u store.DirectoryUser, replace bool) error {
	if replace {
		if err := q.exec(ctx, false, `DELETE FROM directory_user_emails WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
	}
	for i, e := range u.Emails {
		if err := q.exec(ctx, false, `INSERT INTO directory_user_emails (user_id, position, directory_id, value, value_lower, type, is_primary)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, i, u.DirectoryID, e.Value, strings.ToLower(e.Value), e.Type, e.Primary); err != nil {
			return err
		}
	}
	return nil
}

func emailsJSON(es []store.UserEmail) string {
	if es == nil {
		return "[]"
	}
	b, _ := json.Marshal(es)
	return string(b)
}

// CreateDirectoryUser implements store.Directories.
func (q *queries) CreateDirectoryUser(ctx context.Context, u store.DirectoryUser) error {
	err := q.exec(ctx, false, `INSERT INTO directory_users (id, directory_id, organization_id, idp_id, external_id, user_name,
		user_name_lower, email, email_lower, first_name, last_name, display_name, display_name_lower, job_title, state, emails,
		attributes, custom_attributes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		u.ID, u.DirectoryID, u.OrganizationID, u.IdPID, u.ExternalID, u.UserName, strings.ToLower(u.UserName), u.Email, strings.ToLower(u.Email),
		u.FirstName, u.LastName, u.DisplayName, strings.ToLower(u.DisplayName), u.JobTitle, u.State, emailsJSON(u.Emails),
		rawOr(u.Attributes, "{}"), rawOr(u.CustomAttributes, "{}"), store.Millis(u.CreatedAt), store.Millis(u.UpdatedAt))
	if err != nil {
		return err
	}
	return q.writeEmails(ctx, u, false)
}

// UpdateDirectoryUser implements store.Directories.
func (q *queries) UpdateDirectoryUser(ctx context.Context, u store.DirectoryUser) error {
	err := q.exec(ctx, true, `UPDATE directory_users SET idp_id = $1, external_id = $2, user_name = $3, user_name_lower = $4,
		email = $5, email_lower = $6, first_name = $7, last_name = $8, display_name = $9, display_name_lower = $10, job_title = $11,
		state = $12, emails = $13, attributes = $14, custom_attributes = $15, updated_at = $16 WHERE id = $17 AND directory_id = $18`,
		u.IdPID, u.ExternalID, u.UserName, strings.ToLower(u.UserName), u.Email, strings.ToLower(u.Email), u.FirstName, u.LastName,
		u.DisplayName, strings.ToLower(u.DisplayName), u.JobTitle, u.State, emailsJSON(u.Emails), rawOr(u.Attributes, "{}"),
		rawOr(u.CustomAttributes, "{}"), store.Millis(u.UpdatedAt), u.ID, u.DirectoryID)
	if err != nil {
		return err
	}
	return q.writeEmails(ctx, u, true)
}

// DeleteDirectoryUser implements store.Directories; emails and
// memberships go with it (ON DELETE CASCADE).
func (q *queries) DeleteDirectoryUser(ctx context.Context, directoryID, id string) error {
	return q.exec(ctx, true, `DELETE FROM directory_users WHERE id = $1 AND directory_id = $2`, id, directoryID)
}

// GetDirectoryUser implements store.Directories.
func (q *queries) GetDirectoryUser(ctx context.Context, directoryID, id string, lock bool) (store.DirectoryUser, error) {
	var w where
	w.add("id = ?", id)
	if directoryID != "" {
		w.add("directory_id = ?", directoryID)
	}
	db := q.r
	if lock {
		db = q.w
	}
	u, err := scanUser(db.QueryRowContext(ctx, `SELECT `+userCols+` FROM directory_users`+w.sql()+q.forUpdate(lock), w.args...))
	return u, notFound(err)
}

// GetDirectoryUsers implements store.Directories; unknown IDs are skipped.
func (q *queries) GetDirectoryUsers(ctx context.Context, directoryID string, ids []string) ([]store.DirectoryUser, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var w where
	w.add("directory_id = ?", directoryID)
	w.in("id", ids)
	return queryAll(ctx, q.r, `SELECT `+userCols+` FROM directory_users`+w.sql()+` ORDER BY id`, w.args, scanUserRows)
}

func scanUserRows(r *sql.Rows) (store.DirectoryUser, error) { return scanUser(r) }

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

// DirectoryUserByIdPID implements store.Directories.
func (q *queries) DirectoryUserByIdPID(ctx context.Context, directoryID, idpID string) (store.DirectoryUser, error) {
	u, err := scanUser(q.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM directory_users WHERE directory_id = $1 AND idp_id = $2 ORDER BY id LIMIT 1`,
		directoryID, idpID))
	return u, notFound(err)
}

// QueryDirectoryUsers implements store.Directories: a SCIM page (offset
// and count, ordered by ID so paging is stable) and the total.
func (q *queries) QueryDirectoryUsers(ctx context.Context, uq store.UserQuery) ([]store.DirectoryUser, int, error) {
	var w where
	w.add("directory_id = ?", uq.DirectoryID)
	if uq.Filter != nil {
		c, err := condSQL(&w, uq.Filter, userColumns)
		if err != nil {
			return nil, 0, err
		}
		w.conds = append(w.conds, c)
	}
	return queryCounted(ctx, q.r, "directory_users", userCols, w, uq.Offset, uq.Count, scanUser)
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
// past the end needs a separate count.
func queryCounted[T any](ctx context.Context, db execer, table, cols string, w where, offset, count int, scan func(rowScanner) (T, error)) ([]T, int, error) {
	var total int
	if count > 0 {
		// The count is an uncorrelated subquery over the same conditions
		// (the $N placeholders are shared), computed once from the indexes;
		// a window count would buffer every matching row first.
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s, (SELECT COUNT(*) FROM %s%s) FROM %s%s ORDER BY id LIMIT %d OFFSET %d`,
			cols, table, w.sql(), table, w.sql(), count, offset), w.args...)
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
		if len(items) > 0 || offset == 0 {
			return items, total, nil
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	return nil, total, nil
}

// ListDirectoryUsers implements store.Directories.
func (q *queries) ListDirectoryUsers(ctx context.Context, f store.DirectoryUserFilter, p store.Page) ([]store.DirectoryUser, store.PageInfo, error) {
	var w where
	if f.DirectoryID != "" {
		w.add("directory_id = ?", f.DirectoryID)
	}
	if f.IdPID != "" {
		w.add("idp_id = ?", f.IdPID)
	}
	if f.Email != "" {
		w.add("id IN (SELECT user_id FROM directory_user_emails WHERE value_lower = ?)", strings.ToLower(f.Email))
	}
	if f.GroupID != "" {
		w.add("id IN (SELECT user_id FROM directory_memberships WHERE group_id = ?)", f.GroupID)
	}
	return listPage(ctx, q.r, `SELECT `+userCols+` FROM directory_users`, "id", w, p, scanUserRows,
		func(u store.DirectoryUser) string { return u.ID })
}

// AllDirectoryUserIDs implements store.Directories.
func (q *queries) AllDirectoryUserIDs(ctx context.Context, directoryID string) (map[string]string, error) {
	return idMap(ctx, q.r, `SELECT idp_id, id FROM directory_users WHERE directory_id = $1`, directoryID)
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

const groupCols = `id, directory_id, organization_id, idp_id, external_id, display_name, attributes, created_at, updated_at`

func scanGroup(s rowScanner) (store.DirectoryGroup, error) {
	var g store.DirectoryGroup
	var attrs string
	var created, updated int64
	err := s.Scan(&g.ID, &g.DirectoryID, &g.OrganizationID, &g.IdPID, &g.ExternalID, &g.DisplayName, &attrs, &created, &updated)
	g.Attributes = json.RawMessage(attrs)
	g.CreatedAt, g.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return g, err
}

func scanGroupRows(r *sql.Rows) (store.DirectoryGroup, error) { return scanGroup(r) }

// CreateDirectoryGroup implements store.Directories.
func (q *queries) CreateDirectoryGroup(ctx context.Context, g store.DirectoryGroup) error {
	return q.exec(ctx, false, `INSERT INTO directory_groups (id, directory_id, organization_id, idp_id, external_id, display_name,
		display_name_lower, attributes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		g.ID, g.DirectoryID, g.OrganizationID, g.IdPID, g.ExternalID, g.DisplayName, strings.ToLower(g.DisplayName),
		rawOr(g.Attributes, "{}"), store.Millis(g.CreatedAt), store.Millis(g.UpdatedAt))
}

// UpdateDirectoryGroup implements store.Directories.
func (q *queries) UpdateDirectoryGroup(ctx context.Context, g store.DirectoryGroup) error {
	return q.exec(ctx, true, `UPDATE directory_groups SET idp_id = $1, external_id = $2, display_name = $3, display_name_lower = $4,
		attributes = $5, updated_at = $6 WHERE id = $7 AND directory_id = $8`,
		g.IdPID, g.ExternalID, g.DisplayName, strings.ToLower(g.DisplayName), rawOr(g.Attributes, "{}"), store.Millis(g.UpdatedAt), g.ID, g.DirectoryID)
}

// DeleteDirectoryGroup implements store.Directories.
func (q *queries) DeleteDirectoryGroup(ctx context.Context, directoryID, id string) error {
	return q.exec(ctx, true, `DELETE FROM directory_groups WHERE id = $1 AND directory_id = $2`, id, directoryID)
}

// GetDirectoryGroup implements store.Directories.
func (q *queries) GetDirectoryGroup(ctx context.Context, directoryID, id string, lock bool) (store.DirectoryGroup, error) {
	var w where
	w.add("id = ?", id)
	if directoryID != "" {
		w.add("directory_id = ?", directoryID)
	}
	db := q.r
	if lock {
		db = q.w
	}
	g, err := scanGroup(db.QueryRowContext(ctx, `SELECT `+groupCols+` FROM directory_groups`+w.sql()+q.forUpdate(lock), w.args...))
	return g, notFound(err)
}

// QueryDirectoryGroups implements store.Directories.
func (q *queries) QueryDirectoryGroups(ctx context.Context, gq store.GroupQuery) ([]store.DirectoryGroup, int, error) {
	var w where
	w.add("directory_id = ?", gq.DirectoryID)
	if gq.Filter != nil {
		c, err := condSQL(&w, gq.Filter, groupColumns)
		if err != nil {
			return nil, 0, err
		}
		w.conds = append(w.conds, c)
	}
	return queryCounted(ctx, q.r, "directory_groups", groupCols, w, gq.Offset, gq.Count, scanGroup)
}

// ListDirectoryGroups implements store.Directories.
func (q *queries) ListDirectoryGroups(ctx context.Context, f store.DirectoryGroupFilter, p store.Page) ([]store.DirectoryGroup, store.PageInfo, error) {
	var w where
	if f.DirectoryID != "" {
		w.add("directory_id = ?", f.DirectoryID)
	}
	if f.UserID != "" {
		w.add("id IN (SELECT group_id FROM directory_memberships WHERE user_id = ?)", f.UserID)
	}
	return listPage(ctx, q.r, `SELECT `+groupCols+` FROM directory_groups`, "id", w, p, scanGroupRows,
		func(g store.DirectoryGroup) string { return g.ID })
}

// AllDirectoryGroupIDs implements store.Directories.
func (q *queries) AllDirectoryGroupIDs(ctx context.Context, directoryID string) (map[string]string, error) {
	return idMap(ctx, q.r, `SELECT idp_id, id FROM directory_groups WHERE directory_id = $1`, directoryID)
}

// AddMember implements store.Directories. The insert is a no-op when the
// membership exists, so concurrent adds of different users never lose one
// and a repeated add is harmless. It inserts only if the group and the
// user are both in the directory, so the tenant check is in the query.
func (q *queries) AddMember(ctx context.Context, directoryID, groupID, userID string, now time.Time) (bool, error) {
	res, err := q.w.ExecContext(ctx, `INSERT INTO directory_memberships (group_id, user_id, directory_id, seq)
		SELECT g.id, u.id, g.directory_id, $4 FROM directory_groups g, directory_users u
		WHERE g.id = $1 AND u.id = $2 AND g.directory_id = $3 AND u.directory_id = $3
		ON CONFLICT (group_id, user_id) DO NOTHING`, groupID, userID, directoryID, now.UnixNano())
	if err != nil {
		return false, q.mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	// Nothing inserted: a membership that exists, or a group or user that
	// is not in the directory.
	var n int
	if err := q.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_memberships WHERE group_id = $1 AND user_id = $2 AND directory_id = $3`,
		groupID, userID, directoryID).Scan(&n); err != nil {
		return false, err
	}
	if n == 0 {
		return false, store.ErrNotFound
	}
	return false, nil
}

// RemoveMember implements store.Directories.
func (q *queries) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	res, err := q.w.ExecContext(ctx, `DELETE FROM directory_memberships WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// GroupMembers implements store.Directories.
func (q *queries) GroupMembers(ctx context.Context, groupIDs []string) ([]store.Member, error) {
	if len(groupIDs) == 0 {
		return nil, nil
	}
	var w where
	w.in("m.group_id", groupIDs)
	return queryAll(ctx, q.r, `SELECT m.group_id, m.user_id, u.user_name, u.display_name FROM directory_memberships m
		JOIN directory_users u ON u.id = m.user_id`+w.sql()+` ORDER BY m.group_id, m.seq, m.user_id`, w.args,
		func(r *sql.Rows) (store.Member, error) {
			var m store.Member
			err := r.Scan(&m.GroupID, &m.UserID, &m.UserName, &m.DisplayName)
			return m, err
		})
}

// UserGroups implements store.Directories.
func (q *queries) UserGroups(ctx context.Context, userIDs []string) (map[string][]store.DirectoryGroup, error) {
	out := map[string][]store.DirectoryGroup{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var w where
	w.in("m.user_id", userIDs)
	type row struct {
		user string
		g    store.DirectoryGroup
	}
	rows, err := queryAll(ctx, q.r, `SELECT m.user_id, g.id, g.directory_id, g.organization_id, g.idp_id, g.external_id, g.display_name,
		g.attributes, g.created_at, g.updated_at FROM directory_memberships m JOIN directory_groups g ON g.id = m.group_id`+w.sql()+
		` ORDER BY m.user_id, g.id`, w.args, func(r *sql.Rows) (row, error) {
		var x row
		var attrs string
		var created, updated int64
		err := r.Scan(&x.user, &x.g.ID, &x.g.DirectoryID, &x.g.OrganizationID, &x.g.IdPID, &x.g.ExternalID, &x.g.DisplayName,
			&attrs, &created, &updated)
		x.g.Attributes = json.RawMessage(attrs)
		x.g.CreatedAt, x.g.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range rows {
		out[x.user] = append(out[x.user], x.g)
	}
	return out, nil
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
