package sqlstore

import (
	"context"
	"database/sql"
)

// LockSequencer and NumberPending are the steps of one sequencing pass, so
// that a test can run a pass that dies halfway.
func LockSequencer(ctx context.Context, tx *sql.Tx) error { return lockSequencer(ctx, tx) }

// NumberPending: see LockSequencer.
func NumberPending(ctx context.Context, tx *sql.Tx, limit int) (int64, error) {
	return numberPending(ctx, tx, limit)
}
