package https

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/sinktest"
	workos "github.com/workos/workos-go/v7"
)

const (
	secret = "whsec_test_0123456789abcdef"
	token  = "Bearer tok_supersecret_value"
)

func TestSendSignedJSONArray(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	arrived := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		arrived <- got{r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	evs := sinktest.Events(3)
	s := New(Config{URL: srv.URL + "/ingest", Headers: map[string]string{"Authorization": token, "X-Team": "sec"}, Secret: secret}, sinktest.Client())
	if err := s.Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	g := <-arrived
	if g.header.Get("Authorization") != token || g.header.Get("X-Team") != "sec" || g.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", g.header)
	}
	var recs []sinks.Record
	if err := json.Unmarshal(g.body, &recs); err != nil {
		t.Fatalf("body is not a JSON array of records: %v: %s", err, g.body)
	}
	sinktest.CheckRecords(t, recs, evs)
	// The signature verifies with the WorkOS SDK's webhook verifier, since it
	// uses the same scheme.
	if _, err := workos.NewWebhookVerifier(secret).VerifyPayload(g.header.Get(SignatureHeader), string(g.body)); err != nil {
		t.Fatalf("signature %q does not verify: %v", g.header.Get(SignatureHeader), err)
	}
	if _, err := workos.NewWebhookVerifier("other").VerifyPayload(g.header.Get(SignatureHeader), string(g.body)); err == nil {
		t.Fatal("signature verifies with the wrong secret")
	}
}

func TestUnsignedWithoutSecret(t *testing.T) {
	arrived := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived <- r.Header.Clone() }))
	defer srv.Close()
	if err := New(Config{URL: srv.URL}, sinktest.Client()).Send(context.Background(), sinktest.Events(1)); err != nil {
		t.Fatal(err)
	}
	if h := <-arrived; h.Get(SignatureHeader) != "" {
		t.Fatalf("unsigned stream sent %s", h.Get(SignatureHeader))
	}
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		code      string
		retryable bool
	}{
		{"401 unauthorized", 401, `{"error":"bad token"}`, sinks.Unauthorized, false},
		{"403 forbidden", 403, ``, sinks.Forbidden, false},
		{"404 not found", 404, `no route`, sinks.NotFound, false},
		{"413 too large", 413, ``, sinks.PayloadTooLarge, false},
		{"429 rate limited", 429, ``, sinks.RateLimited, true},
		{"500 retryable", 500, `boom`, sinks.ServerError, true},
		{"503 retryable", 503, ``, sinks.ServerError, true},
		{"400 rejected, echoed secrets redacted", 400, `you sent Authorization: ` + token + ` and ` + secret, sinks.Rejected, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			s := New(Config{URL: srv.URL, Headers: map[string]string{"Authorization": token}, Secret: secret}, sinktest.Client())
			f := sinktest.CheckFailure(t, s.Send(context.Background(), sinktest.Events(2)), c.code, c.retryable, token, secret)
			if f.Status != c.status {
				t.Fatalf("status %d, want %d", f.Status, c.status)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	open := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer open.Close()

	cases := []struct {
		name      string
		url       string
		client    *http.Client
		timeout   time.Duration
		code      string
		retryable bool
	}{
		{"untrusted certificate", tlsSrv.URL, sinktest.Client(), 0, sinks.TLSError, true},
		{"connection refused", closedURL, sinktest.Client(), 0, sinks.ConnectionRefused, true},
		{"unresolvable host", "http://no-such-host.invalid/", sinktest.Client(), 0, sinks.DNSError, true},
		{"no answer in time", hang.URL, sinktest.Client(), 200 * time.Millisecond, sinks.Timeout, true},
		{"loopback refused by netguard", open.URL, sinktest.StrictClient(), 0, sinks.ForbiddenTarget, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if c.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.timeout)
				defer cancel()
			}
			s := New(Config{URL: c.url, Secret: secret}, c.client)
			sinktest.CheckFailure(t, s.Send(ctx, sinktest.Events(1)), c.code, c.retryable, secret)
		})
	}
}
