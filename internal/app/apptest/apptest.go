// Package apptest starts a whole Gatehouse node for tests, on a real
// listener and a real store (SQLite file or PostgreSQL schema).
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// APIKey is the API key every test server accepts.
const APIKey = "sk_test_gatehouse_0123456789"

// Server is a running test node.
type Server struct {
	*app.App
	URL    string
	HTTP   *httptest.Server
	cancel context.CancelFunc
}

// Option adjusts the configuration before the node starts.
type Option func(*config.Config)

// Start runs a node on the named backend ("sqlite" or "postgres") until t
// ends. Background workers run unless an option turns them off.
func Start(t testing.TB, backend string, opts ...Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := config.Defaults(func(c *config.Config) {
		c.Addr = ln.Addr().String()
		c.BaseURL = "http://" + ln.Addr().String()
		c.DataDir = filepath.Join(dir, "data")
		c.APIKey = APIKey
		c.AllowPrivateTargets = true
		c.SecretKey = "0000000000000000000000000000000000000000000000000000000000000001"
		if backend == "postgres" {
			c.DatabaseURL = storetest.PostgresURL(t)
		}
		for _, o := range opts {
			o(c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("start gatehouse: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := a.RunWorkers(ctx)
	hs := httptest.NewUnstartedServer(a.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	s := &Server{App: a, URL: hs.URL, HTTP: hs, cancel: cancel}
	t.Cleanup(func() {
		hs.Close()
		cancel()
		wait()
		a.Close()
	})
	return s
}

// Do sends an authenticated API request with a JSON body (nil for none).
func (s *Server) Do(t testing.TB, method, path string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Backends names the backends tests run on: "sqlite" and, when
// GATEHOUSE_TEST_POSTGRES_URL is set, "postgres" (see storetest.Backends).
func Backends(t testing.TB) []string {
	var out []string
	for _, b := range storetest.Backends(t) {
		out = append(out, b.Name)
	}
	return out
}

// JSON sends an authenticated API request with body encoded as JSON (nil
// for none), fails t unless the answer has status want, and decodes a
// non-empty answer into out (nil to skip).
func (s *Server) JSON(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	res := s.Do(t, method, path, rd)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}
