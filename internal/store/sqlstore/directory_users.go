package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

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
	return queryCounted(ctx, q.r, "directory_users", userCols, w, uq.After, uq.NoTotal, uq.Offset, uq.Count, scanUser)
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
