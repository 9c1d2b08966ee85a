package delivery

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Kind is a kind of destination that registers with the engine: webhook
// endpoints, log streams, later the audit-log projection. Its consumers are
// rows in the store (store.Consumer) that the kind's own service creates,
// changes and deletes with PutConsumer, SetConsumerState and
// DeleteConsumer in the transaction that changes the destination.
type Kind struct {
	// Name is store.Consumer.Kind, e.g. "webhook" or "log_stream".
	Name string
	// Open builds the sink of one destination (it reads the destination's
	// settings and opens its sealed secrets). An error counts as a failed
	// attempt.
	Open func(ctx context.Context, c store.Consumer) (Sink, error)
	// OnPark, if set, runs in the transaction that parks a destination of
	// this kind (for example to mark a log stream "error"). The engine also
	// appends the event "<Name>.parked" in that transaction.
	OnPark func(ctx context.Context, q store.Queries, c store.Consumer, f *Failure) error
}

// Config tunes the engine; zero fields take the defaults shown.
type Config struct {
	Owner       string        // this node's lease owner name; default host-pid-random
	Poll        time.Duration // how often due consumers are looked for; 1s
	Lease       time.Duration // how long a claim lasts unless renewed; 30s
	SendTimeout time.Duration // bound on one Send; 15s (at most Lease/2)
	Workers     int           // consumers delivered at once by this node; 16
	RunFor      time.Duration // a busy consumer gives its worker back after this; 5s
	// Linger is how long a consumer that has just delivered waits for more
	// events before giving its lease back; 200ms. Under a steady stream it
	// saves a claim and a release per batch.
	Linger     time.Duration
	MinBackoff time.Duration // first retry delay; 1s
	MaxBackoff time.Duration // longest retry delay; 1h
	ParkAfter  time.Duration // a destination failing this long is parked; 72h
	Now        func() time.Time
	Log        *slog.Logger
	// Metrics, if set, receives the engine's counters.
	Metrics prometheus.Registerer
}

func (c *Config) defaults() {
	if c.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		crand.Read(b)
		c.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, time.Second)
	def(&c.Lease, 30*time.Second)
	def(&c.SendTimeout, 15*time.Second)
	def(&c.RunFor, 5*time.Second)
	def(&c.Linger, 200*time.Millisecond)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, time.Hour)
	def(&c.ParkAfter, 72*time.Hour)
	if c.SendTimeout > c.Lease/2 {
		c.SendTimeout = c.Lease / 2
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Engine moves events from the outbox to every registered destination:
// each consumer is claimed by one node at a time (a lease in the store),
// reads the events after its cursor that match its filter, sends them in
// batches through its sink and advances the cursor only after the sink
// accepted them — at-least-once, in order per destination. Consumers run
// independently, each Send under its own timeout, on a bounded number of
// workers, so a slow or broken destination delays only itself.
type Engine struct {
	st    store.Store
	cfg   Config
	kinds map[string]Kind
	m     metrics

	wake chan struct{}
	gen  atomic.Uint64 // bumped by Nudge; a consumer that saw it change reads again

	notifyMu sync.Mutex
	notify   chan struct{} // closed (and replaced) by Nudge, for lingering consumers

	mu      sync.Mutex
	running map[string]bool // kind/id being delivered by this node
}

// New builds an engine over st. Register the kinds, then Run it.
func New(st store.Store, cfg Config) *Engine {
	cfg.defaults()
	return &Engine{st: st, cfg: cfg, kinds: map[string]Kind{}, m: newMetrics(cfg.Metrics),
		wake: make(chan struct{}, 1), notify: make(chan struct{}), running: map[string]bool{}}
}

// Owner is this node's lease owner name.
func (e *Engine) Owner() string { return e.cfg.Owner }

// Register adds a destination kind. Call it before Run.
func (e *Engine) Register(k Kind) {
	if k.Name == "" || k.Open == nil {
		panic("delivery: a Kind needs a Name and an Open function")
	}
	e.kinds[k.Name] = k
}

// Nudge tells the engine that events were appended, so waiting consumers
// read now instead of at the next poll. It never blocks.
func (e *Engine) Nudge() {
	e.gen.Add(1)
	e.notifyMu.Lock()
	close(e.notify)
	e.notify = make(chan struct{})
	e.notifyMu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Replay moves a destination's cursor back to the first event created at
// or after since (never forward) and nudges the engine.
func (e *Engine) Replay(ctx context.Context, kind, destinationID string, since time.Time) error {
	if err := e.st.RewindConsumer(ctx, kind, destinationID, since, e.cfg.Now()); err != nil {
		return err
	}
	e.Nudge()
	return nil
}

// Run delivers until ctx ends, then waits for the running sends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	done := make(chan struct{}, e.cfg.Workers)
	for {
		e.dispatch(ctx, &wg, done)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		case <-done:
		}
	}
}

