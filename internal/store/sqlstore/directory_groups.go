package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

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
	return queryCounted(ctx, q.r, "directory_groups", groupCols, w, gq.After, gq.NoTotal, gq.Offset, gq.Count, scanGroup)
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

// AddMembers implements store.Directories: AddMember for many users in one
// round trip, which is what a PATCH adding a batch of members costs.
func (q *queries) AddMembers(ctx context.Context, directoryID, groupID string, userIDs []string, now time.Time) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	w := where{args: []any{groupID, directoryID, now.UnixNano()}}
	w.in("u.id", userIDs)
	return queryAll(ctx, q.w, `INSERT INTO directory_memberships (group_id, user_id, directory_id, seq)
		SELECT g.id, u.id, g.directory_id, $3 FROM directory_groups g, directory_users u
		WHERE g.id = $1 AND g.directory_id = $2 AND u.directory_id = $2 AND `+w.conds[0]+`
		ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id`, w.args, func(r *sql.Rows) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
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
