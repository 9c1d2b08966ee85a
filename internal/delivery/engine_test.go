package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

var bg = context.Background()

// sink is a destination for tests; send decides what each call does.
type sink struct {
	max  int
	send func(ctx context.Context, batch []delivery.Event) error

	mu  sync.Mutex
	got []string // event IDs accepted, in order
	ch  chan struct{}
}

func newSink(max int, send func(ctx context.Context, batch []delivery.Event) error) *sink {
	return &sink{max: max, send: send, ch: make(chan struct{}, 1)}
}

func (s *sink) Send(ctx context.Context, batch []delivery.Event) error {
	var err error
	if s.send != nil {
		err = s.send(ctx, batch)
	}
	if err == nil {
		s.mu.Lock()
		for _, e := range batch {
			s.got = append(s.got, e.ID)
		}
		s.mu.Unlock()
	}
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return err
}

func (s *sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: s.max} }

func (s *sink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// waitFor polls cond (the engine works in other goroutines) until it holds
// or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness runs an engine over st with one kind, "test", whose sinks are
// looked up by destination ID.
type harness struct {
	st    store.Store
	eng   *delivery.Engine
	sinks map[string]*sink
}

func start(t *testing.T, st store.Store, cfg delivery.Config, sinks map[string]*sink) *harness {
	t.Helper()
	h := &harness{sinks: sinks}
	h.eng = delivery.New(st, cfg)
	h.st = delivery.NotifyOnAppend(st, h.eng.Nudge)
	h.eng.Register(delivery.Kind{Name: "test", Open: func(ctx context.Context, c store.Consumer) (delivery.Sink, error) {
		s, ok := sinks[c.DestinationID]
		if !ok {
			return nil, errors.New("no such sink")
		}
		return s, nil
	}})
	for id := range sinks {
		now := time.Now()
		if err := st.PutConsumer(bg, store.Consumer{Kind: "test", DestinationID: id, State: store.ConsumerActive,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { h.eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// appendN appends n events, each in its own transaction, and returns their IDs.
func (h *harness) appendN(t *testing.T, n int, name string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		err := h.st.InTx(bg, func(q store.Queries) error {
			return events.Append(bg, q, name, "org_1", map[string]int{"i": i})
		})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := h.st.ListEvents(bg, store.EventFilter{}, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, evs[0].ID)
	}
	return ids
}

func eachBackend(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

func TestDeliversInOrderInBatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		a, b := newSink(7, nil), newSink(1, nil)
		h := start(t, st, delivery.Config{Poll: time.Hour}, map[string]*sink{"a": a, "b": b})
		want := h.appendN(t, 40, "a.one")
		// Only nudges wake the engine (the poll is an hour): appends commit, then nudge.
		waitFor(t, "all events at both sinks", func() bool { return len(a.ids()) == 40 && len(b.ids()) == 40 })
		for _, s := range []*sink{a, b} {
			if fmt.Sprint(s.ids()) != fmt.Sprint(want) {
				t.Fatalf("order: got %v\nwant %v", s.ids(), want)
			}
		}
		// The cursor moves just after the sink accepts a batch, so it may
		// trail the sink for a moment.
		last, _ := st.GetEvent(bg, want[len(want)-1])
		var c store.Consumer
		waitFor(t, "the cursor at the last event", func() bool {
			var err error
			c, err = st.GetConsumer(bg, "test", "a")
			return err == nil && c.Cursor == last.Seq
		})
		if c.LastSuccessAt.IsZero() {
			t.Errorf("no last success: %+v", c)
		}
	})
}

func TestFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		s := newSink(10, nil)
		h := start(t, st, delivery.Config{Poll: 20 * time.Millisecond}, map[string]*sink{"f": s})
		now := time.Now()
		if err := st.PutConsumer(bg, store.Consumer{Kind: "test", DestinationID: "f", State: store.ConsumerActive,
			EventNames: []string{"b.two"}, OrganizationID: "org_1", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		h.appendN(t, 3, "a.one")
		want := h.appendN(t, 2, "b.two")
		if err := h.st.InTx(bg, func(q store.Queries) error { return events.Append(bg, q, "b.two", "org_2", nil) }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "filtered events", func() bool { return len(s.ids()) >= 2 })
		h.appendN(t, 1, "b.two") // a later event proves the org_2 one was passed over, not pending
		waitFor(t, "the last event", func() bool { return len(s.ids()) >= 3 })
		if got := s.ids(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("got %v, want %v then one more", got, want)
		}
	})
}

// TestBrokenDestinationsDoNotBlockOthers: one destination hangs until its
// send times out, one answers only after the test ends, one fails with
// garbage; a healthy one still receives everything, in order, meanwhile.
func TestBrokenDestinationsDoNotBlockOthers(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		release := make(chan struct{})
		defer close(release)
		hang := newSink(10, func(ctx context.Context, _ []delivery.Event) error { <-ctx.Done(); return ctx.Err() })
		slow := newSink(10, func(ctx context.Context, _ []delivery.Event) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return ctx.Err()
		})
		garbage := newSink(10, func(context.Context, []delivery.Event) error {
			return &delivery.Failure{Code: "invalid_response", Message: "The destination answered 200 with HTML.", Retryable: true}
		})
		good := newSink(5, nil)
		h := start(t, st, delivery.Config{Poll: 10 * time.Millisecond, SendTimeout: time.Hour, Lease: 3 * time.Hour,
			Workers: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
			map[string]*sink{"hang": hang, "slow": slow, "garbage": garbage, "good": good})
		want := h.appendN(t, 60, "a.one")
		waitFor(t, "the healthy destination to receive everything", func() bool { return len(good.ids()) == 60 })
		if fmt.Sprint(good.ids()) != fmt.Sprint(want) {
			t.Errorf("healthy destination out of order")
		}
		waitFor(t, "the garbage destination to have failed twice", func() bool {
			c, _ := st.GetConsumer(bg, "test", "garbage")
			return c.Attempts >= 2
		})
		c, _ := st.GetConsumer(bg, "test", "garbage")
		if c.LastErrorCode != "invalid_response" || c.State != store.ConsumerActive {
			t.Errorf("garbage consumer: %+v", c)
		}
		for _, id := range []string{"hang", "slow", "garbage"} {
			c, _ := st.GetConsumer(bg, "test", id)
			if first, _ := st.GetEvent(bg, want[0]); c.Cursor >= first.Seq {
				t.Errorf("%s: cursor moved to %d without a successful send", id, c.Cursor)
			}
		}
	})
}