// dispatch claims as many due consumers as there are free workers and
// starts one goroutine for each.
func (e *Engine) dispatch(ctx context.Context, wg *sync.WaitGroup, done chan<- struct{}) {
	e.mu.Lock()
	free := e.cfg.Workers - len(e.running)
	e.mu.Unlock()
	if free <= 0 {
		return
	}
	now := e.cfg.Now()
	claimed, err := e.st.ClaimConsumers(ctx, e.cfg.Owner, now, now.Add(e.cfg.Lease), free)
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Log.ErrorContext(ctx, "delivery: claim consumers", "err", err)
		}
		return
	}
	for _, c := range claimed {
		key := c.Kind + "/" + c.DestinationID
		e.mu.Lock()
		if e.running[key] {
			e.mu.Unlock()
			continue
		}
		e.running[key] = true
		e.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.deliver(ctx, c)
			// Forget the run before releasing the lease: released first, the
			// consumer could be claimed again by this node's dispatcher,
			// skipped as still running, and left leased and idle until the
			// lease expired.
			e.mu.Lock()
			delete(e.running, key)
			e.mu.Unlock()
			if err := e.st.ReleaseConsumer(context.WithoutCancel(ctx), c.Kind, c.DestinationID, e.cfg.Owner); err != nil {
				e.cfg.Log.WarnContext(ctx, "delivery: release lease", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
			}
			select {
			case done <- struct{}{}:
			default:
			}
		}()
	}
}

// deliver runs one claimed consumer until it has caught up, fails, or has
// used its share of time; the caller releases its lease.
func (e *Engine) deliver(ctx context.Context, c store.Consumer) {
	k, ok := e.kinds[c.Kind]
	if !ok {
		// Another node's version may know this kind; look again later.
		e.fail(ctx, c, k, &Failure{Code: "unknown_destination_kind", Message: "This node cannot deliver destinations of kind " + c.Kind + "."}, false)
		return
	}
	sink, err := k.Open(ctx, c)
	if err != nil {
		if ctx.Err() == nil {
			e.fail(ctx, c, k, asFailure(err), true)
		}
		return
	}
	limits := sink.Limits()
	if limits.MaxEvents < 1 {
		limits.MaxEvents = 1
	}
	start := e.cfg.Now()
	leaseUntil := c.LeaseUntil
	filter := store.EventFilter{Names: c.EventNames, OrganizationID: c.OrganizationID}
	delivered := false
	// The outbox's end is read only when the last read may have reached
	// it: after a full batch more events are likely, so the read is
	// saved (a store round trip per batch).
	needHead := true
	// At least one batch per run, however short RunFor is.
	for first := true; ctx.Err() == nil && (first || e.cfg.Now().Sub(start) < e.cfg.RunFor); first = false {
		if now := e.cfg.Now(); leaseUntil.Sub(now) < e.cfg.Lease/2 {
			leaseUntil = now.Add(e.cfg.Lease)
			if err := e.st.RenewConsumerLease(ctx, c.Kind, c.DestinationID, e.cfg.Owner, leaseUntil); err != nil {
				return
			}
		}
		gen := e.gen.Load()
		var head int64
		if needHead {
			if head, err = e.head(ctx); err != nil {
				return
			}
		}
		filter.AfterSeq = c.Cursor
		evs, err := e.st.ListEvents(ctx, filter, limits.MaxEvents, false)
		// Behind the head, the next read need not wait for events committed
		// just now to be numbered (see store.EventFilter.NoWait): it will
		// come back for them. Caught up, it waits, so a nudge after a commit
		// finds the event.
		filter.NoWait = len(evs) == limits.MaxEvents
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Log.ErrorContext(ctx, "delivery: read events", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
			}
			return
		}
		if len(evs) == 0 && !needHead {
			needHead = true // the last batch was full and is all there was: read the end, then look again
			continue
		}
		needHead = len(evs) < limits.MaxEvents
		if len(evs) == 0 {
			e.notifyMu.Lock()
			changed := e.notify
			e.notifyMu.Unlock()
			if e.gen.Load() != gen {
				continue // appended while we read: look once more
			}
			if delivered && e.cfg.Now().Sub(start) < e.cfg.RunFor {
				// A stream is flowing: wait a little for the next event
				// rather than releasing and claiming again.
				t := time.NewTimer(e.cfg.Linger)
				select {
				case <-changed:
					t.Stop()
					continue
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
				delivered = false
				continue
			}
			// Nothing up to head is left for this destination: do not claim
			// it again until the outbox grows.
			if err := e.st.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, e.cfg.Owner, c.Cursor, head); err != nil &&
				!errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				e.cfg.Log.ErrorContext(ctx, "delivery: mark checked", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
			}
			return
		}
		batch := toBatch(evs, limits.MaxBytes)
		sctx, cancel := context.WithTimeout(ctx, e.cfg.SendTimeout)
		t0 := time.Now()
		err = sink.Send(sctx, batch)
		cancel()
		e.m.sendSeconds.WithLabelValues(c.Kind).Observe(time.Since(t0).Seconds())
		var journal func(context.Context, store.Queries) error
		if j, ok := sink.(Journaler); ok {
			journal = j.TakeJournal()
		}
		if stop := (*Stopped)(nil); errors.As(err, &stop) && stop.Delivered > 0 {
			if e.advance(ctx, &c, batch[:min(stop.Delivered, len(batch))], journal) != nil {
				return
			}
			delivered, needHead = true, false // the rest of the batch is waiting
			continue
		}
		if err != nil {
			f := asFailure(err)
			if n := min(f.Delivered, len(batch)); n > 0 {
				if e.advance(ctx, &c, batch[:n], journal) != nil {
					return
				}
				journal = nil
			}
			e.writeJournal(ctx, c, journal)
			if ctx.Err() == nil {
				e.fail(ctx, c, k, f, true)
			}
			return
		}
		if e.advance(ctx, &c, batch, journal) != nil {
			return
		}
		delivered = true
	}
	if ctx.Err() == nil {
		e.Nudge() // more may be waiting: let the dispatcher claim it again
	}
}

