//go:build unix

// Command sso is a load generator for Gatehouse's SSO endpoints. It runs
// SAML logins against a `gatehouse serve` — GET /sso/authorize, the ACS
// (SP-initiated and IdP-initiated), POST /sso/token and GET /sso/profile —
// and reports each as operations per server CPU-second (read from the
// server's /metrics, process_cpu_seconds_total) and per wall second, with
// p50/p99 latency, set against raw RSA-2048 PKCS #1 v1.5 SHA-256
// verification measured in the same run. The in-process test IdP signs
// every response before the timed phase that posts it: the IdP's signing
// is not Gatehouse's cost.
//
// By default it builds ./cmd/gatehouse and starts it twice on SQLite, with
// the SAML fast path on and off (GATEHOUSE_SAML_FAST_PATH). With -url it
// targets a running server instead (its client ID, API key and an allowed
// redirect URI must be given).
//
//	go run ./bench/sso -n 1000
//	go run ./bench/sso -fast-path on -database-url 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
//	go run ./bench/sso -url http://127.0.0.1:8080 -api-key sk_… -client-id client_… -redirect-uri https://app.example/callback
package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cputime"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

type options struct {
	target      string
	apiKey      string
	clientID    string
	redirectURI string
	binary      string
	databaseURL string
	fastPath    string
	n           int
	concurrency int
}

func main() {
	var o options
	flag.StringVar(&o.target, "url", "", "base URL of a running Gatehouse; empty = build and start ./cmd/gatehouse")
	flag.StringVar(&o.apiKey, "api-key", "sk_bench_0123456789", "API key (for -url, one the server accepts)")
	flag.StringVar(&o.clientID, "client-id", "client_bench", "client ID (for -url, the server's)")
	flag.StringVar(&o.redirectURI, "redirect-uri", "https://app.bench.example/callback", "redirect URI (for -url, one on the server's allow-list)")
	flag.StringVar(&o.binary, "gatehouse", "", "gatehouse binary to start; empty = go build ./cmd/gatehouse")
	flag.StringVar(&o.databaseURL, "database-url", "", "started server: postgres://… (empty = SQLite in a temp dir)")
	flag.StringVar(&o.fastPath, "fast-path", "both", "started server: on, off, or both (one server each, same run)")
	flag.IntVar(&o.n, "n", 1000, "logins per phase")
	flag.IntVar(&o.concurrency, "concurrency", 4, "concurrent requests")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "sso bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	rsaRate := rsaVerifyRate(time.Second)
	fmt.Printf("GOMAXPROCS=%d n=%d concurrency=%d\n", runtime.GOMAXPROCS(0), o.n, o.concurrency)
	fmt.Printf("raw RSA-2048 PKCS#1 v1.5 SHA-256 verify: %.0f per CPU-second (this process, same run)\n", rsaRate)
	if o.target != "" {
		res, err := load(o, o.target)
		if err != nil {
			return err
		}
		report("remote", res, rsaRate)
		return nil
	}
	modes := []string{o.fastPath}
	if o.fastPath == "both" {
		modes = []string{"on", "off"}
	}
	bin, cleanup, err := binary(o.binary)
	if err != nil {
		return err
	}
	defer cleanup()
	for _, mode := range modes {
		base, stop, err := startServer(bin, o, mode)
		if err != nil {
			return err
		}
		res, err := load(o, base)
		stop()
		if err != nil {
			return fmt.Errorf("fast path %s: %w", mode, err)
		}
		backend := "sqlite"
		if o.databaseURL != "" {
			backend = "postgres"
		}
		report(backend+", SAML fast path "+mode, res, rsaRate)
	}
	fmt.Printf("raw RSA verify again at the end: %.0f per CPU-second\n", rsaVerifyRate(time.Second))
	return nil
}

// rsaVerifyRate is the yardstick: raw RSA-2048 PKCS #1 v1.5 SHA-256
// verifications per CPU-second of this process, on one goroutine (per
// CPU-second, like the server's figures, so that a busy machine skews
// both alike).
func rsaVerifyRate(d time.Duration) float64 {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte("gatehouse"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	n := 0
	start, cpu0 := time.Now(), cputime.Process()
	for time.Since(start) < d {
		for range 50 {
			if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
				panic("verify")
			}
		}
		n += 50
	}
	return float64(n) / (cputime.Process() - cpu0).Seconds()
}

