package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/workos/workos-go/v7"
)

const crashAPIKey = "sk_test_crash_0123456789"

// node is a `gatehouse serve` process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
}

// buildBinary compiles the gatehouse command once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startNode runs the binary with env and waits until it answers.
func startNode(t *testing.T, bin, addr string, env ...string) *node {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_API_KEY=" + crashAPIKey,
		"GATEHOUSE_ALLOW_PRIVATE_TARGETS=true", "GATEHOUSE_LOG_LEVEL=warn"}, env...)...)
	n := &node{t: t, cmd: cmd, base: "http://" + addr, out: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, &lockedWriter{w: n.out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if res, err := http.Get(n.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		if i > 400 {
			t.Fatalf("node did not start:\n%s", n.out)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (n *node) kill() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}

func (n *node) call(method, path, body string) (int, []byte, error) {
	req, _ := http.NewRequest(method, n.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+crashAPIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// sink is a webhook receiver that verifies signatures and records, in
// arrival order, every event ID it accepted.
type sink struct {
	secret atomic.Value // string
	mu     sync.Mutex
	got    []string
	bad    []string
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	secret, _ := s.secret.Load().(string)
	var ev struct {
		ID string `json:"id"`
	}
	err := json.Unmarshal(body, &ev)
	if err == nil {
		_, err = workos.NewWebhookVerifier(secret).VerifyPayload(r.Header.Get("WorkOS-Signature"), string(body))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bad = append(s.bad, err.Error())
		w.WriteHeader(400)
		return
	}
	s.got = append(s.got, ev.ID)
}

func (s *sink) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// createOrgs creates orgs from several clients until n succeeded or the
// node stops answering; it returns how many it saw succeed.
func createOrgs(n *node, count, clients int, prefix string) int {
	var ok atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(count) {
					return
				}
				st, _, err := n.call("POST", "/organizations", fmt.Sprintf(`{"name":"%s %d"}`, prefix, i))
				if err != nil {
					return // killed
				}
				if st == 201 {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// outbox lists the IDs of every event named name, oldest first.
func outbox(t *testing.T, n *node, name string) []string {
	t.Helper()
	var ids []string
	after := ""
	for {
		st, b, err := n.call("GET", "/events?order=asc&limit=100&events="+name+"&after="+after, "")
		if err != nil || st != 200 {
			t.Fatalf("list events: %d %s %v", st, b, err)
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			ListMetadata struct {
				After *string `json:"after"`
			} `json:"list_metadata"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Data {
			ids = append(ids, d.ID)
		}
		if page.ListMetadata.After == nil {
			return ids
		}
		after = *page.ListMetadata.After
	}
}

// checkDelivered checks that got holds every ID of want at least once and
// that first arrivals follow want's order; it returns the duplicates.
func checkDelivered(t *testing.T, want, got []string) int {
	t.Helper()
	pos := map[string]int{}
	for i, id := range want {
		pos[id] = i
	}
	seen := map[string]bool{}
	dups, last := 0, -1
	for _, id := range got {
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		p, ok := pos[id]
		if !ok {
			t.Fatalf("delivered an event that is not in the outbox: %s", id)
		}
		if p != last+1 {
			t.Fatalf("out of order: event #%d arrived first after #%d", p, last)
		}
		last = p
	}
	if len(seen) != len(want) {
		t.Fatalf("lost events: %d of %d delivered", len(seen), len(want))
	}
	return dups
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashLosesNoWebhook builds the real binary, streams thousands of
// events to a webhook receiver, kills the node with SIGKILL mid-stream,
// restarts it on the same data, and checks that every event arrived once
// or more, in order.
func TestCrashLosesNoWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	rc := &sink{}
	hook := httptest.NewServer(rc)
	defer hook.Close()

	n := startNode(t, bin, addr, "GATEHOUSE_DATA_DIR="+dir)
	st, b, err := n.call("POST", "/webhook_endpoints", `{"endpoint_url":"`+hook.URL+`","events":["organization.created"]}`)
	if err != nil || st != 201 {
		t.Fatalf("create endpoint: %d %s %v", st, b, err)
	}
	var we struct {
		ID, Secret string
	}
	json.Unmarshal(b, &we)
	rc.secret.Store(we.Secret)

	const total = 3000
	created := make(chan int, 1)
	go func() { created <- createOrgs(n, total, 4, "before") }()
	waitUntil(t, "deliveries to be under way", 2*time.Minute, func() bool { return len(rc.snapshot()) >= 1000 })
	n.kill()
	before := <-created
	atKill := len(rc.snapshot())
	t.Logf("killed after %d organizations created and %d deliveries", before, atKill)

	n = startNode(t, bin, addr, "GATEHOUSE_DATA_DIR="+dir)
	after := createOrgs(n, 1500, 4, "after")
	want := outbox(t, n, "organization.created")
	if len(want) < before+after {
		t.Fatalf("outbox has %d events, at least %d organizations were created", len(want), before+after)
	}
	waitUntil(t, "every event to arrive", 2*time.Minute, func() bool {
		got := rc.snapshot()
		seen := map[string]bool{}
		for _, id := range got {
			seen[id] = true
		}
		return len(seen) >= len(want)
	})
	dups := checkDelivered(t, want, rc.snapshot())
	if len(rc.bad) > 0 {
		t.Errorf("badly signed deliveries: %v", rc.bad[:min(3, len(rc.bad))])
	}
	t.Logf("%d events delivered, %d duplicates (re-sent after the kill)", len(want), dups)
}

// TestMultiNodeDeliversOnce runs two `gatehouse serve` processes on one
// PostgreSQL database: while both run, every event reaches the webhook
// exactly once, in order; when one is killed mid-stream the survivor takes
// its lease over once it expires and delivers the rest.
func TestMultiNodeDeliversOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dbURL := storetest.PostgresURL(t)
	bin := buildBinary(t)
	rc := &sink{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	env := []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_DATA_DIR=" + t.TempDir(),
		"GATEHOUSE_SECRET_KEY=0000000000000000000000000000000000000000000000000000000000000007"}
	a := startNode(t, bin, freeAddr(t), env...)
	b := startNode(t, bin, freeAddr(t), env...)
	st, body, err := a.call("POST", "/webhook_endpoints", `{"endpoint_url":"`+hook.URL+`","events":["organization.created"]}`)
	if err != nil || st != 201 {
		t.Fatalf("create endpoint: %d %s %v", st, body, err)
	}
	var we struct{ Secret string }
	json.Unmarshal(body, &we)
	rc.secret.Store(we.Secret)

	var wg sync.WaitGroup
	for _, n := range []*node{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); createOrgs(n, 600, 2, n.base) }()
	}
	wg.Wait()
	want := outbox(t, a, "organization.created")
	waitUntil(t, "every event to arrive", 2*time.Minute, func() bool { return len(rc.snapshot()) >= len(want) })
	if dups := checkDelivered(t, want, rc.snapshot()); dups != 0 || len(rc.snapshot()) != len(want) {
		t.Fatalf("with both nodes up: %d duplicates of %d events", dups, len(want))
	}
	t.Logf("both nodes up: %d events delivered once each", len(want))

	// Now, while both nodes create events, kill the node that holds the
	// endpoint's lease (its owner name carries its process ID).
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wg2 sync.WaitGroup
	for _, n := range []*node{a, b} {
		wg2.Add(1)
		go func() { defer wg2.Done(); createOrgs(n, 1500, 2, n.base+"-late") }()
	}
	var holder, survivor *node
	waitUntil(t, "a node to hold the lease", time.Minute, func() bool {
		var owner string
		db.QueryRow(`SELECT lease_owner FROM delivery_consumers WHERE kind = 'webhook'`).Scan(&owner)
		for i, n := range []*node{a, b} {
			if strings.Contains(owner, fmt.Sprintf("-%d-", n.cmd.Process.Pid)) {
				holder, survivor = n, []*node{b, a}[i]
				return true
			}
		}
		return false
	})
	t.Logf("killing the lease holder %s", holder.base)
	holder.kill()
	wg2.Wait()
	createOrgs(survivor, 300, 2, "after")
	want = outbox(t, survivor, "organization.created")
	waitUntil(t, "the survivor to deliver everything", 2*time.Minute, func() bool {
		seen := map[string]bool{}
		for _, id := range rc.snapshot() {
			seen[id] = true
		}
		return len(seen) >= len(want)
	})
	dups := checkDelivered(t, want, rc.snapshot())
	if len(rc.bad) > 0 {
		t.Errorf("badly signed deliveries: %v", rc.bad[:min(3, len(rc.bad))])
	}
	t.Logf("after killing one node: %d events delivered, %d duplicates", len(want), dups)
}

// streamSink is a log-stream receiver (the GenericHttps destination): each
// request is a JSON array of records; it keeps their IDs in arrival order.
type streamSink struct {
	mu  sync.Mutex
	got []string
}

func (s *streamSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var records []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&records); err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range records {
		s.got = append(s.got, rec.ID)
	}
}

func (s *streamSink) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// recordAuditEvents records audit log events for org from several clients
// until count succeeded or the node stops answering.
func recordAuditEvents(n *node, org string, count, clients int) int {
	var ok, next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(count) {
					return
				}
				st, _, err := n.call("POST", "/audit_logs/events", fmt.Sprintf(`{"organization_id":%q,"event":{"action":"doc.read",`+
					`"occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u%d","type":"user"},"targets":[],"context":{"location":"192.0.2.1"}}}`, org, i))
				if err != nil {
					return // killed
				}
				if st == 200 {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

// TestCrashLosesNoLogStreamEvent is TestCrashLosesNoWebhook for a log stream:
// an organization's audit log streams to an HTTPS collector while the node
// is killed with SIGKILL and restarted; every event arrives, in order.
func TestCrashLosesNoLogStreamEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	rc := &streamSink{}
	collector := httptest.NewServer(rc)
	defer collector.Close()

	n := startNode(t, bin, addr, "GATEHOUSE_DATA_DIR="+dir)
	st, b, err := n.call("POST", "/organizations", `{"name":"Streamed"}`)
	if err != nil || st != 201 {
		t.Fatalf("create organization: %d %s %v", st, b, err)
	}
	var org struct{ ID string }
	json.Unmarshal(b, &org)
	st, b, err = n.call("POST", "/log_streams", `{"organization_id":"`+org.ID+`","type":"GenericHttps","config":{"url":"`+collector.URL+`"}}`)
	if err != nil || st != 201 {
		t.Fatalf("create log stream: %d %s %v", st, b, err)
	}

	const total = 3000
	recorded := make(chan int, 1)
	go func() { recorded <- recordAuditEvents(n, org.ID, total, 4) }()
	waitUntil(t, "deliveries to be under way", 2*time.Minute, func() bool { return len(rc.snapshot()) >= 1000 })
	n.kill()
	before := <-recorded
	t.Logf("killed after %d events recorded and %d delivered", before, len(rc.snapshot()))

	n = startNode(t, bin, addr, "GATEHOUSE_DATA_DIR="+dir)
	after := recordAuditEvents(n, org.ID, 1500, 4)
	want := outbox(t, n, "audit_log_event.created")
	if len(want) < before+after {
		t.Fatalf("outbox has %d events, at least %d were recorded", len(want), before+after)
	}
	waitUntil(t, "every event to arrive", 2*time.Minute, func() bool {
		seen := map[string]bool{}
		for _, id := range rc.snapshot() {
			seen[id] = true
		}
		return len(seen) >= len(want)
	})
	dups := checkDelivered(t, want, rc.snapshot())
	t.Logf("%d events delivered, %d duplicates (re-sent after the kill)", len(want), dups)
}