// TestRetriesThenParks: a failing destination is retried with backoff,
// parked with an event once it has failed longer than ParkAfter, and
// resumes from its cursor (nothing lost) when enabled again.
func TestRetriesThenParks(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		clk := &clock{t: time.Now()}
		var mu sync.Mutex
		failing := true
		s := newSink(10, func(context.Context, []delivery.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return &delivery.Failure{Code: "unauthorized", Message: "The destination refused the credentials (401).", Status: 401}
			}
			return nil
		})
		h := start(t, st, delivery.Config{Poll: 5 * time.Millisecond, Now: clk.Now, MinBackoff: time.Minute,
			MaxBackoff: time.Hour, ParkAfter: 3 * time.Hour}, map[string]*sink{"p": s})
		want := h.appendN(t, 3, "a.one")
		waitFor(t, "a first failure", func() bool { c, _ := st.GetConsumer(bg, "test", "p"); return c.Attempts == 1 })
		c, _ := st.GetConsumer(bg, "test", "p")
		if wait := c.NextAttemptAt.Sub(clk.Now()); wait < 30*time.Second || wait > time.Minute {
			t.Errorf("first retry in %v, want between 30s and 1m", wait)
		}
		clk.Add(2 * time.Minute)
		waitFor(t, "a second failure", func() bool { c, _ := st.GetConsumer(bg, "test", "p"); return c.Attempts == 2 })
		c, _ = st.GetConsumer(bg, "test", "p")
		if wait := c.NextAttemptAt.Sub(clk.Now()); wait < time.Minute || wait > 2*time.Minute {
			t.Errorf("second retry in %v, want between 1m and 2m (backoff doubles)", wait)
		}
		clk.Add(4 * time.Hour)
		waitFor(t, "parking", func() bool { c, _ := st.GetConsumer(bg, "test", "p"); return c.State == store.ConsumerParked })
		evs, err := st.ListEvents(bg, store.EventFilter{Names: []string{"test.parked"}}, 10, false)
		if err != nil || len(evs) != 1 {
			t.Fatalf("parked event: %v %v", evs, err)
		}
		if got := string(evs[0].Data); !contains(got, `"code":"unauthorized"`) || !contains(got, `"destination_id":"p"`) {
			t.Errorf("parked event data: %s", got)
		}
		mu.Lock()
		failing = false
		mu.Unlock()
		clk.Add(48 * time.Hour)
		h.eng.Nudge()
		if len(s.ids()) != 0 {
			t.Fatalf("a parked destination received events")
		}
		if err := st.SetConsumerState(bg, "test", "p", store.ConsumerActive, clk.Now()); err != nil {
			t.Fatal(err)
		}
		h.eng.Nudge()
		// The destination takes every event, so its own test.parked event follows the three.
		waitFor(t, "delivery after enabling", func() bool { return len(s.ids()) == 4 })
		if fmt.Sprint(s.ids()[:3]) != fmt.Sprint(want) || s.ids()[3] != evs[0].ID {
			t.Errorf("after enabling: %v, want %v", s.ids(), want)
		}
	})
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		s := newSink(100, nil)
		h := start(t, st, delivery.Config{Poll: 10 * time.Millisecond}, map[string]*sink{"r": s})
		first := h.appendN(t, 5, "a.one")
		waitFor(t, "first delivery", func() bool { return len(s.ids()) == 5 })
		ev, _ := st.GetEvent(bg, first[2])
		if err := h.eng.Replay(bg, "test", "r", ev.CreatedAt); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "replay", func() bool { return len(s.ids()) >= 8 })
		got := s.ids()
		// Events created in the same millisecond as first[2] may come again too.
		tail := got[5:]
		if tail[len(tail)-1] != first[4] || tail[len(tail)-3] != first[2] {
			t.Errorf("replayed %v, want to end with %v", tail, first[2:])
		}
		if err := h.eng.Replay(bg, "test", "missing", ev.CreatedAt); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("replay of a missing destination: %v", err)
		}
	})
}