// binary returns the gatehouse binary to start, building it if needed.
func binary(path string) (string, func(), error) {
	if path != "" {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-sso-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build ./cmd/gatehouse (run from the repository root): %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// startServer starts `gatehouse serve` on a free loopback port.
func startServer(bin string, o options, fastPath string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "gatehouse-bench-sso-data-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_ADDR="+addr, "GATEHOUSE_DATA_DIR="+dir, "GATEHOUSE_API_KEY="+o.apiKey,
		"GATEHOUSE_CLIENT_ID="+o.clientID, "GATEHOUSE_REDIRECT_URIS="+o.redirectURI,
		"GATEHOUSE_SECRET_KEY=0000000000000000000000000000000000000000000000000000000000000001",
		"GATEHOUSE_DATABASE_URL="+o.databaseURL, "GATEHOUSE_SAML_FAST_PATH="+strconv.FormatBool(fastPath == "on"),
		// Every request comes from one address: the per-client SSO limit
		// (1,000/s by default) would measure the limiter, not the server.
		"GATEHOUSE_RATE_LIMIT_SSO=0")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	base := "http://" + addr
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		if time.Since(start) > 30*time.Second {
			stop()
			return "", nil, errors.New("gatehouse did not become healthy in 30s")
		}
	}
}

// phase is one timed phase's measurements.
type phase struct {
	name    string
	n       int
	wall    time.Duration
	cpu     float64 // server CPU seconds
	latency []time.Duration
}

type bench struct {
	o    options
	base string
	hc   *http.Client
}

