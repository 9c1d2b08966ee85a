package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// countingRunner counts the transactions run through it.
type countingRunner struct {
	TxRunner
	mu  sync.Mutex
	txs int
}

func (c *countingRunner) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	c.mu.Lock()
	c.txs++
	c.mu.Unlock()
	return c.TxRunner.InTx(ctx, fn)
}

func consume(ctx context.Context, key string) func(q store.Queries) error {
	return func(q store.Queries) error {
		return q.ConsumeReplayKey(ctx, key, time.Now().Add(time.Hour))
	}
}

func newOp(ctx context.Context, fn func(q store.Queries) error) *op {
	return &op{ctx: ctx, fn: fn, done: make(chan struct{})}
}

// TestGroupGivesEachWriteItsOwnOutcome: one failing write in a group
// (a replayed key, a caller that went away) fails alone; the others
// commit, exactly once each.
func TestGroupGivesEachWriteItsOwnOutcome(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := context.Background()
			if err := st.ConsumeReplayKey(ctx, "taken", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			gone, cancel := context.WithCancel(ctx)
			cancel()
			run := &countingRunner{TxRunner: st}
			c := New(run)
			group := []*op{
				newOp(ctx, consume(ctx, "a")),
				newOp(ctx, consume(ctx, "taken")),
				newOp(gone, consume(gone, "never")),
				newOp(ctx, consume(ctx, "b")),
			}
			c.commitGroup(ctx, group)
			for _, tc := range []struct {
				name string
				o    *op
				want error
			}{
				{"first write", group[0], nil},
				{"replayed key", group[1], store.ErrConflict},
				{"caller gone", group[2], context.Canceled},
				{"write after the failures", group[3], nil},
			} {
				if !errors.Is(tc.o.err, tc.want) || (tc.want == nil && tc.o.err != nil) {
					t.Errorf("%s: err = %v, want %v", tc.name, tc.o.err, tc.want)
				}
				select {
				case <-tc.o.done:
				default:
					t.Errorf("%s: not told it is done", tc.name)
				}
			}
			// The committed writes are there once: consuming again conflicts.
			for _, key := range []string{"a", "b"} {
				if err := st.ConsumeReplayKey(ctx, key, time.Now().Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
					t.Errorf("key %s after the group: %v, want a conflict (it should be stored)", key, err)
				}
			}
			if err := st.ConsumeReplayKey(ctx, "never", time.Now().Add(time.Hour)); err != nil {
				t.Errorf("the gone caller's key was stored: %v", err)
			}
			// The shared transaction, then the three live writes alone.
			if run.txs != 4 {
				t.Errorf("transactions = %d, want 4 (the group, then each live write alone)", run.txs)
			}
		})
	}
}

// TestGroupSharesOneTransaction: writes that all succeed commit in one.
func TestGroupSharesOneTransaction(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	run := &countingRunner{TxRunner: st}
	c := New(run)
	var group []*op
	for i := range 5 {
		group = append(group, newOp(ctx, consume(ctx, fmt.Sprint("k", i))))
	}
	c.commitGroup(ctx, group)
	for i, o := range group {
		if o.err != nil {
			t.Errorf("write %d: %v", i, o.err)
		}
	}
	if run.txs != 1 {
		t.Errorf("transactions = %d, want 1", run.txs)
	}
}

// TestConcurrentWritesWhileRunning: many callers at once, some replaying
// one key: exactly one of those wins, every other write commits, and
// InTx works before Run starts and after it stops.
func TestConcurrentWritesWhileRunning(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			c := New(st)
			ctx := context.Background()
			if err := c.InTx(ctx, consume(ctx, "before-run")); err != nil {
				t.Fatalf("before Run: %v", err)
			}
			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan struct{})
			go func() { c.Run(runCtx); close(ran) }()
			const n = 64
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprint("unique-", i)
					if i%4 == 0 {
						key = "contended"
					}
					errs[i] = c.InTx(ctx, consume(ctx, key))
				}()
			}
			wg.Wait()
			won, conflicts := 0, 0
			for i, err := range errs {
				switch {
				case i%4 != 0 && err != nil:
					t.Errorf("write %d: %v", i, err)
				case i%4 == 0 && err == nil:
					won++
				case i%4 == 0 && errors.Is(err, store.ErrConflict):
					conflicts++
				case i%4 == 0:
					t.Errorf("contended write %d: %v", i, err)
				}
			}
			if won != 1 || conflicts != n/4-1 {
				t.Errorf("contended key: %d won, %d conflicts; want 1 and %d", won, conflicts, n/4-1)
			}
			stop()
			<-ran
			if err := c.InTx(ctx, consume(ctx, "after-run")); err != nil {
				t.Fatalf("after Run: %v", err)
			}
		})
	}
}

