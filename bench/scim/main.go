// Command scim is a load generator for Gatehouse's SCIM server. It
// provisions users and groups the way Microsoft Entra ID does — concurrent
// POST /Users, then POST /Groups, then PATCH Add members in batches — and
// reports throughput and the latency of `userName eq` lookups at that size.
//
// It starts a Gatehouse node in-process (SQLite in a temp dir, or the
// PostgreSQL named by -database-url) unless -url points at a running one.
//
//	go run ./bench/scim -users 100000 -groups 1000
//	go run ./bench/scim -database-url postgres://postgres@127.0.0.1:5432/bench?sslmode=disable
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"

	_ "github.com/jackc/pgx/v5/stdlib" // for -analyze-database-url
)

type options struct {
	target      string
	apiKey      string
	databaseURL string
	users       int
	groups      int
	batch       int
	concurrency int
	lookups     int
	cpuprofile  string
	serverPID   int
	analyzeURL  string
	analyze     func() error // set for an in-process PostgreSQL node
}

func main() {
	var o options
	flag.StringVar(&o.target, "url", "", "base URL of a running Gatehouse; empty = start one in-process")
	flag.StringVar(&o.apiKey, "api-key", "sk_bench_0123456789", "API key (for -url, the one the server accepts)")
	flag.StringVar(&o.databaseURL, "database-url", "", "in-process node: postgres://… (empty = SQLite in a temp dir)")
	flag.IntVar(&o.users, "users", 100000, "users to provision")
	flag.IntVar(&o.groups, "groups", 1000, "groups to provision; every user joins one group")
	flag.IntVar(&o.batch, "batch", 50, "members per PATCH, as Entra batches them")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent SCIM requests")
	flag.IntVar(&o.lookups, "lookups", 2000, "userName eq lookups to time")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the user provisioning phase here")
	flag.StringVar(&o.analyzeURL, "analyze-database-url", "", "with -url on PostgreSQL: the server's database, to ANALYZE after the bulk load as autovacuum would")
	flag.IntVar(&o.serverPID, "server-pid", 0, "with -url: the server's process ID, to report its CPU time and resident memory per phase (Linux /proc)")
	flag.Parse()
	if o.analyzeURL != "" {
		o.analyze = func() error {
			db, err := sql.Open("pgx", o.analyzeURL)
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec("ANALYZE")
			return err
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "scim bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backend := "remote"
	if o.target == "" {
		stop, base, name, err := startNode(ctx, &o)
		if err != nil {
			return err
		}
		defer stop()
		o.target, backend = base, name
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: o.concurrency * 2, MaxIdleConnsPerHost: o.concurrency * 2}, Timeout: time.Minute}
	c := &client{hc: hc, base: o.target, key: o.apiKey}
	// A server started just before this command may not listen yet. The
	// "idle" memory figure below is of a node that has started, migrated its
	// database, answered /healthz and served the three set-up requests.
	if err := waitHealthy(hc, o.target, 30*time.Second); err != nil {
		return err
	}

	var org struct{ ID string }
	if err := c.api("POST", "/organizations", map[string]any{"name": "Bench"}, &org); err != nil {
		return err
	}
	var dir struct {
		ID   string
		SCIM struct {
			BaseURL string `json:"base_url"`
		}
	}
	if err := c.api("POST", "/directories", map[string]any{"organization_id": org.ID, "type": "azure scim v2.0"}, &dir); err != nil {
		return err
	}
	var tok struct{ Token string }
	if err := c.api("POST", "/directories/"+dir.ID+"/tokens", map[string]any{"name": "bench"}, &tok); err != nil {
		return err
	}
	c.scimBase, c.token = dir.SCIM.BaseURL, tok.Token
	fmt.Printf("backend=%s GOMAXPROCS=%d users=%d groups=%d concurrency=%d batch=%d\n",
		backend, runtime.GOMAXPROCS(0), o.users, o.groups, o.concurrency, o.batch)
	m := newMeter(o.serverPID)
	m.report("idle", 0, "")

	// 1. Users: concurrent POSTs with Entra's body.
	userIDs := make([]string, o.users)
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	start := time.Now()
	var done atomic.Int64
	err := parallel(o.concurrency, o.users, func(i int) error {
		name := fmt.Sprintf("user%06d@bench.test", i)
		var out struct{ ID string }
		if err := c.scim("POST", "/Users", entraUser(name, i), http.StatusCreated, &out); err != nil {
			return err
		}
		userIDs[i] = out.ID
		if n := done.Add(1); n%20000 == 0 {
			fmt.Printf("  %6d users after %.1fs\n", n, time.Since(start).Seconds())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create users: %w", err)
	}
	usersDur := time.Since(start)
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("users:       %d in %.1fs = %.0f users/s\n", o.users, usersDur.Seconds(), float64(o.users)/usersDur.Seconds())
	m.report("users", o.users, "user")

	// 2. Groups, created empty as Entra does.
	groupIDs := make([]string, o.groups)
	start = time.Now()
	err = parallel(o.concurrency, o.groups, func(i int) error {
		var out struct{ ID string }
		body := map[string]any{
			"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"externalId":  fmt.Sprintf("g-%d", i),
			"displayName": fmt.Sprintf("Group %04d", i),
		}
		if err := c.scim("POST", "/Groups", body, http.StatusCreated, &out); err != nil {
			return err
		}
		groupIDs[i] = out.ID
		return nil
	})
	if err != nil {
		return fmt.Errorf("create groups: %w", err)
	}
	groupsDur := time.Since(start)
	fmt.Printf("groups:      %d in %.1fs\n", o.groups, groupsDur.Seconds())
	m.report("groups", o.groups, "group")

	// 3. Memberships: user i joins group i % groups, in PATCH Add batches.
	members := make([][]string, o.groups)
	for i, id := range userIDs {
		g := i % o.groups
		members[g] = append(members[g], id)
	}
	type patch struct {
		group string
		ids   []string
	}
	var patches []patch
	for g, ids := range members {
		for len(ids) > 0 {
			n := min(o.batch, len(ids))
			patches = append(patches, patch{groupIDs[g], ids[:n]})
			ids = ids[n:]
		}
	}
	start = time.Now()
	err = parallel(o.concurrency, len(patches), func(i int) error {
		p := patches[i]
		vals := make([]any, len(p.ids))
		for j, id := range p.ids {
			vals[j] = map[string]any{"$ref": nil, "value": id}
		}
		body := map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "Add", "path": "members", "value": vals}},
		}
		return c.scim("PATCH", "/Groups/"+p.group, body, http.StatusNoContent, nil)
	})
	if err != nil {
		return fmt.Errorf("add members: %w", err)
	}
	patchDur := time.Since(start)
	fmt.Printf("memberships: %d in %d PATCHes, %.1fs = %.0f memberships/s\n", o.users, len(patches), patchDur.Seconds(), float64(o.users)/patchDur.Seconds())
	m.report("memberships", len(patches), "PATCH")
	total := usersDur + groupsDur + patchDur
	fmt.Printf("total provisioning: %.1fs\n", total.Seconds())

	// PostgreSQL plans by table statistics, which autovacuum refreshes after
	// a bulk load; the test server here runs with autovacuum off, so do
	// what it would have done.
	if o.analyze != nil {
		t0 := time.Now()
		if err := o.analyze(); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		fmt.Printf("analyze:     %.1fs (what autovacuum does after a bulk load)\n", time.Since(t0).Seconds())
	}

	// 4. An Okta-style import: every user, 100 per page, one page at a time.
	start = time.Now()
	seen := 0
	for idx := 1; idx <= o.users; idx += 100 {
		var page struct {
			TotalResults int
			Resources    []struct{ ID string }
		}
		if err := c.scim("GET", fmt.Sprintf("/Users?startIndex=%d&count=100", idx), nil, http.StatusOK, &page); err != nil {
			return err
		}
		if page.TotalResults != o.users {
			return fmt.Errorf("import page %d: totalResults %d", idx, page.TotalResults)
		}
		seen += len(page.Resources)
	}
	importDur := time.Since(start)
	if seen != o.users {
		return fmt.Errorf("import saw %d users, want %d", seen, o.users)
	}
	fmt.Printf("import:      %d users in %d pages, %.1fs\n", seen, (o.users+99)/100, importDur.Seconds())
	m.report("import", (o.users+99)/100, "page")

	// 5. Lookups, one at a time, as an IdP's exists-check does.
	lat := make([]time.Duration, 0, o.lookups)
	for range o.lookups {
		i := rand.IntN(o.users)
		q := "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@bench.test"`, i))
		var out struct{ TotalResults int }
		t0 := time.Now()
		if err := c.scim("GET", q, nil, http.StatusOK, &out); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		if out.TotalResults != 1 {
			return fmt.Errorf("lookup of user %d found %d", i, out.TotalResults)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("userName eq lookups: n=%d p50=%s p99=%s max=%s\n", len(lat), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	m.report("lookups", len(lat), "lookup")
	return nil
}

// waitHealthy polls base/healthz until it answers 200 or d has passed.
func waitHealthy(hc *http.Client, base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		res, err := hc.Get(base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/healthz: %w", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// meter reads a server process's CPU time and memory from /proc, so a run
// against a separate `gatehouse serve` reports what the server spent apart
// from the load generator.
type meter struct {
	pid     int
	lastCPU time.Duration
}

func newMeter(pid int) *meter {
	m := &meter{pid: pid}
	if pid != 0 {
		m.lastCPU, _ = m.cpu()
	}
	return m
}

// cpu is the process's user+system time (fields 14 and 15 of
// /proc/<pid>/stat, in clock ticks of 1/100 s on Linux).
func (m *meter) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; count from its ")".
	rest := b[bytes.LastIndexByte(b, ')')+2:]
	f := bytes.Fields(rest)
	var utime, stime int64
	fmt.Sscan(string(f[11]), &utime)
	fmt.Sscan(string(f[12]), &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// memory returns VmRSS and VmHWM (peak resident set) in kB, and the
// resident set's parts (anonymous, file-backed, shared memory) and its
// proportional set size. The file-backed part is mostly the binary's own
// pages, and how many of them a fault maps depends on how the page cache
// holds the file (docs/benchmarks.md, Memory), so it is shown apart.
func (m *meter) memory() (rss, hwm int64, parts string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
	if err != nil {
		return 0, 0, ""
	}
	for line := range strings.Lines(string(b)) {
		var v int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &v); err == nil {
			rss = v
		} else if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &v); err == nil {
			hwm = v
		}
		for _, p := range []string{"RssAnon", "RssFile", "RssShmem"} {
			if _, err := fmt.Sscanf(line, p+": %d kB", &v); err == nil {
				parts += fmt.Sprintf(" %s %.1f", strings.TrimPrefix(p, "Rss"), float64(v)/1000)
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", m.pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			var v int64
			if _, err := fmt.Sscanf(line, "Pss: %d kB", &v); err == nil {
				parts += fmt.Sprintf(" PSS %.1f", float64(v)/1000)
			}
		}
	}
	return rss, hwm, parts
}

// report prints the server CPU spent since the last report (per op when n
// > 0) and its resident memory now and at peak.
func (m *meter) report(phase string, n int, unit string) {
	if m.pid == 0 {
		return
	}
	now, err := m.cpu()
	if err != nil {
		fmt.Printf("  server: %v\n", err)
		return
	}
	spent := now - m.lastCPU
	m.lastCPU = now
	rss, hwm, parts := m.memory()
	perOp := ""
	if n > 0 {
		perOp = fmt.Sprintf(" = %.0f µs/%s", float64(spent.Microseconds())/float64(n), unit)
	}
	fmt.Printf("  server after %s: CPU %.1fs%s; RSS %.1f MB (%s), peak %.1f MB\n", phase, spent.Seconds(), perOp, float64(rss)/1000, strings.TrimSpace(parts), float64(hwm)/1000)
}

// startNode runs a Gatehouse node in this process.
func startNode(ctx context.Context, o *options) (stop func(), base, backend string, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", "", err
	}
	cfg, err := config.Defaults(func(c *config.Config) {
		c.Addr = ln.Addr().String()
		c.BaseURL = "http://" + ln.Addr().String()
		c.DataDir = filepath.Join(dir, "data")
		c.APIKey = o.apiKey
		c.DatabaseURL = o.databaseURL
		c.SecretKey = "0000000000000000000000000000000000000000000000000000000000000001"
	})
	if err != nil {
		return nil, "", "", err
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, "", "", err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.Serve(sctx, ln); close(done) }()
	backend = "sqlite"
	if o.databaseURL != "" {
		backend = "postgres"
		if db, ok := a.Store.(*sqlstore.DB); ok {
			o.analyze = func() error { _, err := db.Writer().ExecContext(ctx, "ANALYZE"); return err }
		}
	}
	return func() { cancel(); <-done; a.Close(); os.RemoveAll(dir) }, cfg.BaseURL, backend, nil
}

func entraUser(userName string, i int) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"externalId": fmt.Sprintf("ext-%d", i),
		"userName":   userName,
		"active":     true,
		"emails":     []any{map[string]any{"primary": true, "type": "work", "value": userName}},
		"meta":       map[string]any{"resourceType": "User"},
		"name":       map[string]any{"formatted": "Bench User", "familyName": "User", "givenName": "Bench"},
		"roles":      []any{},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": fmt.Sprint(i), "department": "Load"},
	}
}

// parallel runs fn(0..n-1) on workers goroutines and stops at the first error.
func parallel(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

type client struct {
	hc       *http.Client
	base     string
	key      string
	scimBase string
	token    string
}

func (c *client) do(method, u, auth string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %s", method, u, res.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *client) api(method, path string, body, out any) error {
	want := http.StatusCreated
	if method == "GET" {
		want = http.StatusOK
	}
	return c.do(method, c.base+path, c.key, body, want, out)
}

func (c *client) scim(method, path string, body any, want int, out any) error {
	if c.scimBase == "" {
		return errors.New("no directory yet")
	}
	return c.do(method, c.scimBase+path, c.token, body, want, out)
}
