package splunk

import (
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

const (
	goodToken     = "11111111-2222-3333-4444-555555555555"
	disabledToken = "99999999-2222-3333-4444-555555555555"
)

// hec implements the Splunk HTTP Event Collector's event endpoint as
// documented: 401 {"text":"Token is required","code":2} without a token,
// 401 code 3 for a malformed Authorization header, 403 code 4 for an
// unknown token and code 1 for a disabled one, 400 code 6 for invalid data,
// code 12 without an event field, code 7 for an index the token may not
// use, and 200 {"text":"Success","code":0}. force answers a status as is.
type hec struct {
	mu     sync.Mutex
	events []map[string]any
	force  int
}

func (h *hec) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(status, code int, text string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"text":%q,"code":%d}`, text, code)
	}
	if r.URL.Path != "/services/collector/event" {
		w.WriteHeader(404)
		return
	}
	switch h.force {
	case 0:
	case 413:
		w.WriteHeader(413)
		io.WriteString(w, "Content-Length of 2000000 too large (maximum is 1000000)")
		return
	case 503:
		answer(503, 9, "Server is busy")
		return
	default:
		w.WriteHeader(h.force)
		return
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		answer(401, 2, "Token is required")
		return
	case !strings.HasPrefix(auth, "Splunk "):
		answer(401, 3, "Invalid authorization")
		return
	case strings.TrimPrefix(auth, "Splunk ") == disabledToken:
		answer(403, 1, "Token disabled")
		return
	case strings.TrimPrefix(auth, "Splunk ") != goodToken:
		answer(403, 4, "Invalid token")
		return
	}
	dec := json.NewDecoder(r.Body)
	var got []map[string]any
	for dec.More() {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			answer(400, 6, "Invalid data format")
			return
		}
		if _, ok := ev["event"]; !ok {
			answer(400, 12, "Event field is required")
			return
		}
		if ev["index"] != nil && ev["index"] != "security" {
			answer(400, 7, "Incorrect index")
			return
		}
		got = append(got, ev)
	}
	h.mu.Lock()
	h.events = append(h.events, got...)
	h.mu.Unlock()
	answer(200, 0, "Success")
}

func TestSendEvents(t *testing.T) {
	h := &hec{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	evs := sinktest.Events(5)
	s := New(Config{URL: srv.URL + "/", Token: goodToken, Index: "security", Sourcetype: "gatehouse:auth"}, sinktest.Client())
	if err := s.Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	var recs []sinks.Record
	for i, ev := range h.events {
		if ev["source"] != "gatehouse" || ev["sourcetype"] != "gatehouse:auth" || ev["index"] != "security" ||
			ev["time"] != float64(evs[i].CreatedAt.UnixMilli())/1000 {
			t.Fatalf("event %d envelope %v", i, ev)
		}
		b, _ := json.Marshal(ev["event"])
		var r sinks.Record
		json.Unmarshal(b, &r)
		recs = append(recs, r)
	}
	sinktest.CheckRecords(t, recs, evs)
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name      string
		token     string
		index     string
		force     int
		code      string
		retryable bool
		says      string
	}{
		{"unknown token", "00000000-0000-0000-0000-000000000000", "", 0, sinks.Unauthorized, false, "Invalid token"},
		{"disabled token", disabledToken, "", 0, sinks.Forbidden, false, "Token disabled"},
		{"index the token may not use", goodToken, "main", 0, sinks.Rejected, false, "Incorrect index"},
		{"413 too large", goodToken, "", 413, sinks.PayloadTooLarge, false, "too large"},
		{"429 rate limited", goodToken, "", 429, sinks.RateLimited, true, ""},
		{"503 server busy", goodToken, "", 503, sinks.ServerError, true, "Server is busy"},
		{"500 retryable", goodToken, "", 500, sinks.ServerError, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(&hec{force: c.force})
			defer srv.Close()
			s := New(Config{URL: srv.URL, Token: c.token, Index: c.index}, sinktest.Client())
			f := sinktest.CheckFailure(t, s.Send(context.Background(), sinktest.Events(2)), c.code, c.retryable, c.token)
			if !strings.Contains(f.Message, c.says) {
				t.Fatalf("message %q does not quote %q", f.Message, c.says)
			}
		})
	}
}

func TestWrongPathIsNotFound(t *testing.T) {
	srv := httptest.NewServer(&hec{})
	defer srv.Close()
	s := New(Config{URL: srv.URL + "/splunk", Token: goodToken}, sinktest.Client())
	f := sinktest.CheckFailure(t, s.Send(context.Background(), sinktest.Events(1)), sinks.NotFound, false, goodToken)
	if !strings.Contains(f.Fix, "HEC URL") {
		t.Fatalf("fix %q", f.Fix)
	}
}

var _ delivery.Sink = (*Sink)(nil)
