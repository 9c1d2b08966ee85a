package logstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/sinktest"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// bucket is gofakes3 that also hands every uploaded object's records to
// the test.
type bucket struct {
	s3      http.Handler
	mu      sync.Mutex
	records []sinks.Record
	arrived chan struct{}
	t       *testing.T
}

func (b *bucket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		b.s3.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	b.s3.ServeHTTP(w, r)
	b.mu.Lock()
	b.records = append(b.records, sinktest.DecodeRecords(b.t, body)...)
	b.mu.Unlock()
	select {
	case b.arrived <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds, woken by arrived or a short tick (the
// stream's state is written just after the destination answers).
func waitFor(t *testing.T, what string, arrived <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-arrived:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func appendEvent(t *testing.T, s *apptest.Server, name, org string, i int) {
	t.Helper()
	err := s.Store.InTx(context.Background(), func(q store.Queries) error {
		return events.Append(context.Background(), q, name, org, map[string]any{"type": "sso", "status": "succeeded", "email": fmt.Sprintf("u%d@acme.test", i)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStreamsThroughTheEngine runs the whole path on a node: events of the
// stream's organization reach an S3 bucket (and nothing else does), replay
// sends them again, and a failing destination puts the stream in error
// with the failure's words until its configuration is fixed.
func TestStreamsThroughTheEngine(t *testing.T) {
	for _, be := range storetest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s := apptest.Start(t, be.Name)
			org, other := newOrg(t, s), newOrg(t, s)

			mem := s3mem.New()
			mem.CreateBucket("siem-logs")
			b := &bucket{s3: gofakes3.New(mem).Server(), arrived: make(chan struct{}, 1), t: t}
			srv := httptest.NewServer(b)
			defer srv.Close()
			st, m, raw := call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":"S3","config":{"bucket":"siem-logs",
				"access_key_id":"AKIATEST","secret_access_key":"secret-key-0123456789","endpoint":%q,"force_path_style":true}}`, org, srv.URL))
			if st != 201 {
				t.Fatalf("%d %s", st, raw)
			}
			streamID := m["id"].(string)

			start := time.Now()
			for i := range 5 {
				appendEvent(t, s, "authentication.sso_succeeded", org, i)
				appendEvent(t, s, "authentication.sso_succeeded", other, i) // another organization's
				appendEvent(t, s, "organization.updated", org, i)           // not an authentication event
			}
			count := func() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.records) }
			waitFor(t, "5 records in the bucket", b.arrived, func() bool { return count() >= 5 })
			appendEvent(t, s, "authentication.sso_failed", org, 99) // a marker: everything before it has been sent
			waitFor(t, "the marker", b.arrived, func() bool { return count() >= 6 })
			b.mu.Lock()
			got := append([]sinks.Record(nil), b.records...)
			b.mu.Unlock()
			if len(got) != 6 {
				t.Fatalf("%d records arrived, want 6 (5 + marker): %+v", len(got), got)
			}
			for i, r := range got {
				if *r.OrganizationID != org || !strings.HasPrefix(r.Event, "authentication.") || r.Gatehouse.Version != 1 {
					t.Fatalf("record %d does not belong: %+v", i, r)
				}
				if i > 0 && r.ID <= got[i-1].ID {
					t.Fatalf("records out of order: %s after %s", r.ID, got[i-1].ID)
				}
			}
			waitFor(t, "last_synced_at", nil, func() bool {
				_, m, _ := call(t, s, "GET", "/log_streams/"+streamID, "")
				return m["last_synced_at"] != nil && m["state"] == "active"
			})

			// Replay from before the first event sends all six again.
			st, _, raw = call(t, s, "POST", "/log_streams/"+streamID+"/replay", fmt.Sprintf(`{"since":%q}`, start.Add(-time.Second).UTC().Format(time.RFC3339Nano)))
			if st != 202 {
				t.Fatalf("replay: %d %s", st, raw)
			}
			waitFor(t, "the replayed records", b.arrived, func() bool { return count() >= 12 })
			b.mu.Lock()
			for i := range 6 {
				if b.records[6+i].ID != got[i].ID {
					t.Fatalf("replayed record %d is %s, want %s", i, b.records[6+i].ID, got[i].ID)
				}
			}
			b.mu.Unlock()

			// A destination that refuses the key: the stream goes to error
			// with the failure's message, and recovers once fixed.
			dd, ddGot := datadog(t)
			_, m, _ = call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":"Datadog","config":{"api_key":"wrong_key_000000000000","endpoint":%q}}`, org, dd.URL))
			ddID := m["id"].(string)
			appendEvent(t, s, "authentication.sso_succeeded", org, 100)
			var stream map[string]any
			waitFor(t, "state error", nil, func() bool {
				_, stream, _ = call(t, s, "GET", "/log_streams/"+ddID, "")
				return stream["state"] == "error"
			})
			le := stream["last_error"].(map[string]any)
			// The plain reason and the status, never Datadog's own answer
			// (docs/security.md).
			if msg := le["message"].(string); le["code"] != "unauthorized" || !strings.Contains(msg, "refused the credentials") ||
				!strings.Contains(msg, "HTTP 403") || strings.Contains(msg, "answered") || le["at"] == nil ||
				strings.Contains(fmt.Sprint(stream), "wrong_key_000000000000") {
				t.Fatalf("last_error %v", le)
			}
			st, m, raw = call(t, s, "PUT", "/log_streams/"+ddID, fmt.Sprintf(`{"config":{"api_key":%q}}`, ddKey))
			if st != 200 || m["state"] != "active" {
				t.Fatalf("fix the key: %d %s", st, raw)
			}
			waitFor(t, "the held event at Datadog", nil, func() bool { return len(ddGot()) >= 1 })
			if e := ddGot()[0]; e["event"] != "authentication.sso_succeeded" || e["organization_id"] != org {
				t.Fatalf("Datadog got %v", e)
			}
		})
	}
}