// TestShortRunsDoNotStall: a consumer that gives its worker back after
// every batch is claimed again at once by the same node; it must never be
// left leased and idle (the lease here is an hour and the poll too, so a
// stall would hang the test).
func TestShortRunsDoNotStall(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store) {
		s := newSink(1, nil)
		h := start(t, st, delivery.Config{Poll: time.Hour, Lease: time.Hour, RunFor: time.Nanosecond}, map[string]*sink{"s": s})
		want := h.appendN(t, 150, "a.one")
		waitFor(t, "every event", func() bool { return len(s.ids()) == len(want) })
		if fmt.Sprint(s.ids()) != fmt.Sprint(want) {
			t.Errorf("order: got %v", s.ids())
		}
	})
}

// journaling is a sink that keeps a journal (delivery.Journaler): each
// write notes the cursor it sees in its transaction, and may fail.
type journaling struct {
	*sink
	fail bool

	mu      sync.Mutex
	pending []string
	seen    []int64 // the consumer's cursor inside each journal write
}

func (j *journaling) Send(ctx context.Context, batch []delivery.Event) error {
	err := j.sink.Send(ctx, batch)
	j.mu.Lock()
	for _, e := range batch {
		j.pending = append(j.pending, e.ID)
	}
	j.mu.Unlock()
	return err
}

func (j *journaling) TakeJournal() func(ctx context.Context, q store.Queries) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 {
		return nil
	}
	j.pending = nil
	return func(ctx context.Context, q store.Queries) error {
		c, err := q.GetConsumer(ctx, "journal", "j")
		if err != nil {
			return err
		}
		j.mu.Lock()
		j.seen = append(j.seen, c.Cursor)
		j.mu.Unlock()
		if j.fail {
			return errors.New("journal broken")
		}
		return nil
	}
}

// TestJournalWrittenWithTheCursor: a sink's journal is written in the
// transaction that moves the cursor past its batch (it sees the new
// cursor), and a journal that cannot be written does not hold the cursor
// back (every event is delivered once, none again).
func TestJournalWrittenWithTheCursor(t *testing.T) {
	cases := []struct {
		name string
		fail bool
	}{
		{"journal written", false},
		{"journal failing", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, st store.Store) {
				j := &journaling{sink: newSink(5, nil), fail: tc.fail}
				eng := delivery.New(st, delivery.Config{Poll: 20 * time.Millisecond})
				eng.Register(delivery.Kind{Name: "journal", Open: func(context.Context, store.Consumer) (delivery.Sink, error) { return j, nil }})
				now := time.Now()
				if err := st.PutConsumer(bg, store.Consumer{Kind: "journal", DestinationID: "j", State: store.ConsumerActive,
					CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(bg)
				done := make(chan struct{})
				go func() { eng.Run(ctx); close(done) }()
				defer func() { cancel(); <-done }()
				h := &harness{st: delivery.NotifyOnAppend(st, eng.Nudge)}
				want := h.appendN(t, 12, "a.one")
				last, _ := st.GetEvent(bg, want[len(want)-1])
				waitFor(t, "the cursor at the last event", func() bool {
					c, err := st.GetConsumer(bg, "journal", "j")
					return err == nil && c.Cursor == last.Seq
				})
				if got := j.ids(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("delivered %v\nwant      %v", got, want)
				}
				j.mu.Lock()
				defer j.mu.Unlock()
				if len(j.seen) == 0 || j.seen[len(j.seen)-1] != last.Seq {
					t.Errorf("journal writes saw cursors %v, want the last at %d (the batch's own move)", j.seen, last.Seq)
				}
			})
		})
	}
}
