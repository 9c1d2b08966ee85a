package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// deliveryTests check store.Deliveries, store.Webhooks and store.LogStreams.
var deliveryTests = []suiteTest{
	{"log streams are scoped to their organization", testLogStreams},
	{"delivery consumers: lease, cursor, failures, parking, rewind", testConsumers},
	{"delivery consumers are claimed once", testConsumerClaimRace},
	{"delivery consumers checked to the end wait for new events", testConsumerChecked},
	{"webhook endpoints and delivery log", testWebhooks},
	{"delivery consumers: a lazily committed cursor move", testCommitLazily},
}

// testCommitLazily: a cursor move and a delivery log written in a lazily
// committed transaction are there at once after the commit, rolled back
// with it on an error, and CommitLazily outside a transaction is harmless.
func testCommitLazily(t *testing.T, s store.Store) {
	appendEvent(t, s, "a.one", "", time.Now())
	c := newConsumer("webhook", id.New("we"))
	mustNil(t, s.PutConsumer(ctx, c))
	now := time.Now()
	got, err := s.ClaimConsumers(ctx, "node-a", now, now.Add(time.Minute), 10)
	mustNil(t, err)
	if len(got) != 1 {
		t.Fatalf("claim: %+v", got)
	}
	mustNil(t, s.CommitLazily(ctx))
	from := got[0].Cursor
	boom := errors.New("boom")
	err = s.InTx(ctx, func(q store.Queries) error {
		mustNil(t, q.CommitLazily(ctx))
		mustNil(t, q.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", from, from+5, now))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed transaction: %v", err)
	}
	if cur, _ := s.GetConsumer(ctx, c.Kind, c.DestinationID); cur.Cursor != from {
		t.Fatalf("cursor moved by a rolled-back transaction: %d, want %d", cur.Cursor, from)
	}
	mustNil(t, s.InTx(ctx, func(q store.Queries) error {
		if err := q.CommitLazily(ctx); err != nil {
			return err
		}
		return q.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", from, from+5, now)
	}))
	if cur, _ := s.GetConsumer(ctx, c.Kind, c.DestinationID); cur.Cursor != from+5 {
		t.Fatalf("cursor after a lazy commit: %d, want %d", cur.Cursor, from+5)
	}
}

func newConsumer(kind, dest string) store.Consumer {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Consumer{Kind: kind, DestinationID: dest, EventNames: []string{"a.one"}, State: store.ConsumerActive,
		CreatedAt: now, UpdatedAt: now}
}

// testConsumers covers a consumer's life: created at the outbox's end,
// claimed once, advanced only by its lease owner from the cursor it read,
// failing, parked, enabled, rewound.
func testConsumers(t *testing.T, s store.Store) {
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	before := appendEvent(t, s, "a.one", "", t0.Add(-time.Hour))
	stored, err := s.GetEvent(ctx, before.ID)
	mustNil(t, err)
	c := newConsumer("webhook", id.New("we"))
	c.OrganizationID = "org_1"
	mustNil(t, s.PutConsumer(ctx, c))
	got, err := s.GetConsumer(ctx, c.Kind, c.DestinationID)
	mustNil(t, err)
	if got.Cursor != stored.Seq || got.State != store.ConsumerActive || got.OrganizationID != "org_1" ||
		fmt.Sprint(got.EventNames) != "[a.one]" || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("new consumer: %+v (want cursor at %d)", got, stored.Seq)
	}
	// Put again changes the filter but never the cursor.
	c.EventNames, c.OrganizationID = []string{"a.one", "b.two"}, ""
	mustNil(t, s.PutConsumer(ctx, c))
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if got.Cursor != stored.Seq || len(got.EventNames) != 2 || got.OrganizationID != "" {
		t.Fatalf("after second put: %+v", got)
	}

	now := time.Now()
	claimed, err := s.ClaimConsumers(ctx, "node-a", now, now.Add(time.Minute), 10)
	mustNil(t, err)
	if len(claimed) != 1 || claimed[0].LeaseOwner != "node-a" {
		t.Fatalf("claim by a: %+v", claimed)
	}
	if again, _ := s.ClaimConsumers(ctx, "node-b", now, now.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("node b claimed a leased consumer: %+v", again)
	}
	if err := s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-b", got.Cursor, got.Cursor+1, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("advance by a node without the lease: %v", err)
	}
	if err := s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", got.Cursor+7, got.Cursor+9, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("advance from a cursor that is not the stored one: %v", err)
	}
	mustNil(t, s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", got.Cursor, got.Cursor+1, now))
	mustNil(t, s.RenewConsumerLease(ctx, c.Kind, c.DestinationID, "node-a", now.Add(2*time.Minute)))
	if err := s.RenewConsumerLease(ctx, c.Kind, c.DestinationID, "node-b", now.Add(2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("renew by a node without the lease: %v", err)
	}
	// An expired lease is taken over.
	later := now.Add(3 * time.Minute)
	claimed, err = s.ClaimConsumers(ctx, "node-b", later, later.Add(time.Minute), 10)
	mustNil(t, err)
	if len(claimed) != 1 || claimed[0].Cursor != stored.Seq+1 {
		t.Fatalf("takeover by b: %+v", claimed)
	}
	if err := s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", stored.Seq+1, stored.Seq+2, later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old owner advanced after losing its lease: %v", err)
	}

	// Failures: counted, scheduled, parked once failing long enough.
	parked, err := s.RecordConsumerFailure(ctx, c.Kind, c.DestinationID, "node-b", store.ConsumerFailure{
		Code: "http_500", Message: "boom", At: later, NextAttemptAt: later.Add(time.Minute), ParkIfFailingBefore: later.Add(-time.Hour)})
	mustNil(t, err)
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if parked || got.Attempts != 1 || got.LastErrorCode != "http_500" || got.FailingSince.IsZero() || got.State != store.ConsumerActive {
		t.Fatalf("after one failure: parked=%v %+v", parked, got)
	}
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-b"))
	if due, _ := s.ClaimConsumers(ctx, "node-a", later, later.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("claimed before its next attempt: %+v", due)
	}
	retry := later.Add(2 * time.Minute)
	claimed, _ = s.ClaimConsumers(ctx, "node-a", retry, retry.Add(time.Minute), 10)
	if len(claimed) != 1 {
		t.Fatalf("not claimed when due: %+v", claimed)
	}
	parked, err = s.RecordConsumerFailure(ctx, c.Kind, c.DestinationID, "node-a", store.ConsumerFailure{
		Code: "http_502", Message: "still", At: retry, NextAttemptAt: retry.Add(time.Minute), ParkIfFailingBefore: retry})
	mustNil(t, err)
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if !parked || got.State != store.ConsumerParked || got.Attempts != 2 || got.ParkedAt.IsZero() || got.LastErrorMessage != "still" {
		t.Fatalf("after failing too long: parked=%v %+v", parked, got)
	}
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-a"))
	far := retry.Add(time.Hour)
	if due, _ := s.ClaimConsumers(ctx, "node-a", far, far.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("a parked consumer was claimed: %+v", due)
	}
	mustNil(t, s.SetConsumerState(ctx, c.Kind, c.DestinationID, store.ConsumerActive, far))
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if got.State != store.ConsumerActive || got.Attempts != 0 || !got.FailingSince.IsZero() || !got.ParkedAt.IsZero() ||
		got.LastErrorCode != "http_502" || got.Cursor != stored.Seq+1 {
		t.Fatalf("after enabling: %+v", got)
	}

	// Rewind goes back to just before the first event at or after since, never forward.
	mid := appendEvent(t, s, "a.one", "", t0)
	midStored, _ := s.GetEvent(ctx, mid.ID)
	mustNil(t, s.RewindConsumer(ctx, c.Kind, c.DestinationID, t0.Add(-time.Minute), far))
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if got.Cursor != midStored.Seq-1 {
		t.Errorf("rewind: cursor %d, want %d", got.Cursor, midStored.Seq-1)
	}
	mustNil(t, s.RewindConsumer(ctx, c.Kind, c.DestinationID, t0.Add(-2*time.Hour), far))
	got, _ = s.GetConsumer(ctx, c.Kind, c.DestinationID)
	if got.Cursor != stored.Seq-1 {
		t.Errorf("rewind further: cursor %d, want %d", got.Cursor, stored.Seq-1)
	}
	mustNil(t, s.RewindConsumer(ctx, c.Kind, c.DestinationID, t0.Add(time.Hour), far))
	if again, _ := s.GetConsumer(ctx, c.Kind, c.DestinationID); again.Cursor != got.Cursor {
		t.Errorf("rewind to the future moved the cursor to %d", again.Cursor)
	}
	if err := s.RewindConsumer(ctx, c.Kind, "we_missing", t0, far); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rewind of a missing consumer: %v", err)
	}

	// A rewind while a batch is in flight: the cursor is already before
	// since, so it stays, but the holder's advance and mark must fail until
	// the consumer is claimed again.
	claimed, err = s.ClaimConsumers(ctx, "node-a", far, far.Add(time.Minute), 10)
	mustNil(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claim after rewinding: %+v", claimed)
	}
	from := claimed[0].Cursor
	mustNil(t, s.RewindConsumer(ctx, c.Kind, c.DestinationID, t0, far))
	if err := s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", from, midStored.Seq, far); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("advance after a rewind that left the cursor: %v", err)
	}
	if err := s.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, "node-a", from, midStored.Seq); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark after a rewind that left the cursor: %v", err)
	}
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-a"))
	claimed, err = s.ClaimConsumers(ctx, "node-b", far, far.Add(time.Minute), 10)
	mustNil(t, err)
	if len(claimed) != 1 || claimed[0].Cursor != from {
		t.Fatalf("claim after the rewind: %+v", claimed)
	}
	mustNil(t, s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-b", from, from+1, far))
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-b"))

	mustNil(t, s.SetConsumerState(ctx, c.Kind, c.DestinationID, store.ConsumerDisabled, far))
	if due, _ := s.ClaimConsumers(ctx, "node-a", far, far.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("a disabled consumer was claimed: %+v", due)
	}
	mustNil(t, s.DeleteConsumer(ctx, c.Kind, c.DestinationID))
	if _, err := s.GetConsumer(ctx, c.Kind, c.DestinationID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted consumer: %v", err)
	}
}

