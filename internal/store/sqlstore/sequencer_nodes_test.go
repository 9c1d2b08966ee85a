package sqlstore_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestSequencerTwoNodesNoSkip: two nodes (stores) on one schema plus a
// third raw pass runner; appenders commit late at random; cursor readers on
// both nodes (waiting and NoWait) must see every event exactly once, in
// increasing position, and positions must be dense. Passes must not fail
// whatever the server's default isolation level: under repeatable read or
// serializable a pass whose snapshot predates its lock would collide with
// the pass before it.
func TestSequencerTwoNodesNoSkip(t *testing.T) {
	for _, iso := range []string{"read committed", "repeatable read", "serializable"} {
		t.Run(strings.ReplaceAll(iso, " ", "_"), func(t *testing.T) {
			twoNodesNoSkip(t, storetest.PostgresURL(t)+"&default_transaction_isolation="+strings.ReplaceAll(iso, " ", "%20"))
		})
	}
}

func twoNodesNoSkip(t *testing.T, url string) {
	ctx := context.Background()
	var nodes []*sqlstore.DB
	for range 2 {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		nodes = append(nodes, s)
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	const appenders, txs = 10, 15
	var all sync.Map
	var total atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := nodes[a%2]
			for range txs {
				n := 1 + rand.IntN(3)
				if rand.IntN(5) == 0 {
					e := id.New("event")
					if err := s.AppendEvent(ctx, store.Event{ID: e, Name: "lone", Data: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
						t.Error(err)
						return
					}
					all.Store(e, true)
					total.Add(1)
					continue
				}
				var ids []string
				err := s.InTx(ctx, func(q store.Queries) error {
					ids = ids[:0]
					for range n {
						e := id.New("event")
						if err := q.AppendEvent(ctx, store.Event{ID: e, Name: "tx", Data: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
							return err
						}
						ids = append(ids, e)
					}
					time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range ids {
					all.Store(e, true)
				}
				total.Add(int64(len(ids)))
			}
		}()
	}
	// A third node that only runs passes.
	var passErrs atomic.Int64
	stopPasses := make(chan struct{})
	var pw sync.WaitGroup
	pw.Add(1)
	go func() {
		defer pw.Done()
		for {
			select {
			case <-stopPasses:
				return
			default:
			}
			if _, err := sqlstore.SequencePending(ctx, raw); err != nil {
				passErrs.Add(1)
				if passErrs.Load() < 4 {
					t.Logf("pass: %v", err)
				}
			}
			time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
		}
	}()

	type result struct {
		seen map[string]bool
		bad  string
	}
	results := make([]result, 4)
	var rw sync.WaitGroup
	for r := range 4 {
		rw.Add(1)
		go func() {
			defer rw.Done()
			s := nodes[r%2]
			noWait := r >= 2
			seen := map[string]bool{}
			var cursor int64
			for {
				final := done.Load()
				evs, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: cursor, NoWait: noWait && !final}, 7, false)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					if e.Seq <= cursor {
						results[r].bad = "non-increasing"
					}
					if seen[e.ID] {
						results[r].bad = "duplicate " + e.ID
					}
					seen[e.ID] = true
					cursor = e.Seq
				}
				if len(evs) == 0 {
					if final {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			results[r].seen = seen
		}()
	}
	wg.Wait()
	// Let the last commits be numbered (readers settle in their final rounds).
	done.Store(true)
	rw.Wait()
	close(stopPasses)
	pw.Wait()
	want := int(total.Load())
	for r, res := range results {
		if res.bad != "" {
			t.Errorf("reader %d: %s", r, res.bad)
		}
		missing := 0
		all.Range(func(k, _ any) bool {
			if !res.seen[k.(string)] {
				missing++
			}
			return true
		})
		if missing > 0 || len(res.seen) != want {
			t.Errorf("reader %d saw %d of %d events, %d missing", r, len(res.seen), want, missing)
		}
	}
	var count, lo, hi int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*), MIN(pos), MAX(pos) FROM events`).Scan(&count, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if count != want || lo != 1 || hi != want {
		t.Errorf("%d events numbered %d..%d, want %d numbered densely", count, lo, hi, want)
	}
	if n := passErrs.Load(); n > 0 {
		t.Errorf("%d passes failed on the third node", n)
	}
}
