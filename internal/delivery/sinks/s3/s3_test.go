package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/sinktest"
)

const (
	keyID     = "AKIAGATEHOUSETEST"
	deniedID  = "AKIAGATEHOUSEDENY"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var credential = regexp.MustCompile(`Credential=([^/]+)/`)

// store is gofakes3 behind the part of S3's contract it leaves out: the
// access key in the SigV4 Authorization header must be known (403
// InvalidAccessKeyId) and allowed (403 AccessDenied). force answers an S3
// error with that status instead.
type store struct {
	backend *s3mem.Backend
	s3      http.Handler
	force   int
}

func newStore(t *testing.T) (*store, *httptest.Server) {
	st := &store{backend: s3mem.New()}
	st.s3 = gofakes3.New(st.backend).Server()
	if err := st.backend.CreateBucket("siem-logs"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return st, srv
}

func (st *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>r1</RequestId></Error>`, code, msg)
	}
	switch st.force {
	case 503:
		fail(503, "SlowDown", "Please reduce your request rate.")
		return
	case 500:
		fail(500, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	m := credential.FindStringSubmatch(r.Header.Get("Authorization"))
	switch {
	case m == nil || (m[1] != keyID && m[1] != deniedID):
		fail(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		return
	case m[1] == deniedID:
		fail(403, "AccessDenied", "Access Denied")
		return
	}
	st.s3.ServeHTTP(w, r)
}

func config(url string) Config {
	return Config{Bucket: "siem-logs", Region: "eu-west-1", Prefix: "/gatehouse/auth/", AccessKeyID: keyID,
		SecretAccessKey: secretKey, Endpoint: url, ForcePathStyle: true}
}

func TestWritesNDJSONObjectsByDate(t *testing.T) {
	st, srv := newStore(t)
	s := New(config(srv.URL), sinktest.Client())
	evs := sinktest.Events(7)
	if err := s.Send(context.Background(), evs[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), evs[4:]); err != nil {
		t.Fatal(err)
	}
	var recs []sinks.Record
	for _, first := range []string{"event_0000", "event_0004"} {
		key := "gatehouse/auth/2026/03/04/" + first + ".ndjson"
		obj, err := st.backend.GetObject("siem-logs", key, nil)
		if err != nil {
			t.Fatalf("object %s: %v", key, err)
		}
		b, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		recs = append(recs, sinktest.DecodeRecords(t, b)...)
	}
	sinktest.CheckRecords(t, recs, evs)
}

func TestKeyWithoutPrefix(t *testing.T) {
	cfg := config("http://unused")
	cfg.Prefix = ""
	if k := New(cfg, sinktest.Client()).Key(sinktest.Events(1)); k != "2026/03/04/event_0000.ndjson" {
		t.Fatalf("key %q", k)
	}
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name      string
		mutate    func(*Config)
		force     int
		client    *http.Client
		code      string
		retryable bool
	}{
		{"unknown access key", func(c *Config) { c.AccessKeyID = "AKIANOSUCHKEY" }, 0, nil, sinks.Unauthorized, false},
		{"access denied", func(c *Config) { c.AccessKeyID = deniedID }, 0, nil, sinks.Forbidden, false},
		{"bucket missing", func(c *Config) { c.Bucket = "no-such-bucket" }, 0, nil, sinks.BucketNotFound, false},
		{"503 slow down", nil, 503, nil, sinks.RateLimited, true},
		{"500 internal error", nil, 500, nil, sinks.ServerError, true},
		{"loopback refused by netguard", nil, 0, sinktest.StrictClient(), sinks.ForbiddenTarget, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, srv := newStore(t)
			st.force = c.force
			cfg := config(srv.URL)
			if c.mutate != nil {
				c.mutate(&cfg)
			}
			client := c.client
			if client == nil {
				client = sinktest.Client()
			}
			sinktest.CheckFailure(t, New(cfg, client).Send(context.Background(), sinktest.Events(2)), c.code, c.retryable, secretKey)
		})
	}
}

var _ delivery.Sink = (*Sink)(nil)
