package logstream_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cputime"
	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// drainSink is a destination fake that counts the records it receives and
// checks they come in outbox order.
type drainSink struct {
	mu   sync.Mutex
	n    int
	last string
	bad  string
	want int
	done chan struct{}
}

func (d *drainSink) got(ids []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if id <= d.last && d.bad == "" {
			d.bad = fmt.Sprintf("%s after %s", id, d.last)
		}
		d.last = id
		d.n++
		if d.n == d.want {
			close(d.done)
		}
	}
}

type idOnly struct {
	ID string `json:"id"`
}

func decodeIDs(r io.Reader) ([]string, error) {
	var recs []idOnly
	if err := json.NewDecoder(r).Decode(&recs); err != nil {
		return nil, err
	}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	return ids, nil
}

// streamFakes are the destinations the drain benchmark streams to: any
// HTTPS endpoint (a JSON array per request) and the Datadog logs intake
// (gzip-compressed JSON array, DD-API-KEY).
var streamFakes = []struct {
	typ    string
	config func(url string) map[string]any
	handle func(r *http.Request) ([]string, error)
}{
	{"GenericHttps", func(url string) map[string]any {
		return map[string]any{"url": url, "headers": map[string]string{"Authorization": authHeader}, "secret": httpsSecret}
	}, func(r *http.Request) ([]string, error) {
		if r.Header.Get("Authorization") != authHeader {
			return nil, fmt.Errorf("no authorization header")
		}
		return decodeIDs(r.Body)
	}},
	{"Datadog", func(url string) map[string]any {
		return map[string]any{"api_key": ddKey, "endpoint": url}
	}, func(r *http.Request) ([]string, error) {
		if r.Header.Get("DD-API-KEY") != ddKey {
			return nil, fmt.Errorf("wrong DD-API-KEY")
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		return decodeIDs(zr)
	}},
}

// BenchmarkLogStreamDrain: b.N authentication events of one organization
// already in the outbox, drained by one log stream (inactive while they
// are appended, then activated) to a fake of its destination in the same
// process — the engine's rate from outbox to sink with the sink's batching
// (GenericHttps: 500 events per request; Datadog: 1,000, gzip).
func BenchmarkLogStreamDrain(b *testing.B) {
	for _, fake := range streamFakes {
		for _, be := range storetest.Backends(b) {
			b.Run(fake.typ+"/"+be.Name, func(b *testing.B) {
				ctx := context.Background()
				raw := be.Open(b)
				dst := &drainSink{want: b.N, done: make(chan struct{})}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ids, err := fake.handle(r)
					if err != nil {
						b.Error(err)
						w.WriteHeader(400)
						return
					}
					dst.got(ids)
					w.WriteHeader(202)
				}))
				b.Cleanup(srv.Close)

				sealer, _ := secrets.NewSealer(make([]byte, 32))
				eng := delivery.New(raw, delivery.Config{Log: benchLog})
				st := delivery.NotifyOnAppend(raw, eng.Nudge)
				guard := netguard.Guard{AllowPrivate: true}
				svc := &logstream.Service{Store: st, Sealer: sealer, Guard: guard, HTTP: guard.Client(10 * time.Second), Nudge: eng.Nudge}
				eng.Register(svc.Kind())
				const org = "org_01BENCH"
				now := time.Now()
				if err := raw.CreateOrganization(ctx, store.Organization{ID: org, Name: "Bench", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}); err != nil {
					b.Fatal(err)
				}
				cfg := map[string]json.RawMessage{}
				for k, v := range fake.config(srv.URL) {
					cfg[k], _ = json.Marshal(v)
				}
				ls, err := svc.Create(ctx, logstream.CreateInput{OrganizationID: org, Type: fake.typ, Config: cfg})
				if err != nil {
					b.Fatal(err)
				}
				setState := func(state string) {
					if _, err := svc.Update(ctx, logstream.AnyOrganization, ls.ID, logstream.UpdateInput{State: &state}); err != nil {
						b.Fatal(err)
					}
				}
				runCtx, cancel := context.WithCancel(ctx)
				stopped := make(chan struct{})
				b.Cleanup(func() { cancel(); <-stopped })
				go func() { eng.Run(runCtx); close(stopped) }()

				setState(store.LogStreamInactive)
				for i := 0; i < b.N; i += 500 {
					err := st.InTx(ctx, func(q store.Queries) error {
						for j := i; j < min(i+500, b.N); j++ {
							if err := events.Append(ctx, q, "authentication.sso_succeeded", org, map[string]any{
								"type": "sso", "status": "succeeded", "email": fmt.Sprintf("user%d@acme.test", j),
								"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
								"sso": map[string]string{"organization_id": org, "connection_id": "conn_01BENCH"},
							}); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				start, cpu0 := time.Now(), cputime.Process()
				setState(store.LogStreamActive)
				<-dst.done
				elapsed, cpu := time.Since(start), cputime.Process()-cpu0
				b.StopTimer()
				if dst.bad != "" {
					b.Fatalf("records out of order: %s", dst.bad)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
			})
		}
	}
}

var benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