// advance moves c's cursor past the delivered events and writes the
// sink's journal (if any) in the same transaction. That transaction
// commits lazily (store CommitLazily): if the database server crashed
// before flushing it, the cursor would be back where it was and the batch
// sent again — which at-least-once delivery allows — and in exchange a
// batch does not wait for a disk flush (on PostgreSQL that wait was most
// of a webhook batch's time; see docs/benchmarks.md).
func (e *Engine) advance(ctx context.Context, c *store.Consumer, delivered []Event, journal func(context.Context, store.Queries) error) error {
	last := delivered[len(delivered)-1].Seq
	now := e.cfg.Now()
	journalFailed := false
	err := e.st.InTx(ctx, func(q store.Queries) error {
		journalFailed = false // InTx runs this again after a deadlock
		if err := q.CommitLazily(ctx); err != nil {
			return err
		}
		if err := q.AdvanceConsumer(ctx, c.Kind, c.DestinationID, e.cfg.Owner, c.Cursor, last, now); err != nil {
			return err
		}
		if journal != nil {
			if err := journal(ctx, q); err != nil {
				journalFailed = true
				return err
			}
		}
		return nil
	})
	if journalFailed {
		// The journal is best effort; the cursor must move all the same.
		e.cfg.Log.WarnContext(ctx, "delivery: write journal", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
		journal = nil
		err = e.st.AdvanceConsumer(ctx, c.Kind, c.DestinationID, e.cfg.Owner, c.Cursor, last, now)
	}
	if err != nil {
		// The attempts happened even if the lease was lost meanwhile.
		e.writeJournal(ctx, *c, journal)
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			e.cfg.Log.ErrorContext(ctx, "delivery: advance cursor", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
		}
		return err
	}
	c.Cursor, c.Attempts, c.FailingSince = last, 0, time.Time{}
	e.m.delivered.WithLabelValues(c.Kind).Add(float64(len(delivered)))
	e.m.lagSeconds.WithLabelValues(c.Kind).Observe(time.Since(delivered[len(delivered)-1].CreatedAt).Seconds())
	return nil
}

// writeJournal writes a sink's journal on its own (best effort), when no
// cursor move carries it.
func (e *Engine) writeJournal(ctx context.Context, c store.Consumer, journal func(context.Context, store.Queries) error) {
	if journal == nil {
		return
	}
	wctx := context.WithoutCancel(ctx)
	if err := e.st.InTx(wctx, func(q store.Queries) error { return journal(wctx, q) }); err != nil {
		e.cfg.Log.WarnContext(ctx, "delivery: write journal", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
	}
}

// head is the Seq of the newest event (0 if none). Read before the
// destination's events, it bounds what an empty read has checked.
func (e *Engine) head(ctx context.Context) (int64, error) {
	// Without waiting: a head numbered a little late only makes an empty
	// read cover less.
	evs, err := e.st.ListEvents(ctx, store.EventFilter{NoWait: true}, 1, true)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return evs[0].Seq, nil
}

// toBatch converts events to the sink's form, keeping the batch under
// maxBytes (roughly: payload sizes plus a fixed overhead) but never empty.
func toBatch(evs []store.Event, maxBytes int) []Event {
	out := make([]Event, 0, len(evs))
	size := 0
	for _, ev := range evs {
		size += len(ev.Data) + len(ev.Context) + 200
		if maxBytes > 0 && size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, Event{Seq: ev.Seq, ID: ev.ID, Name: ev.Name, OrganizationID: ev.OrganizationID,
			Data: ev.Data, Context: ev.Context, CreatedAt: ev.CreatedAt})
	}
	return out
}

// asFailure describes any error as a Failure.
func asFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Failure{Code: "timeout", Message: "The destination did not answer in time.",
			Fix: "Make sure the destination answers within a few seconds.", Retryable: true, Err: err}
	}
	return &Failure{Code: "delivery_failed", Message: err.Error(), Retryable: true, Err: err}
}

