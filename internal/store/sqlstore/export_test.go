package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// LockSequencer and NumberPending are the two statements of a sequencing
// pass, so that a test can run a pass that dies halfway.
func LockSequencer(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, lockSequencerSQL)
	return err
}

// NumberPending: see LockSequencer.
func NumberPending(ctx context.Context, tx *sql.Tx) (int64, error) {
	res, err := tx.ExecContext(ctx, numberPendingSQL)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SequencePending runs passes until nothing is left to number.
func SequencePending(ctx context.Context, db *sql.DB) (int64, error) { return sequencePending(ctx, db) }

// SetSequencerInterval changes the least time between passes of db's
// sequencer; call it before db's first commit.
func SetSequencerInterval(db *DB, d time.Duration) { db.seq.minInterval = d }