// load sets up an organization, a SAML connection and the test IdP, then
// runs the timed phases.
func load(o options, base string) ([]phase, error) {
	b := &bench{o: o, base: base, hc: &http.Client{
		Transport:     &http.Transport{MaxIdleConns: o.concurrency * 2, MaxIdleConnsPerHost: o.concurrency * 2},
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	var org struct{ ID string }
	if err := b.api("POST", "/organizations", map[string]any{"name": "Bench " + strconv.FormatInt(time.Now().UnixNano(), 36)}, &org); err != nil {
		return nil, err
	}
	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: "https://idp.bench.example/saml"})
	if err != nil {
		return nil, err
	}
	user := testidp.User{Email: "alice@bench.example", FirstName: "Alice", LastName: "Bench", Groups: []string{"staff"}}
	if err := idp.AddUser(user); err != nil {
		return nil, err
	}
	var conn struct {
		ID   string
		SAML struct {
			SPEntityID    string `json:"sp_entity_id"`
			ACSURL        string `json:"acs_url"`
			SPMetadataURL string `json:"sp_metadata_url"`
		}
	}
	err = b.api("POST", "/connections", map[string]any{"organization_id": org.ID, "connection_type": "OktaSAML",
		"saml": map[string]any{"idp_metadata_xml": string(idp.MetadataXML()), "allow_idp_initiated": true, "default_redirect_uri": o.redirectURI}}, &conn)
	if err != nil {
		return nil, err
	}
	md, err := b.get(conn.SAML.SPMetadataURL, "")
	if err != nil {
		return nil, err
	}
	if _, err := idp.AddServiceProviderMetadata(md); err != nil {
		return nil, fmt.Errorf("register the SP at the IdP: %w", err)
	}
	n := o.n
	var phases []phase

	// 1. Authorize: each login's request ID comes back as RelayState, and
	// its cookie binds the login to this "browser" (the ACS checks it).
	requestIDs := make([]string, n)
	cookies := make([]string, n)
	authURL := base + "/sso/authorize?" + url.Values{"client_id": {o.clientID}, "response_type": {"code"},
		"redirect_uri": {o.redirectURI}, "connection": {conn.ID}, "state": {"bench"}}.Encode()
	p, err := b.timed("authorize", n, func(i int) error {
		loc, setCookies, err := b.redirectCookies("GET", authURL, nil, "", "")
		if err != nil {
			return err
		}
		pairs := make([]string, 0, len(setCookies))
		for _, c := range setCookies {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
		cookies[i] = strings.Join(pairs, "; ")
		u, err := url.Parse(loc)
		if err != nil {
			return err
		}
		if requestIDs[i] = u.Query().Get("RelayState"); requestIDs[i] == "" {
			return fmt.Errorf("authorize redirected to %s", loc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	phases = append(phases, p)

	// 2. ACS, SP-initiated: responses signed first, then posted.
	spResponses := make([]string, n)
	for i := range spResponses {
		if spResponses[i], err = idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: user, InResponseTo: requestIDs[i]}); err != nil {
			return nil, err
		}
	}
	codes := make([]string, n)
	acs := func(responses []string, relay []string, cookie []string, out []string) func(i int) error {
		return func(i int) error {
			form := url.Values{"SAMLResponse": {responses[i]}}
			c := ""
			if relay != nil {
				form.Set("RelayState", relay[i])
				c = cookie[i]
			}
			loc, _, err := b.redirectCookies("POST", conn.SAML.ACSURL, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", c)
			if err != nil {
				return err
			}
			u, err := url.Parse(loc)
			if err != nil {
				return err
			}
			if out[i] = u.Query().Get("code"); out[i] == "" {
				return fmt.Errorf("the ACS refused a login: %s", loc)
			}
			return nil
		}
	}
	if p, err = b.timed("ACS, SP-initiated", n, acs(spResponses, requestIDs, cookies, codes)); err != nil {
		return nil, err
	}
	phases = append(phases, p)

	// 3. ACS, IdP-initiated.
	idpResponses := make([]string, n)
	for i := range idpResponses {
		if idpResponses[i], err = idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: user}); err != nil {
			return nil, err
		}
	}
	if p, err = b.timed("ACS, IdP-initiated", n, acs(idpResponses, nil, nil, make([]string, n))); err != nil {
		return nil, err
	}
	phases = append(phases, p)

	// 4. Token, for the SP-initiated logins' codes.
	tokens := make([]string, n)
	if p, err = b.timed("token", n, func(i int) error {
		form := url.Values{"client_id": {o.clientID}, "client_secret": {o.apiKey}, "grant_type": {"authorization_code"}, "code": {codes[i]}}
		body, err := b.do("POST", base+"/sso/token", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", "", http.StatusOK)
		if err != nil {
			return err
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
			return fmt.Errorf("token: %s", body)
		}
		tokens[i] = out.AccessToken
		return nil
	}); err != nil {
		return nil, err
	}
	phases = append(phases, p)

	// 5. Profile.
	if p, err = b.timed("profile", n, func(i int) error {
		_, err := b.do("GET", base+"/sso/profile", nil, "", tokens[i], http.StatusOK)
		return err
	}); err != nil {
		return nil, err
	}
	return append(phases, p), nil
}

// timed runs fn(0..n-1) on o.concurrency workers, measuring the server's
// CPU time around it.
func (b *bench) timed(name string, n int, fn func(i int) error) (phase, error) {
	cpu0, err := b.serverCPU()
	if err != nil {
		return phase{}, err
	}
	lat := make([]time.Duration, n)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range b.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := fn(i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("%s: %w", name, err)
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if first != nil {
		return phase{}, first
	}
	cpu1, err := b.serverCPU()
	if err != nil {
		return phase{}, err
	}
	slices.Sort(lat)
	return phase{name: name, n: n, wall: wall, cpu: cpu1 - cpu0, latency: lat}, nil
}

// serverCPU reads process_cpu_seconds_total from the server's /metrics.
func (b *bench) serverCPU() (float64, error) {
	body, err := b.get(b.base+"/metrics", "")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errors.New("/metrics has no process_cpu_seconds_total")
}

func (b *bench) do(method, u string, body io.Reader, contentType, bearer string, want int) ([]byte, error) {
	out, _, err := b.doCookies(method, u, body, contentType, bearer, "", want)
	return out, err
}

// doCookies is do with a Cookie header to send; it also returns the
// cookies the response sets.
func (b *bench) doCookies(method, u string, body io.Reader, contentType, bearer, cookie string, want int) ([]byte, []*http.Cookie, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %d %s %s", method, u, res.StatusCode, res.Header.Get("Location"), out)
	}
	if want == http.StatusFound {
		return []byte(res.Header.Get("Location")), res.Cookies(), nil
	}
	return out, res.Cookies(), nil
}

// redirectCookies expects a 302 and returns its Location and the cookies
// it sets.
func (b *bench) redirectCookies(method, u string, body io.Reader, contentType, cookie string) (string, []*http.Cookie, error) {
	loc, set, err := b.doCookies(method, u, body, contentType, "", cookie, http.StatusFound)
	return string(loc), set, err
}

func (b *bench) get(u, bearer string) ([]byte, error) {
	return b.do("GET", u, nil, "", bearer, http.StatusOK)
}

func (b *bench) api(method, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	res, err := b.do(method, b.base+path, strings.NewReader(string(raw)), "application/json", b.o.apiKey, http.StatusCreated)
	if err != nil {
		return err
	}
	return json.Unmarshal(res, out)
}

// report prints one server's phases.
func report(title string, phases []phase, rsaRate float64) {
	fmt.Printf("\n%s\n", title)
	fmt.Printf("%-20s %6s %8s %10s %9s %11s %10s %9s %9s %11s\n",
		"phase", "n", "wall s", "ops/wall-s", "server s", "ops/CPU-s", "CPU ms/op", "p50 ms", "p99 ms", "÷ RSA verify")
	login := 0.0
	for _, p := range phases {
		perCPU := float64(p.n) / p.cpu
		pct := func(q float64) float64 {
			return float64(p.latency[min(len(p.latency)-1, int(float64(len(p.latency))*q))]) / 1e6
		}
		fmt.Printf("%-20s %6d %8.2f %10.0f %9.2f %11.0f %10.3f %9.2f %9.2f %11.4f\n",
			p.name, p.n, p.wall.Seconds(), float64(p.n)/p.wall.Seconds(), p.cpu, perCPU, 1000*p.cpu/float64(p.n),
			pct(0.50), pct(0.99), perCPU/rsaRate)
		if p.name != "ACS, IdP-initiated" {
			login += p.cpu / float64(p.n)
		}
	}
	fmt.Printf("%-20s %6s %8s %10s %9s %11.0f %10.3f\n", "whole login (sum)", "", "", "", "", 1/login, 1000*login)
}
