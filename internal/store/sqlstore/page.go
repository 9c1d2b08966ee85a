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

// where collects SQL conditions and their arguments, numbering the $N
// placeholders as they are added.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which each "?" stands for the next argument.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// in appends "col IN (…)" for vals; an empty vals matches nothing.
func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		w.conds = append(w.conds, "1 = 0")
		return
	}
	ph := make([]string, len(vals))
	for i, v := range vals {
		w.args = append(w.args, v)
		ph[i] = fmt.Sprintf("$%d", len(w.args))
	}
	w.conds = append(w.conds, col+" IN ("+strings.Join(ph, ", ")+")")
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likeEscape escapes LIKE wildcards in a user's search string.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// listPage reads one WorkOS-style page of rows ordered by idCol. selectFrom
// is "SELECT cols FROM table"; w holds the filters. Cursors are IDs, which
// sort by creation.
func listPage[T any](ctx context.Context, db execer, selectFrom, idCol string, w where, p store.Page,
	scan func(*sql.Rows) (T, error), idOf func(T) string) ([]T, store.PageInfo, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 10
	}
	desc := p.Order != store.Asc
	// Reading backwards from a "before" cursor flips the direction.
	backwards := p.Before != ""
	readDesc := desc != backwards
	cmp, dir := ">", "ASC"
	if readDesc {
		cmp, dir = "<", "DESC"
	}
	switch {
	case backwards:
		w.add(idCol+" "+cmp+" ?", p.Before)
	case p.After != "":
		w.add(idCol+" "+cmp+" ?", p.After)
	}
	query := fmt.Sprintf("%s%s ORDER BY %s %s LIMIT %d", selectFrom, w.sql(), idCol, dir, limit+1)
	rows, err := db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, store.PageInfo{}, err
	}
	defer rows.Close()
	var items []T
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, store.PageInfo{}, err
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, store.PageInfo{}, err
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	var info store.PageInfo
	if backwards {
		slices.Reverse(items)
		if len(items) > 0 {
			info.After = idOf(items[len(items)-1])
			if more {
				info.Before = idOf(items[0])
			}
		}
		return items, info, nil
	}
	if len(items) > 0 {
		if more {
			info.After = idOf(items[len(items)-1])
		}
		if p.After != "" {
			info.Before = idOf(items[0])
		}
	}
	return items, info, nil
}

// claimDue claims up to limit rows of table whose due-time column (Unix
// ms, 0 = never) has passed, by moving it to next with an update that only
// succeeds if the column still holds the value read. When several nodes race
// for a row exactly one update wins, so each scheduled job runs once; this
// needs no row locks and works alike on SQLite and PostgreSQL. cond narrows
// both statements (e.g. "state = 'pending'"); due gives a scanned row's ID
// and its due-time field, which is set to next on the rows claimed.
func claimDue[T any](ctx context.Context, q *queries, table, cols, col, cond string, now, next time.Time, limit int,
	scan func(rowScanner) (T, error), due func(*T) (string, *time.Time)) ([]T, error) {
	if cond != "" {
		cond = " AND " + cond
	}
	rows, err := q.r.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE %s > 0 AND %s <= $1%s ORDER BY %s LIMIT $2`,
		cols, table, col, col, cond, col), store.Millis(now), limit)
	if err != nil {
		return nil, err
	}
	var candidates []T
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		candidates = append(candidates, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	update := fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE id = $2 AND %s = $3%s`, table, col, col, cond)
	var claimed []T
	for _, it := range candidates {
		id, at := due(&it)
		res, err := q.w.ExecContext(ctx, update, store.Millis(next), id, store.Millis(*at))
		if err != nil {
			return claimed, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			*at = next
			claimed = append(claimed, it)
		}
	}
	return claimed, nil
}
