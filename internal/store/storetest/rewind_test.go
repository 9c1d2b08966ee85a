package storetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestRewindSurvivesAnEndpointUpdate: a Replay (RewindConsumer) during a
// batch in flight marks the consumer (checked_seq = -1) so that the holder's
// advance fails; an endpoint update (PutConsumer on the existing consumer,
// as webhook.Service.Update does) in between must not clear the marker: the
// holder's advance must still fail, or it would carry the cursor past
// since and the replay would be lost.
func TestRewindSurvivesAnEndpointUpdate(t *testing.T) {
	ctx := context.Background()
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
			c := store.Consumer{Kind: "webhook", DestinationID: "we_rewind", State: store.ConsumerActive, CreatedAt: t0, UpdatedAt: t0}
			if err := s.PutConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			var last store.Event
			for i := range 3 {
				e := store.Event{ID: id.New("event"), Name: "x.y", Data: []byte(`{}`), CreatedAt: t0.Add(time.Duration(i+1) * time.Minute)}
				if err := s.AppendEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
				last = e
			}
			got, err := s.GetEvent(ctx, last.ID)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			claimed, err := s.ClaimConsumers(ctx, "node-a", now, now.Add(time.Minute), 10)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v %+v", err, claimed)
			}
			from := claimed[0].Cursor
			// node-a is sending events from+1..got.Seq; Replay since t0 (cursor stays, marker set).
			if err := s.RewindConsumer(ctx, c.Kind, c.DestinationID, t0, now); err != nil {
				t.Fatal(err)
			}
			// The admin updates the endpoint (e.g. its description) meanwhile.
			c.UpdatedAt = now
			if err := s.PutConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			err = s.AdvanceConsumer(ctx, c.Kind, c.DestinationID, "node-a", from, got.Seq, now)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("holder's advance after a rewind then an endpoint update: %v (want ErrNotFound: the replay would be lost)", err)
			}
		})
	}
}
