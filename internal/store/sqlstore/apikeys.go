package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ListAPIKeys implements store.APIKeys.
func (q *queries) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT id, name, hash, suffix, created_at, last_used_at FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		var k store.APIKey
		var created, used int64
		if err := rows.Scan(&k.ID, &k.Name, &k.Hash, &k.Suffix, &created, &used); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt = store.FromMillis(created), fromOptMillis(used)
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteAPIKey implements store.APIKeys.
func (q *queries) DeleteAPIKey(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM api_keys WHERE id = $1`, id)
}

// TouchAPIKey implements store.APIKeys.
func (q *queries) TouchAPIKey(ctx context.Context, id string, prev, now time.Time) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND last_used_at = $3`,
		store.Millis(now), id, optMillis(prev))
	if err != nil {
		return false, q.mapErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
