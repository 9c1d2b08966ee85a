package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/webhook"
)

// TestSlowEndpointIsNotCutShort: an endpoint that answers each request
// slowly but within the request timeout gets every event, in order, with
// no failed attempt, although a whole batch of such requests would take
// longer than the engine allows one batch: the sink starts a request only
// while a full request timeout is left and lets the engine send the rest.
// (Scaled down: 200 ms answers, a 1 s request timeout, 1.5 s batches of
// up to 50 events: seven requests fit in a batch, three start with 1 s left.)
func TestSlowEndpointIsNotCutShort(t *testing.T) {
	for _, be := range storetest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			raw := be.Open(t)
			var mu sync.Mutex
			var got []string
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p webhook.Payload
				if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
					t.Error(err)
				}
				time.Sleep(200 * time.Millisecond)
				mu.Lock()
				got = append(got, p.ID)
				mu.Unlock()
			}))
			defer hook.Close()
			sealer, _ := secrets.NewSealer(make([]byte, 32))
			eng := delivery.New(raw, delivery.Config{Poll: 50 * time.Millisecond, Lease: 3 * time.Second, SendTimeout: 1500 * time.Millisecond})
			st := delivery.NotifyOnAppend(raw, eng.Nudge)
			guard := netguard.Guard{AllowPrivate: true}
			svc := &webhook.Service{Store: st, Sealer: sealer, Guard: guard, HTTP: webhook.NewHTTPClient(guard, time.Second)}
			eng.Register(svc.Kind())
			we, err := svc.Create(ctx, webhook.CreateInput{EndpointURL: hook.URL, Events: []string{"slow.event"}})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { eng.Run(runCtx); close(stopped) }()
			defer func() { cancel(); <-stopped }()

			var want []string
			err = st.InTx(ctx, func(q store.Queries) error {
				for i := range 12 {
					if err := events.Append(ctx, q, "slow.event", "", map[string]int{"i": i}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := raw.ListEvents(ctx, store.EventFilter{Names: []string{"slow.event"}}, 100, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				want = append(want, e.ID)
			}
			waitFor(t, "12 deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 12 })
			mu.Lock()
			if len(got) != 12 {
				t.Errorf("%d deliveries, want 12 (no repeats): %v", len(got), got)
			}
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("delivery %d is %s, want %s", i, got[i], want[i])
				}
			}
			mu.Unlock()
			var log []store.WebhookDelivery
			waitFor(t, "12 logged attempts", func() bool {
				log, _, err = raw.ListWebhookDeliveries(ctx, we.ID, store.Page{Limit: 100, Order: store.Asc})
				return err == nil && len(log) >= 12
			})
			for _, d := range log {
				if !d.Success {
					t.Errorf("failed attempt: %+v", d)
				}
			}
			c, err := raw.GetConsumer(ctx, "webhook", we.ID)
			if err != nil || c.LastErrorCode != "" || c.Attempts != 0 {
				t.Errorf("consumer after a slow but healthy endpoint: %+v %v", c, err)
			}
		})
	}
}
