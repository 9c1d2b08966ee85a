package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestSequencerDiesMidBatch numbers events in a pass on another connection
// (another node) that dies before committing, while this node's writer
// commits an event. Nothing of the dead pass may be visible, and once it is
// gone this node's pass must number every event exactly once, in insertion
// order. Events whose writer died before any pass ran are numbered by the
// poll.
func TestSequencerDiesMidBatch(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	closeStore := sync.OnceFunc(func() { s.Close() })
	defer closeStore()
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var want []string
	// insertUnnumbered is a writer that commits and dies before its pass.
	insertUnnumbered := func(n int) {
		for range n {
			e := id.New("event")
			if _, err := raw.ExecContext(ctx, `INSERT INTO events (id, name, data, created_at) VALUES ($1, 'dying.batch', '{}', $2)`,
				e, time.Now().UnixMilli()); err != nil {
				t.Fatal(err)
			}
			want = append(want, e)
		}
	}
	insertUnnumbered(5)

	dying, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dying.Rollback()
	if err := sqlstore.LockSequencer(ctx, dying); err != nil {
		t.Fatal(err)
	}
	if n, err := sqlstore.NumberPending(ctx, dying); err != nil || n != 5 {
		t.Fatalf("dying pass numbered %d, %v; want 5", n, err)
	}
	var pid int
	if err := dying.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// (Read without the store: its reads would wait for a pass, which
	// waits for the dying one's lock.)
	var visible int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE pos IS NOT NULL`).Scan(&visible); err != nil || visible != 0 {
		t.Fatalf("%d events of an uncommitted pass are visible (%v)", visible, err)
	}

	// This node commits an event (its writer takes no lock); its pass
	// waits for the dying one's lock.
	mine := id.New("event")
	want = append(want, mine)
	if err := s.InTx(ctx, func(q store.Queries) error {
		return q.AppendEvent(ctx, store.Event{ID: mine, Name: "after.death", Data: []byte(`{}`), CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	// The other node dies mid-batch: its transaction never commits. A
	// reader here waits for this node's pass, which numbers everything.
	if _, err := raw.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	checkNumbered(t, s, want)

	// Writers that died before any pass, and no reader: the poll numbers
	// their events (watched without the store, whose reads would settle).
	insertUnnumbered(2)
	for pending := true; pending; {
		time.Sleep(10 * time.Millisecond)
		if err := raw.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE pos IS NULL)`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
	}
	checkNumbered(t, s, want)

	// A backlog larger than a batch (no node running) is numbered in
	// several passes, densely.
	closeStore()
	if _, err := raw.ExecContext(ctx, `INSERT INTO events (id, name, data, created_at)
		SELECT 'event_backlog_' || i, 'backlog', '{}', 0 FROM generate_series(1, 2500) AS i`); err != nil {
		t.Fatal(err)
	}
	if n, err := sqlstore.SequencePending(ctx, raw); err != nil || n != 2500 {
		t.Fatalf("backlog: numbered %d, %v; want 2500", n, err)
	}
	var count, lo, hi int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*), MIN(pos), MAX(pos) FROM events`).Scan(&count, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if total := len(want) + 2500; count != total || lo != 1 || hi != total {
		t.Errorf("after the backlog: %d events numbered %d…%d, want %d numbered 1…%d", count, lo, hi, total, total)
	}
}

// checkNumbered checks that the outbox holds exactly want, numbered 1…n in
// that order.
func checkNumbered(t *testing.T, s store.Store, want []string) {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), store.EventFilter{}, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	var got, wantSeq []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.ID))
	}
	for i, e := range want {
		wantSeq = append(wantSeq, fmt.Sprintf("%d:%s", i+1, e))
	}
	if fmt.Sprint(got) != fmt.Sprint(wantSeq) {
		t.Errorf("outbox\n got %v\nwant %v", got, wantSeq)
	}
}

// TestSequencerSpacedPasses: with passes spaced (here by far more than
// the commits are), a read made after a commit still waits for a pass
// that numbers that commit's event, for every one of a stream of commits;
// none is left to the poll or to the reader's give-up time.
func TestSequencerSpacedPasses(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlstore.SetSequencerInterval(s, 150*time.Millisecond)
	var last int64
	for i := range 12 {
		e := id.New("event")
		if err := s.InTx(ctx, func(q store.Queries) error {
			return q.AppendEvent(ctx, store.Event{ID: e, Name: "spaced", Data: []byte(`{}`), CreatedAt: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			// A reader that comes while a pass waits for its turn.
			go s.ListEvents(ctx, store.EventFilter{}, 1, true)
		}
		// A reader left waiting for no pass gives up after settleWait
		// (20 s) and would still find the event numbered by the poll,
		// so the read gets a deadline of half that, which it must not
		// reach (a hang guard, not a speed check: a pass is due in
		// 150 ms).
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		evs, err := s.ListEvents(rctx, store.EventFilter{AfterSeq: last}, 10, false)
		waited := rctx.Err()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if waited != nil {
			t.Fatalf("commit %d: the read waited for a pass that never came", i)
		}
		if len(evs) != 1 || evs[0].ID != e {
			t.Fatalf("commit %d: read %d events after seq %d, want just %s", i, len(evs), last, e)
		}
		last = evs[0].Seq
	}
}