// TestGoneCallerDoesNotUndoTheGroup: a write whose caller went away
// before it ran is left out; the others still share one transaction.
func TestGoneCallerDoesNotUndoTheGroup(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	run := &countingRunner{TxRunner: st}
	group := []*op{newOp(ctx, consume(ctx, "a")), newOp(gone, consume(gone, "never")), newOp(ctx, consume(ctx, "b"))}
	New(run).commitGroup(ctx, group)
	if group[0].err != nil || group[2].err != nil || !errors.Is(group[1].err, context.Canceled) {
		t.Fatalf("errors = %v, %v, %v; want nil, canceled, nil", group[0].err, group[1].err, group[2].err)
	}
	if run.txs != 1 {
		t.Errorf("transactions = %d, want 1", run.txs)
	}
	if err := st.ConsumeReplayKey(ctx, "never", time.Now().Add(time.Hour)); err != nil {
		t.Errorf("the gone caller's key was stored: %v", err)
	}
}

// commitLost commits and then reports the commit as failed, as a
// connection lost during COMMIT would.
type commitLost struct{ TxRunner }

func (c commitLost) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	if err := c.TxRunner.InTx(ctx, fn); err != nil {
		return err
	}
	return fmt.Errorf("%w: unexpected EOF", store.ErrCommit)
}

// TestFailedCommitIsNotRunAgain: after a commit whose outcome is unknown,
// the writes are not run again one by one (they may have committed): each
// caller gets the commit's error.
func TestFailedCommitIsNotRunAgain(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	run := &countingRunner{TxRunner: commitLost{st}}
	group := []*op{newOp(ctx, consume(ctx, "a")), newOp(ctx, consume(ctx, "b"))}
	New(run).commitGroup(ctx, group)
	for i, o := range group {
		if !errors.Is(o.err, store.ErrCommit) {
			t.Errorf("write %d: err = %v, want the commit's error", i, o.err)
		}
	}
	if run.txs != 1 {
		t.Errorf("transactions = %d, want 1 (no write run again)", run.txs)
	}
}

// TestPanicReachesItsCaller: a write that panics while Run runs panics in
// its caller's goroutine (where the HTTP server recovers), not in Run's,
// and the writes grouped with it still commit.
func TestPanicReachesItsCaller(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	c := New(st)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { c.Run(runCtx); close(ran) }()
	defer func() { stop(); <-ran }()

	var wg sync.WaitGroup
	recovered := make(chan any, 1)
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 3 {
				defer func() { recovered <- recover() }()
				c.InTx(ctx, func(store.Queries) error { panic("boom") })
				return
			}
			errs[i] = c.InTx(ctx, consume(ctx, fmt.Sprint("k", i)))
		}()
	}
	wg.Wait()
	if p := <-recovered; p != "boom" {
		t.Errorf("caller recovered %v, want the write's panic", p)
	}
	for i, err := range errs {
		if i != 3 && err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	// Run survived: it still commits.
	if err := c.InTx(ctx, consume(ctx, "after")); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

// TestHeldBackWriteFailsOnlyItsCaller: in a group, the store may hold a
// plain insert back and send it with the commit (PostgreSQL); a duplicate
// then fails the group at that point, and the write-by-write rerun still
// gives the error to its caller alone.
func TestHeldBackWriteFailsOnlyItsCaller(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := context.Background()
			org := func(id string) store.Organization {
				now := time.Now()
				return store.Organization{ID: id, Name: id, SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}
			}
			if err := st.CreateOrganization(ctx, org("org_taken")); err != nil {
				t.Fatal(err)
			}
			create := func(id string) func(q store.Queries) error {
				return func(q store.Queries) error { return q.CreateOrganization(ctx, org(id)) }
			}
			group := []*op{newOp(ctx, create("org_a")), newOp(ctx, create("org_taken")), newOp(ctx, create("org_b"))}
			New(st).commitGroup(ctx, group)
			if group[0].err != nil || !errors.Is(group[1].err, store.ErrConflict) || group[2].err != nil {
				t.Fatalf("errors = %v, %v, %v; want nil, a conflict, nil", group[0].err, group[1].err, group[2].err)
			}
			for _, id := range []string{"org_a", "org_b"} {
				if _, err := st.GetOrganization(ctx, id); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}
