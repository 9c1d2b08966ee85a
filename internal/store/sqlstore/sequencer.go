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
// Every node runs passes, one at a time: as soon as one of its own
// transactions that appended events commits (writers do not wait for it),
// though under a stream of commits no sooner than sequencerMinInterval
// after the previous pass started, and every sequencerPoll for events whose
// writer died before its pass.
// Readers outside a transaction settle first: if any committed event is
// unnumbered they wait for a pass that started after them (concurrent
// readers share it), so an event is readable on every node once the
// request that appended it has answered, as with the lock before. The
// delivery engine's claims settle too, so a consumer nudged after a commit
// finds the event numbered.
//
// No lease is needed: a lease cannot stop a holder that lost it without
// knowing (a stalled node) from still writing, so the lock would be needed
// anyway, and with it any node's pass is safe. A pass is sent in one round
// trip and runs on the server to its end, so a stalled node cannot hold the
// lock; a pass whose connection is lost mid-batch rolls back and the server
// frees its lock; the next pass numbers the same events.

// sequencerBatch bounds the events numbered per pass transaction, so that a
// backlog (writers that died before sequencing) is published in steps.
const sequencerBatch = 1000

// sequencerMinInterval is the least time between the starts of two passes
// that commits asked for: the most a reader waits for its events beyond a
// pass's own time. In the SCIM load (docs/benchmarks.md) passes after every
// group commit cost PostgreSQL about 40% more CPU per user than passes at
// most every 25 ms.
const sequencerMinInterval = 25 * time.Millisecond

// sequencerPoll is how often a node looks for events nobody numbered.
const sequencerPoll = 500 * time.Millisecond

// sequencerPassTimeout bounds one pass, so that a connection that hangs
// (a half-open TCP connection to the database) cannot stop this node's
// numbering for the minutes TCP takes to give up; the next pass retries.
const sequencerPassTimeout = 20 * time.Second

// settleWait bounds how long a reader waits for a pass. Reading without
// the newest events is safe (a cursor reader just finds them next time);
// a reader stuck behind a pass that cannot finish is not.
const settleWait = sequencerPassTimeout

// Advisory lock class of sequencing passes ("evnt"); the second key is the
// schema, so schemas sharing a database (tests) do not wait for each other.
const pgLockSequencer = 0x65766e74

// sequencer runs this node's passes one at a time and lets readers wait for
// a pass that started after them. Concurrent commits and readers share
// passes (like a group commit).
type sequencer struct {
	db   *sql.DB
	wake chan struct{}
	// minInterval spaces passes (sequencerMinInterval; tests change it
	// before the first commit).
	minInterval time.Duration

	mu   sync.Mutex
	next chan struct{} // closed when the pass that starts next has ended

	stop context.CancelFunc
	done chan struct{}
}

func newSequencer(db *sql.DB) *sequencer {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sequencer{db: db, wake: make(chan struct{}, 1), minInterval: sequencerMinInterval, next: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

// poke asks for a pass soon; it never blocks. Writers call it after a
// commit that appended events.
func (s *sequencer) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// settle returns once every event committed before the call is numbered:
// at once if none is waiting (one indexed look), else after a pass that
// started after the call (or when ctx or the store ends). A pass that fails
// leaves its events to the next one; the read then simply does not see them
// yet.
func (s *sequencer) settle(ctx context.Context, r execer) {
	var pending bool
	if err := r.QueryRowContext(ctx, pendingSQL).Scan(&pending); err != nil || !pending {
		return
	}
	s.mu.Lock()
	ended := s.next
	s.mu.Unlock()
	s.poke()
	t := time.NewTimer(settleWait)
	defer t.Stop()
	select {
	case <-ended:
	case <-ctx.Done():
	case <-s.done:
	case <-t.C:
	}
}

// pendingSQL asks whether a committed event waits for its number.
const pendingSQL = `SELECT EXISTS (SELECT 1 FROM events WHERE pos IS NULL)`

// close stops the passes and waits for the running one.
func (s *sequencer) close() {
	s.stop()
	<-s.done
}

func (s *sequencer) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(sequencerPoll)
	defer t.Stop()
	var lastPass time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			// Under a steady stream of commits, passes start at most
			// every minInterval: a pass costs about the same for one
			// event as for hundreds (planning, the index walk, its own
			// commit). After a quiet spell a pass starts at once.
			if wait := s.minInterval - time.Since(lastPass); wait > 0 {
				w := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					w.Stop()
					return
				case <-w.C:
				}
			}
			// Commits that poked meanwhile are covered by this pass (it
			// has not taken its snapshot yet), and so are readers waiting
			// for s.next; readers that take the next s.next poke again.
			select {
			case <-s.wake:
			default:
			}
			lastPass = time.Now()
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
			if err := s.db.QueryRowContext(ctx, pendingSQL).Scan(&pending); err == nil && pending {
				sequencePending(ctx, s.db)
			}
		}
	}
}

// sequencePending numbers every committed unnumbered event, a batch per
// transaction, and reports how many it numbered.
func sequencePending(ctx context.Context, db *sql.DB) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, sequencerPassTimeout)
	defer cancel()
	var total int64
	for {
		n, err := sequenceBatch(ctx, db)
		total += n
		if err != nil || n < sequencerBatch {
			return total, err
		}
	}
}

// sequenceBatch runs one pass in one round trip: the statements of a
// multi-statement query (the simple protocol, which pgx uses for a query
// without arguments) run in one implicit transaction, each with its own
// snapshot, so the UPDATE's snapshot is taken once the lock is held. That
// holds only at READ COMMITTED, so the pass sets it first (SET takes no
// snapshot): a server whose default is REPEATABLE READ or SERIALIZABLE
// would otherwise give the UPDATE the snapshot of the lock statement,
// taken before the previous pass committed, and the pass would fail.
func sequenceBatch(ctx context.Context, db *sql.DB) (int64, error) {
	res, err := db.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n"+lockSequencerSQL+";\n"+numberPendingSQL)
	if err != nil {
		return 0, fmt.Errorf("sequence events: %w", err)
	}
	return res.RowsAffected()
}

// lockSequencerSQL takes the passes' lock for the rest of the transaction.
// sequenceBatch sends a whole pass at once, which the server runs to its
// end whatever the client does, so a node that stalls cannot hold the lock;
// should a pass ever be run statement by statement, a holder that stalls is
// cut off by the server (idle_in_transaction_session_timeout, shorter than
// the lock wait of the others).
var lockSequencerSQL = fmt.Sprintf(`SELECT set_config('lock_timeout', '15s', true),
	set_config('idle_in_transaction_session_timeout', '5s', true),
	pg_advisory_xact_lock(%d, hashtext(current_schema()))`, pgLockSequencer)

// numberPendingSQL numbers up to sequencerBatch committed unnumbered
// events after the largest number, oldest insertion first (so one
// transaction's events keep their order). It must run under the lock, in a
// statement that starts after the lock is held: its snapshot then sees
// every earlier pass. (pos IS NULL on the updated row as well: should a
// pass ever run without the lock, a row numbered meanwhile is skipped
// rather than numbered twice.)
var numberPendingSQL = fmt.Sprintf(`UPDATE events SET pos = top.pos + p.n
	FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM events WHERE pos IS NULL ORDER BY seq LIMIT %d) p,
		(SELECT COALESCE(MAX(pos), 0) AS pos FROM events) top
	WHERE events.seq = p.seq AND events.pos IS NULL`, sequencerBatch)