// backoff is the delay before retry number attempts (1 = first retry):
// exponential from MinBackoff, capped at MaxBackoff, with jitter in
// [d/2, d) so that destinations failing together spread their retries.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.cfg.MinBackoff
	for i := 1; i < attempts && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.cfg.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// fail records a failed attempt; with mayPark, a destination that has
// been failing longer than ParkAfter is parked, with an event.
func (e *Engine) fail(ctx context.Context, c store.Consumer, k Kind, f *Failure, mayPark bool) {
	now := e.cfg.Now()
	rec := store.ConsumerFailure{Code: f.Code, Message: f.Message, At: now, NextAttemptAt: now.Add(e.backoff(c.Attempts + 1))}
	if mayPark {
		rec.ParkIfFailingBefore = now.Add(-e.cfg.ParkAfter)
	}
	e.m.failures.WithLabelValues(c.Kind, f.Code).Inc()
	e.cfg.Log.WarnContext(ctx, "delivery failed", "kind", c.Kind, "destination_id", c.DestinationID,
		"code", f.Code, "message", f.Message, "attempts", c.Attempts+1, "retry_at", rec.NextAttemptAt, "err", f.Err)
	err := e.st.InTx(context.WithoutCancel(ctx), func(q store.Queries) error {
		parked, err := q.RecordConsumerFailure(ctx, c.Kind, c.DestinationID, e.cfg.Owner, rec)
		if err != nil || !parked {
			return err
		}
		c.State, c.ParkedAt = store.ConsumerParked, now
		if k.OnPark != nil {
			if err := k.OnPark(ctx, q, c, f); err != nil {
				return err
			}
		}
		return events.Append(ctx, q, c.Kind+".parked", c.OrganizationID, ParkedEvent{
			Kind: c.Kind, DestinationID: c.DestinationID, OrganizationID: c.OrganizationID,
			Error:        FailureJSON{Code: f.Code, Message: f.Message, Fix: f.Fix, Status: f.Status},
			FailingSince: c.FailingSince.UTC().Format(time.RFC3339Nano), ParkedAt: now.UTC().Format(time.RFC3339Nano),
		})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.cfg.Log.ErrorContext(ctx, "delivery: record failure", "kind", c.Kind, "destination_id", c.DestinationID, "err", err)
	}
	if c.State == store.ConsumerParked {
		e.m.parked.WithLabelValues(c.Kind).Inc()
		e.cfg.Log.ErrorContext(ctx, "delivery: destination parked after failing too long", "kind", c.Kind,
			"destination_id", c.DestinationID, "code", f.Code)
	}
}

// ParkedEvent is the payload of "<kind>.parked".
type ParkedEvent struct {
	Kind           string      `json:"destination_type"`
	DestinationID  string      `json:"destination_id"`
	OrganizationID string      `json:"organization_id,omitempty"`
	Error          FailureJSON `json:"error"`
	FailingSince   string      `json:"failing_since"`
	ParkedAt       string      `json:"parked_at"`
}

// FailureJSON is a Failure as the API and events show it.
type FailureJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	Status  int    `json:"status,omitempty"`
}

type metrics struct {
	delivered   *prometheus.CounterVec
	failures    *prometheus.CounterVec
	parked      *prometheus.CounterVec
	sendSeconds *prometheus.HistogramVec
	lagSeconds  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_delivery_events_total",
			Help: "Events delivered to destinations, by destination kind."}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_delivery_failures_total",
			Help: "Failed delivery attempts, by destination kind and failure code."}, []string{"kind", "code"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_delivery_parked_total",
			Help: "Destinations parked after failing too long."}, []string{"kind"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_delivery_send_seconds",
			Help: "Duration of one batch send.", Buckets: prometheus.DefBuckets}, []string{"kind"}),
		lagSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_delivery_lag_seconds",
			Help:    "Time from an event's creation to its delivery (last event of each batch).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 60, 600, 3600}}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.delivered, m.failures, m.parked, m.sendSeconds, m.lagSeconds)
	}
	return m
}
