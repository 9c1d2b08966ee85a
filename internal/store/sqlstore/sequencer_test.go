package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
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
	defer s.Close()
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
	if n, err := sqlstore.NumberPending(ctx, dying, 1000); err != nil || n != 5 {
		t.Fatalf("dying pass numbered %d, %v; want 5", n, err)
	}
	var pid int
	if err := dying.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.ListEvents(ctx, store.EventFilter{}, 100, false); err != nil || len(evs) != 0 {
		t.Fatalf("a reader sees %d events of an uncommitted pass (%v)", len(evs), err)
	}

	// This node commits an event; its pass waits for the dying one's lock.
	mine := id.New("event")
	want = append(want, mine)
	committed := make(chan error, 1)
	go func() {
		committed <- s.InTx(ctx, func(q store.Queries) error {
			return q.AppendEvent(ctx, store.Event{ID: mine, Name: "after.death", Data: []byte(`{}`), CreatedAt: time.Now()})
		})
	}()
	// The other node dies mid-batch: its transaction never commits.
	if _, err := raw.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	checkNumbered(t, s, want[:6])

	// Writers that died before any pass: the poll numbers their events.
	insertUnnumbered(2)
	for {
		evs, err := s.ListEvents(ctx, store.EventFilter{}, 100, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == len(want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkNumbered(t, s, want)
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
