package datadog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/sinktest"
)

const apiKey = "dd0123456789abcdef0123456789abcd"

// intake implements the Datadog logs intake v2 contract as documented:
// 403 {"errors":["Forbidden"]} for an unknown DD-API-KEY, 413 above 5 MB
// uncompressed or 1,000 entries, 400 for a body that is not a JSON array,
// 202 {} on success. force, when set, answers that status instead.
type intake struct {
	mu       sync.Mutex
	requests [][]map[string]any
	force    int
}

func (in *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[%q]}`, msg)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/logs" {
		fail(404, "Not found")
		return
	}
	if in.force != 0 {
		fail(in.force, http.StatusText(in.force))
		return
	}
	if r.Header.Get("DD-API-KEY") != apiKey {
		fail(403, "Forbidden")
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(400, "Bad Request")
			return
		}
		body = zr
	}
	raw, _ := io.ReadAll(io.LimitReader(body, MaxPayload+1))
	if len(raw) > MaxPayload {
		fail(413, "Request too large")
		return
	}
	var entries []map[string]any
	if err := json.Unmarshal(raw, &entries); err != nil {
		fail(400, "Bad Request")
		return
	}
	if len(entries) > MaxEntries {
		fail(413, "Too many entries")
		return
	}
	in.mu.Lock()
	in.requests = append(in.requests, entries)
	in.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "{}")
}

func newSink(url, key string) *Sink {
	return New(Config{APIKey: key, Endpoint: url, Service: "acme-auth", Tags: "env:prod,team:sec"}, sinktest.Client())
}

func TestSendGzipBatchesWithinLimits(t *testing.T) {
	in := &intake{}
	srv := httptest.NewServer(in)
	defer srv.Close()
	evs := sinktest.Events(2500)
	if err := newSink(srv.URL, apiKey).Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(in.requests) != 3 || len(in.requests[0]) != 1000 || len(in.requests[2]) != 500 {
		t.Fatalf("requests of %d entries, want 1000+1000+500", lens(in.requests))
	}
	var recs []sinks.Record
	for _, req := range in.requests {
		for _, e := range req {
			if e["ddsource"] != "gatehouse" || e["service"] != "acme-auth" || e["ddtags"] != "env:prod,team:sec" ||
				!strings.HasPrefix(e["message"].(string), "authentication.sso_succeeded event_") {
				t.Fatalf("entry %v lacks Datadog's attributes", e)
			}
			b, _ := json.Marshal(e)
			var r sinks.Record
			json.Unmarshal(b, &r)
			recs = append(recs, r)
		}
	}
	sinktest.CheckRecords(t, recs, evs)
}

func TestSplitsAt5MB(t *testing.T) {
	in := &intake{}
	srv := httptest.NewServer(in)
	defer srv.Close()
	evs := sinktest.Events(900)
	big := strings.Repeat("x", 8000)
	for i := range evs {
		evs[i].Data = []byte(`{"padding":"` + big + `"}`)
	}
	if err := newSink(srv.URL, apiKey).Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range in.requests {
		n += len(r)
	}
	if len(in.requests) < 2 || n != 900 {
		t.Fatalf("requests %v; want several, 900 entries in all", lens(in.requests))
	}
}

func lens(rs [][]map[string]any) []int {
	var out []int
	for _, r := range rs {
		out = append(out, len(r))
	}
	return out
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name      string
		key       string
		force     int
		code      string
		retryable bool
	}{
		{"wrong API key answers 403", "wrong-key-9999999999999999", 0, sinks.Unauthorized, false},
		{"400 bad request", apiKey, 400, sinks.Rejected, false},
		{"408 timeout", apiKey, 408, sinks.Timeout, true},
		{"413 payload too large", apiKey, 413, sinks.PayloadTooLarge, false},
		{"429 rate limited", apiKey, 429, sinks.RateLimited, true},
		{"500 retryable", apiKey, 500, sinks.ServerError, true},
		{"503 retryable", apiKey, 503, sinks.ServerError, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(&intake{force: c.force})
			defer srv.Close()
			f := sinktest.CheckFailure(t, newSink(srv.URL, c.key).Send(context.Background(), sinktest.Events(3)), c.code, c.retryable, c.key)
			if c.code == sinks.Unauthorized && !strings.Contains(f.Fix, "API key") {
				t.Fatalf("fix does not name the API key: %s", f.Fix)
			}
		})
	}
}

func TestIntakeURL(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default site", Config{}, "https://http-intake.logs.datadoghq.com/api/v2/logs"},
		{"EU site", Config{Site: "datadoghq.eu"}, "https://http-intake.logs.datadoghq.eu/api/v2/logs"},
		{"endpoint base", Config{Site: "datadoghq.eu", Endpoint: "https://proxy.example.com/"}, "https://proxy.example.com/api/v2/logs"},
		{"endpoint full", Config{Endpoint: "https://proxy.example.com/api/v2/logs"}, "https://proxy.example.com/api/v2/logs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cfg.IntakeURL(); got != c.want {
				t.Fatalf("%s, want %s", got, c.want)
			}
		})
	}
}

var _ delivery.Sink = (*Sink)(nil)