// testConsumerClaimRace has several nodes claim the same consumers at
// once: each consumer goes to exactly one of them.
func testConsumerClaimRace(t *testing.T, s store.Store) {
	const n = 20
	appendEvent(t, s, "a.one", "", time.Now()) // a consumer is only due when there are events
	for range n {
		mustNil(t, s.PutConsumer(ctx, newConsumer("log_stream", id.New("als"))))
	}
	now := time.Now()
	var mu sync.Mutex
	owners := map[string]string{}
	var wg sync.WaitGroup
	for node := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("node-%d", node)
			got, err := s.ClaimConsumers(ctx, owner, now, now.Add(time.Minute), n)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range got {
				if prev, dup := owners[c.DestinationID]; dup {
					t.Errorf("%s claimed by %s and %s", c.DestinationID, prev, owner)
				}
				owners[c.DestinationID] = owner
			}
		}()
	}
	wg.Wait()
	if len(owners) != n {
		t.Errorf("%d of %d consumers claimed", len(owners), n)
	}
}

// testWebhooks covers endpoints (unique URL) and their delivery log.
func testWebhooks(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := store.WebhookEndpoint{ID: id.New("we"), URL: "https://example.com/hook", SealedSecret: "sealed", Status: "enabled",
		Events: []string{"dsync.user.created"}, CreatedAt: now, UpdatedAt: now}
	mustNil(t, s.CreateWebhookEndpoint(ctx, e))
	got, err := s.GetWebhookEndpoint(ctx, e.ID)
	mustNil(t, err)
	if fmt.Sprint(got) != fmt.Sprint(e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
	dup := e
	dup.ID = id.New("we")
	if err := s.CreateWebhookEndpoint(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate URL: %v", err)
	}
	dup.URL = "https://example.com/other"
	mustNil(t, s.CreateWebhookEndpoint(ctx, dup))
	dup.URL = e.URL
	if err := s.UpdateWebhookEndpoint(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("update to a taken URL: %v", err)
	}
	e.Status, e.Events = "disabled", []string{"a", "b"}
	mustNil(t, s.UpdateWebhookEndpoint(ctx, e))
	got, _ = s.GetWebhookEndpoint(ctx, e.ID)
	if got.Status != "disabled" || len(got.Events) != 2 {
		t.Errorf("after update: %+v", got)
	}
	list, _, err := s.ListWebhookEndpoints(ctx, store.Page{Limit: 10, Order: store.Asc})
	mustNil(t, err)
	if len(list) != 2 || list[0].ID != e.ID {
		t.Errorf("list: %+v", list)
	}

	var ds []store.WebhookDelivery
	for i := range 3 {
		ds = append(ds, store.WebhookDelivery{ID: id.New("webhook_delivery"), EndpointID: e.ID, EventID: fmt.Sprintf("event_%d", i),
			EventName: "dsync.user.created", AttemptedAt: now.Add(time.Duration(i) * time.Hour), Success: i == 2, Status: 500 - i*100,
			LatencyMS: 12, ErrorCode: "http_error", Message: "m", Response: "body"})
	}
	mustNil(t, s.AddWebhookDeliveries(ctx, ds))
	page, info, err := s.ListWebhookDeliveries(ctx, e.ID, store.Page{Limit: 2, Order: store.Desc})
	mustNil(t, err)
	if len(page) != 2 || page[0].ID != ds[2].ID || info.After != ds[1].ID || fmt.Sprint(page[0]) != fmt.Sprint(ds[2]) {
		t.Errorf("deliveries page: %+v %+v", page, info)
	}
	if other, _, _ := s.ListWebhookDeliveries(ctx, dup.ID, store.Page{Limit: 10}); len(other) != 0 {
		t.Errorf("another endpoint's deliveries: %+v", other)
	}
	mustNil(t, s.DeleteWebhookDeliveriesBefore(ctx, now.Add(90*time.Minute)))
	if left, _, _ := s.ListWebhookDeliveries(ctx, e.ID, store.Page{Limit: 10}); len(left) != 1 {
		t.Errorf("after pruning: %d left", len(left))
	}
	mustNil(t, s.DeleteWebhookEndpoint(ctx, e.ID))
	if _, err := s.GetWebhookEndpoint(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted endpoint: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

// testConsumerChecked: a consumer checked up to the outbox's end is not
// claimed again until a newer event exists; changing it clears the mark.
func testConsumerChecked(t *testing.T, s store.Store) {
	e := appendEvent(t, s, "a.one", "", time.Now())
	head, _ := s.GetEvent(ctx, e.ID)
	c := newConsumer("webhook", id.New("we"))
	mustNil(t, s.PutConsumer(ctx, c))
	claim := func(owner string) int {
		t.Helper()
		now := time.Now()
		got, err := s.ClaimConsumers(ctx, owner, now, now.Add(time.Minute), 10)
		mustNil(t, err)
		for _, g := range got {
			mustNil(t, s.ReleaseConsumer(ctx, g.Kind, g.DestinationID, owner))
		}
		return len(got)
	}
	now := time.Now()
	got, err := s.ClaimConsumers(ctx, "node-a", now, now.Add(time.Minute), 10)
	mustNil(t, err)
	if len(got) != 1 {
		t.Fatalf("fresh consumer not claimed: %+v", got)
	}
	if err := s.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, "node-b", got[0].Cursor, head.Seq); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark by a node without the lease: %v", err)
	}
	if err := s.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, "node-a", got[0].Cursor-1, head.Seq); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark from a cursor that is not the stored one (rewound meanwhile): %v", err)
	}
	mustNil(t, s.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, "node-a", got[0].Cursor, head.Seq))
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-a"))
	if n := claim("node-a"); n != 0 {
		t.Errorf("checked consumer claimed again with no new event")
	}
	appendEvent(t, s, "b.two", "", time.Now())
	if n := claim("node-a"); n != 1 {
		t.Errorf("not claimed after a new event")
	}
	// Mark up to the new end, then a Put (new filter) must make it due again.
	latest, _ := s.ListEvents(ctx, store.EventFilter{}, 1, true)
	now = time.Now()
	got, _ = s.ClaimConsumers(ctx, "node-a", now, now.Add(time.Minute), 10)
	if len(got) != 1 {
		t.Fatalf("claim: %+v", got)
	}
	mustNil(t, s.MarkConsumerChecked(ctx, c.Kind, c.DestinationID, "node-a", got[0].Cursor, latest[0].Seq))
	mustNil(t, s.ReleaseConsumer(ctx, c.Kind, c.DestinationID, "node-a"))
	if n := claim("node-a"); n != 0 {
		t.Errorf("checked consumer claimed")
	}
	c.EventNames = []string{"b.two"}
	mustNil(t, s.PutConsumer(ctx, c))
	if n := claim("node-a"); n != 1 {
		t.Errorf("not claimed after its filter changed")
	}
}
