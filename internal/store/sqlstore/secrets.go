package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// sealedColumns maps each store.SealedColumn to its table and column; only
// these may be rewritten.
var sealedColumns = map[store.SealedColumn][2]string{
	store.SealedConnectionConfig: {"sso_connections", "config"},
	store.SealedDirectoryGoogle:  {"directories", "google"},
}

// ReplaceSealed implements store.Secrets with REPLACE, which SQLite and
// PostgreSQL both have, guarded by the old value still being there.
func (q *queries) ReplaceSealed(ctx context.Context, col store.SealedColumn, id, old, new string) (bool, error) {
	tc, ok := sealedColumns[col]
	if !ok {
		return false, fmt.Errorf("replace sealed: unknown column %q", col)
	}
	if old == "" || strings.ContainsAny(old, `%_\`) {
		return false, fmt.Errorf("replace sealed: %q is not a sealed value", old)
	}
	res, err := q.w.ExecContext(ctx, fmt.Sprintf(`UPDATE %[1]s SET %[2]s = REPLACE(%[2]s, $1, $2) WHERE id = $3 AND %[2]s LIKE $4`, tc[0], tc[1]),
		old, new, id, "%"+old+"%")
	if err != nil {
		return false, q.mapErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
