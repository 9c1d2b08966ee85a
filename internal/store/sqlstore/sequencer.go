package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// The outbox on PostgreSQL: writers insert events without a position
// (events.pos NULL) and take no lock; the sequencer numbers them moments
// later, in a transaction of its own:
//
//	lock (a transaction-scoped advisory lock, held by sequencing passes only)
//	UPDATE events SET pos = MAX(pos) + n … WHERE pos IS NULL (oldest seq first)
//	commit
//
// A writer's transaction that is still open is invisible to the UPDATE, so
// its events are numbered only after it commits, after every number already
// given: a cursor reader, which reads only numbered events in pos order,
// never has a late commit land behind it. Passes hold the lock from before
// their snapshot to their commit, so numbers become visible in order and
// without gaps, whichever node runs them; the unique index on pos refuses a
// duplicate should that ever fail.
//
// Every node runs passes: right after one of its own transactions that
// appended events commits (InTx waits for that pass, so a request's events
// are readable when it answers, as on SQLite), and every sequencerPoll for
// events whose writer died between its commit and its pass. No lease is
// needed: a lease cannot stop a holder that lost it without knowing (a
// stalled node) from still writing, so the lock would be needed anyway, and
// with it any node's pass is safe. A pass that dies mid-batch (its node or
// connection lost, or stalled past idle_in_transaction_session_timeout)
// rolls back and the server frees its lock; the next pass numbers the same
// events.

// sequencerBatch bounds the events numbered per pass transaction, so that a
// backlog (writers that died before sequencing) is published in steps.
const sequencerBatch = 1000

// sequencerPoll is how often a node looks for events nobody numbered.
const sequencerPoll = 500 * time.Millisecond

// Advisory lock class of sequencing passes ("evnt"); the second key is the
// schema, so schemas sharing a database (tests) do not wait for each other.
const pgLockSequencer = 0x65766e74

// sequencer runs this node's passes one at a time and lets writers wait for
// a pass that started after their commit. Concurrent writers share passes
// (like a group commit).
type sequencer struct {
	db   *sql.DB
	wake chan struct{}

	mu   sync.Mutex
	next chan struct{} // closed when the pass that starts next has ended

	stop context.CancelFunc
	done chan struct{}
}

func newSequencer(db *sql.DB) *sequencer {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sequencer{db: db, wake: make(chan struct{}, 1), next: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

// await returns once a pass that started after the call has ended (or ctx
// or the store has). Called after a commit, that pass has numbered the
// committed events unless it failed; then the poll numbers them later.
func (s *sequencer) await(ctx context.Context) {
	s.mu.Lock()
	ended := s.next
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case <-ended:
	case <-ctx.Done():
	case <-s.done:
	}
}

// close stops the passes and waits for the running one.
func (s *sequencer) close() {
	s.stop()
	<-s.done
}

func (s *sequencer) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(sequencerPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.mu.Lock()
			ended := s.next
			s.next = make(chan struct{})
			s.mu.Unlock()
			// Errors are left to the poll: the events stay unnumbered,
			// invisible and safe, until a pass succeeds.
			sequencePending(ctx, s.db)
			close(ended)
		case <-t.C:
			var pending bool
			if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE pos IS NULL)`).Scan(&pending); err == nil && pending {
				sequencePending(ctx, s.db)
			}
		}
	}
}

// sequencePending numbers every committed unnumbered event, a batch per
// transaction, and reports how many it numbered.
func sequencePending(ctx context.Context, db *sql.DB) (int64, error) {
	var total int64
	for {
		n, err := sequenceBatch(ctx, db)
		total += n
		if err != nil || n < sequencerBatch {
			return total, err
		}
	}
}

func sequenceBatch(ctx context.Context, db *sql.DB) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sequence events: %w", err)
	}
	defer tx.Rollback()
	if err := lockSequencer(ctx, tx); err != nil {
		return 0, err
	}
	n, err := numberPending(ctx, tx, sequencerBatch)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sequence events: commit: %w", err)
	}
	return n, nil
}

// lockSequencer takes the passes' lock for the rest of tx. A holder that
// stalls is cut off by the server (idle_in_transaction_session_timeout),
// and a pass does not wait for the lock for ever.
func lockSequencer(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', '10s', true),
		set_config('idle_in_transaction_session_timeout', '10s', true),
		pg_advisory_xact_lock($1, hashtext(current_schema()))`, int32(pgLockSequencer))
	if err != nil {
		return fmt.Errorf("sequence events: lock: %w", err)
	}
	return nil
}

// numberPending numbers up to limit committed unnumbered events after the
// largest number, oldest insertion first (so one transaction's events keep
// their order). It must run under lockSequencer, in a statement that starts
// after the lock is held: its snapshot then sees every earlier pass.
func numberPending(ctx context.Context, tx *sql.Tx, limit int) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE events SET pos = top.pos + p.n
		FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM events WHERE pos IS NULL ORDER BY seq LIMIT $1) p,
			(SELECT COALESCE(MAX(pos), 0) AS pos FROM events) top
		WHERE events.seq = p.seq`, limit)
	if err != nil {
		return 0, fmt.Errorf("sequence events: %w", err)
	}
	return res.RowsAffected()
}
