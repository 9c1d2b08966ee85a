package portal_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/workos/workos-go/v7"
)

//go:embed testdata/axe/axe.min.js
var axeSource string

// txtServer is a loopback DNS server answering TXT queries from a map.
type txtServer struct {
	addr string
	mu   sync.Mutex
	txt  map[string][]string
}

func startTXT(t *testing.T) *txtServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &txtServer{addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		name := strings.TrimSuffix(strings.ToLower(r.Question[0].Name), ".")
		d.mu.Lock()
		txt := d.txt[name]
		d.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		for _, s := range txt {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{s}})
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

func (d *txtServer) set(name, value string) {
	d.mu.Lock()
	d.txt[name] = []string{value}
	d.mu.Unlock()
}

// shortLivedCert is a self-signed certificate that expires in days.
func shortLivedCert(t *testing.T, days int) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "staging IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Duration(days)*24*time.Hour + time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// browser drives one Chromium tab and records screenshots.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	axed map[string]bool
	// attached is set once a step has run on ctx's tab: from then on each
	// step may run under a timeout (cancelling the first Run's context
	// would close the tab).
	attached bool
}

// stepTimeout bounds one browser step; it is far above what any step takes
// even on a loaded machine, so it only turns a hang into a failure.
const stepTimeout = 2 * time.Minute

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, s := range steps {
		// A step that can never succeed (an element that never shows)
		// fails here with a screenshot rather than hanging the package.
		ctx, cancel := b.ctx, context.CancelFunc(func() {})
		if b.attached {
			ctx, cancel = context.WithTimeout(b.ctx, stepTimeout)
		}
		_, err := chromedp.Run(ctx, s)
		cancel()
		b.attached = b.attached || err == nil
		if err != nil {
			if shot, serr := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.FullScreenshot(90)); serr == nil {
				os.WriteFile(filepath.Join(b.dir, "failure.png"), shot, 0o644)
			}
			loc, _ := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.Location())
			body, _ := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.Text("body"))
			b.t.Fatalf("%s, step %d at %s: %v\n%.1500s", what, i, loc, err, body)
		}
	}
}

// waitURL waits until the address bar contains part (after a form post).
func (b *browser) waitURL(part string) {
	b.t.Helper()
	for {
		if strings.Contains(b.location(), part) {
			return
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %q in the address bar: %v (at %s)", part, b.ctx.Err(), b.location())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

// shoot saves the page at desktop and phone width, fails on sideways
// scrolling at either, and runs axe-core once per page.
func (b *browser) shoot(name string) {
	b.t.Helper()
	for _, w := range []int64{1280, 390} {
		b.do("resize", chromedp.EmulateViewport(w, 900))
		overflow, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
		if err != nil || overflow {
			b.t.Errorf("%s at %d px scrolls sideways (err %v)", name, w, err)
		}
		shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%s-%d.png", name, w)), shot, 0o644)
	}
	b.do("resize", chromedp.EmulateViewport(1280, 900))
	if b.axed[name] {
		return
	}
	b.axed[name] = true
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		b.t.Fatalf("inject axe: %v", err)
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
		 .map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ")))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range found {
		b.t.Errorf("axe on %s: %s", name, v)
	}
}

// newBrowser starts headless Chromium with one tab, closed when t ends.
func newBrowser(t *testing.T, chrome string) *browser {
	t.Helper()
	bctx := apptest.Browser(t, chrome, filepath.Join(t.TempDir(), "chromium"), 1280, 900, 7*time.Minute)
	b := &browser{t: t, ctx: bctx, dir: apptest.ArtifactDir(t, "portal"), axed: map[string]bool{}}
	t.Logf("screenshots: %s", b.dir)
	return b
}

// signInAtIdP completes the test IdP's login form, if it shows one.
func (b *browser) signInAtIdP(email, password string) {
	b.t.Helper()
	b.do("idp login", chromedp.WaitVisible(`#password`), chromedp.SendKeys(`#email`, email), chromedp.SendKeys(`#password`, password),
		chromedp.Click(`button.primary`))
}

// swapHandler lets the test replace the IdP (key rotation) at one URL.
type swapHandler struct {
	h atomic.Pointer[testidp.SAMLIdP]
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.Load().ServeHTTP(w, r) }

// TestPortalInBrowser is an IT admin's whole visit in headless Chromium:
// no-SAML certificates page, a domain verified against a loopback DNS
// server, an SSO connection set up from metadata and tested for real (a
// success and a failure in plain words), a certificate rotation with a
// sign-in on each side, and a SCIM directory whose token a SCIM client then
// uses. Every page is screenshotted at 1280 and 390 px and checked with
// axe-core.
func TestPortalInBrowser(t *testing.T) {
	chrome := apptest.Chromium(t)
	dnsSrv := startTXT(t)
	sw := &swapHandler{}
	idpSrv := httptest.NewServer(sw)
	t.Cleanup(idpSrv.Close)
	newIdP := func(name string) *testidp.SAMLIdP {
		kp, err := testidp.NewKeyPair(name)
		if err != nil {
			t.Fatal(err)
		}
		idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: idpSrv.URL + "/saml", KeyPair: kp})
		if err != nil {
			t.Fatal(err)
		}
		if err := idp.AddUser(testidp.User{Email: "alice@acme-corp.test", Password: "alice", FirstName: "Alice", LastName: "Liddell", Groups: []string{"engineering"}}); err != nil {
			t.Fatal(err)
		}
		return idp
	}
	idp1, idp2 := newIdP("Acme IdP 2026"), newIdP("Acme IdP 2027")
	sw.h.Store(idp1)

	s := apptest.Start(t, "sqlite", func(c *config.Config) {
		c.DNSResolver = dnsSrv.addr
		c.Portal = config.Portal{Name: "Acme Cloud", AccentColor: "#4f46e5", SupportEmail: "support@acme-cloud.example"}
	})
	org := newOrg(t, s, "Acme Corp")
	ctx := context.Background()
	sdk := workos.NewClient(apptest.APIKey, workos.WithBaseURL(s.URL), workos.WithMaxRetries(0))
	link, err := sdk.AdminPortal().GenerateLink(ctx, &workos.AdminPortalGenerateLinkParams{Organization: org.ID,
		ReturnURL: ptr("https://app.acme-cloud.example/settings")})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, chrome)
	bctx := b.ctx

	// The link opens the menu on a clean URL.
	b.do("open link", chromedp.Navigate(link.Link), chromedp.WaitVisible(`.menu`))
	if loc := b.location(); loc != s.URL+"/portal/" {
		t.Errorf("after the link the address bar shows %q", loc)
	}
	if txt := b.text("footer"); !strings.Contains(txt, "support@acme-cloud.example") {
		t.Errorf("support contact missing from the footer: %q", txt)
	}
	b.shoot("overview")

	// No SAML connection yet: a plain page that offers to set one up.
	b.do("certificates, none", chromedp.Navigate(s.URL+"/portal/certificates"), chromedp.WaitVisible(`a[href="/portal/sso"].btn`))
	if !strings.Contains(b.text("main"), "You have no SAML connection yet") {
		t.Error("certificates page without a SAML connection does not say so")
	}
	b.shoot("certificates-no-saml")

	// Domain verification against the loopback DNS server.
	b.do("add domain", chromedp.Navigate(s.URL+"/portal/domains"), chromedp.WaitVisible(`#domain`),
		chromedp.SendKeys(`#domain`, "acme-corp.test"), chromedp.Click(`form[action="/portal/domains"] button`),
		chromedp.WaitVisible(`code[id^="value-"]`))
	record := strings.TrimSpace(b.text(`code[id^="value-"]`))
	if !strings.HasPrefix(record, "verification_token=") {
		t.Fatalf("TXT value shown = %q", record)
	}
	b.do("check too early", chromedp.Click(`form[action$="/verify"] button`), chromedp.WaitVisible(`.notice-warn`))
	if txt := b.text(".notice-warn"); !strings.Contains(txt, "Record not found") {
		t.Errorf("early check says %q, want the missing record explained", txt)
	}
	b.shoot("domains-pending")
	dnsSrv.set("acme-corp.test", record)
	b.do("check now", chromedp.Click(`form[action$="/verify"] button`), chromedp.WaitVisible(`.notice-ok`))
	if txt := b.text("main"); !strings.Contains(txt, "Domain verified.") || !strings.Contains(txt, "Verified") {
		t.Errorf("after the check: %q", txt)
	}
	b.shoot("domains-verified")

	// SSO: choose the preset, follow the steps, upload the IdP metadata.
	b.do("new connection", chromedp.Navigate(s.URL+"/portal/sso"), chromedp.WaitVisible(`input[value="GenericSAML"]`),
		chromedp.Click(`input[value="GenericSAML"]`), chromedp.SendKeys(`#conn-name`, "Acme Okta"),
		chromedp.Click(`form[action="/portal/sso"] button[type=submit]`), chromedp.WaitVisible(`#acs`))
	b.shoot("sso-setup")
	conn1 := strings.TrimPrefix(strings.SplitN(b.location(), "?", 2)[0], s.URL+"/portal/sso/")
	b.do("upload metadata", chromedp.SetValue(`#md-xml`, string(idp1.MetadataXML())),
		chromedp.Click(`form[enctype="multipart/form-data"] button[type=submit]`), chromedp.WaitVisible(`a[data-test-window]`))
	md, err := s.SSO.SPMetadata(ctx, conn1)
	if err != nil {
		t.Fatal(err)
	}
	for _, idp := range []*testidp.SAMLIdP{idp1, idp2} {
		if _, err := idp.AddServiceProviderMetadata(md); err != nil {
			t.Fatal(err)
		}
	}
	testSignIn := func(conn, shot string) string {
		b.do("test sign-in", chromedp.Navigate(s.URL+"/portal/sso/"+conn+"/test"))
		b.signInAtIdP("alice@acme-corp.test", "alice")
		b.do("test result", chromedp.WaitVisible(`[data-test-result]`))
		if shot != "" {
			b.shoot(shot)
		}
		return b.text("main")
	}
	if txt := testSignIn(conn1, "sso-test-success"); !strings.Contains(txt, "Test sign-in succeeded") || !strings.Contains(txt, "alice@acme-corp.test") || !strings.Contains(txt, "Liddell") {
		t.Errorf("test sign-in result: %q", txt)
	}
	if shown, _ := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector("[data-action=close-window]").offsetParent !== null`)); shown {
		t.Error("the result page offers to close a window that is not a pop-up")
	}
	b.do("connection after test", chromedp.Navigate(s.URL+"/portal/sso/"+conn1), chromedp.WaitVisible(`#last-attempt`))
	if txt := b.text("#last-attempt"); !strings.Contains(txt, "Signed in") {
		t.Errorf("last attempt on the connection page: %q", txt)
	}
	b.shoot("sso-connection")

	// A second connection with the wrong certificate: the test fails, in
	// plain words.
	b.do("second connection", chromedp.Navigate(s.URL+"/portal/sso"), chromedp.WaitVisible(`input[value="GenericSAML"]`),
		chromedp.Click(`input[value="GenericSAML"]`), chromedp.SendKeys(`#conn-name`, "Acme staging"),
		chromedp.Click(`form[action="/portal/sso"] button[type=submit]`), chromedp.WaitVisible(`#acs`))
	conn2 := strings.TrimPrefix(strings.SplitN(b.location(), "?", 2)[0], s.URL+"/portal/sso/")
	b.do("fields", chromedp.Click(`details:nth-of-type(3) summary`), chromedp.WaitVisible(`#f-entity`),
		chromedp.SendKeys(`#f-entity`, idp1.EntityID()), chromedp.SendKeys(`#f-sso`, idp1.SSOURL()),
		chromedp.SetValue(`#f-cert`, shortLivedCert(t, 10)), chromedp.Click(`#f-cert`),
		chromedp.Click(`form:has(#f-entity) button[type=submit]`), chromedp.WaitVisible(`a[data-test-window]`))
	md2, err := s.SSO.SPMetadata(ctx, conn2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idp1.AddServiceProviderMetadata(md2); err != nil {
		t.Fatal(err)
	}
	reason := failure.Catalogue[failure.CertificateUnknown]
	if txt := testSignIn(conn2, "sso-test-failure"); !strings.Contains(txt, "Test sign-in failed") || !strings.Contains(txt, reason.Title) || !strings.Contains(txt, reason.Fix) {
		t.Errorf("failed test sign-in shows %q, want %q and its fix", txt, reason.Title)
	}
	b.do("home activity", chromedp.Navigate(s.URL+"/portal/"), chromedp.WaitVisible(`table`))
	if txt := b.text("table"); !strings.Contains(txt, reason.Title) || !strings.Contains(txt, "Signed in") {
		t.Errorf("recent activity: %q", txt)
	}
	b.shoot("overview-activity")

	// Certificate rotation on the first connection, a sign-in on each side.
	b.do("certificates", chromedp.Navigate(s.URL+"/portal/certificates"), chromedp.WaitVisible(`#`+conn1))
	if txt := b.text(`#` + conn2); !strings.Contains(txt, "days left — renew now") {
		t.Errorf("a certificate expiring in 10 days is not flagged: %q", txt)
	}
	b.shoot("certificates")
	b.do("upload next", chromedp.Click(`#`+conn1+` details summary`), chromedp.WaitVisible(`#pem-`+conn1),
		chromedp.SetValue(`#pem-`+conn1, string(idp2.CertificatePEM())), chromedp.Click(`#pem-`+conn1),
		chromedp.Click(`form[action="/portal/certificates/`+conn1+`"] button[type=submit]`))
	b.waitURL("done=cert-added")
	c1, err := s.SSO.GetFor(ctx, org.ID, conn1)
	if err != nil || len(c1.Certificates) != 2 {
		t.Fatalf("after upload: %v, %d certificates", err, len(c1.Certificates))
	}
	old, next := c1.Certificates[0].Fingerprint, c1.Certificates[1].Fingerprint
	if c1.Certificates[0].Source != "metadata" {
		old, next = next, old
	}
	row := func(fp string) string { return `#` + conn1 + ` tr:has(form[action$="/` + fp + `/delete"])` }
	if txt := b.text(row(old)); !strings.Contains(txt, "Verified a sign-in just now") {
		t.Errorf("the certificate that verified the first sign-in says %q", txt)
	}
	if txt := b.text(row(next)); !strings.Contains(txt, "Not yet used by a sign-in") {
		t.Errorf("the certificate just uploaded says %q", txt)
	}
	sw.h.Store(idp2) // the IdP now signs with its next key
	if txt := testSignIn(conn1, ""); !strings.Contains(txt, "Test sign-in succeeded") {
		t.Errorf("sign-in with the next key during the overlap: %q", txt)
	}
	b.do("certificates after the IdP switched", chromedp.Navigate(s.URL+"/portal/certificates"), chromedp.WaitVisible(`#`+conn1))
	if txt := b.text(row(next) + ` [data-verified="latest"]`); !strings.Contains(txt, "Verified a sign-in just now") || !strings.Contains(txt, "Verified the latest sign-in") {
		t.Errorf("the next certificate does not show it verified the latest sign-in: %q", txt)
	}
	if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#`+conn1+` [data-verified=latest]").length`)); n != 1 {
		t.Errorf("%d certificates claim the latest sign-in", n)
	}
	b.shoot("certificates-rotation")
	b.do("remove old", chromedp.Click(`form[action="/portal/certificates/`+conn1+`/`+old+`/delete"] button`))
	b.waitURL("done=cert-removed")
	if txt := b.text("main"); !strings.Contains(txt, "Certificate removed.") {
		t.Errorf("after removing the old certificate: %q", txt)
	}
	b.shoot("certificates-rotated")
	if txt := testSignIn(conn1, ""); !strings.Contains(txt, "Test sign-in succeeded") {
		t.Errorf("sign-in after the rotation: %q", txt)
	}

	// Directory Sync: a SCIM directory, its token used by a SCIM client.
	b.do("new directory", chromedp.Navigate(s.URL+"/portal/directory-sync"), chromedp.WaitVisible(`input[value="okta scim v2.0"]`),
		chromedp.Click(`input[value="okta scim v2.0"]`), chromedp.Click(`form[action="/portal/directory-sync"] button[type=submit]`),
		chromedp.WaitVisible(`#scim-token`))
	b.shoot("dsync-token")
	token, base := strings.TrimSpace(b.text(`#scim-token`)), strings.TrimSpace(b.text(`#scim-url`))
	scim := func(method, path string, body any) int {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	user := func(userName, given, family, display string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": true,
			"externalId": "00u" + given, "displayName": display, "name": map[string]any{"givenName": given, "familyName": family},
			"emails": []any{map[string]any{"primary": true, "value": userName, "type": "work"}}}
	}
	if st := scim("POST", "/Users", user("jane@acme-corp.test", "Jane", "Doe", "Jane Doe")); st != http.StatusCreated {
		t.Fatalf("SCIM create user: %d", st)
	}
	if st := scim("POST", "/Users", user("mallory@acme-corp.test", "Mallory", "X", `<img src=x onerror=alert(1)>`)); st != http.StatusCreated {
		t.Fatalf("SCIM create user: %d", st)
	}
	if st := scim("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineering"}); st != http.StatusCreated {
		t.Fatalf("SCIM create group: %d", st)
	}
	if st := scim("POST", "/Users", user("jane@acme-corp.test", "Jane", "Doe", "Jane Doe")); st != http.StatusConflict {
		t.Errorf("duplicate SCIM user: %d, want 409", st)
	}
	dirs, err := s.Directories.DirectoriesFor(ctx, org.ID)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("directories: %v %d", err, len(dirs))
	}
	b.do("directory page", chromedp.Navigate(s.URL+"/portal/directory-sync/"+dirs[0].ID), chromedp.WaitVisible(`#users`))
	if txt := b.text("main"); !strings.Contains(txt, "jane@acme-corp.test") || !strings.Contains(txt, "Engineering") ||
		!strings.Contains(txt, "409 failed") || !strings.Contains(txt, "already exists") || !strings.Contains(txt, "<img src=x") {
		t.Errorf("directory page: %q", txt)
	}
	if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#users img").length`)); n != 0 {
		t.Error("a SCIM display name became markup")
	}
	if b.text("#count-active") != "2" {
		t.Errorf("active users count = %q", b.text("#count-active"))
	}
	b.shoot("dsync-users")

}

// TestLogStreamsInBrowser: an IT admin adds an HTTPS log stream pointing at
// a local receiver and tests it (success), adds one whose receiver refuses
// the credentials (the plain failure and its fix), pauses and deletes it.
func TestLogStreamsInBrowser(t *testing.T) {
	chrome := apptest.Chromium(t)
	s := apptest.Start(t, "sqlite", func(c *config.Config) {
		c.Portal = config.Portal{Name: "Acme Cloud", AccentColor: "#4f46e5", SupportEmail: "support@acme-cloud.example"}
	})
	org := newOrg(t, s, "Acme Corp")
	link, err := s.Portal.GenerateLink(context.Background(), portal.LinkInput{Organization: org.ID, Intent: "log_streams"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, chrome)
	bctx := b.ctx
	b.do("open link", chromedp.Navigate(link), chromedp.WaitVisible(`#add-h`))
	if loc := b.location(); loc != s.URL+"/portal/log-streams" {
		t.Errorf("the log_streams intent lands on %q", loc)
	}
	b.shoot("log-streams-empty")

	// Log streams: an HTTPS stream to a local receiver tests fine; one to a
	// receiver that refuses the credentials shows why, and the fix.
	got := make(chan string, 16)
	okSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("Authorization") + " " + string(raw)
	}))
	t.Cleanup(okSink.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	addStream := func(url, header string) {
		b.do("add stream", chromedp.Navigate(s.URL+"/portal/log-streams"), chromedp.WaitVisible(`#add-h`),
			chromedp.Click(`details:has(input[value="GenericHttps"]) summary`), chromedp.WaitVisible(`#ls-GenericHttps-url`),
			chromedp.SendKeys(`#ls-GenericHttps-url`, url), chromedp.SendKeys(`#ls-GenericHttps-header_name`, "Authorization"),
			chromedp.SendKeys(`#ls-GenericHttps-header_value`, header))
		if !b.axed["log-streams-form"] {
			b.shoot("log-streams-form")
		}
		b.do("submit stream", chromedp.Click(`details:has(input[value="GenericHttps"]) button[type=submit]`))
		b.waitURL("done=stream-added")
	}
	addStream(okSink.URL+"/in", "Bearer siem-token-0123456789")
	b.shoot("log-streams-added")
	b.do("test stream", chromedp.Click(`article.item:nth-of-type(1) form[action$="/test"] button`), chromedp.WaitVisible(`[data-test-result]`))
	if txt := b.text(`[data-test-result]`); !strings.Contains(txt, "Test event delivered") {
		t.Errorf("test of a working stream: %q", txt)
	}
	if req := <-got; !strings.HasPrefix(req, "Bearer siem-token-0123456789 ") || !strings.Contains(req, "log_stream.test") {
		t.Errorf("the receiver got %q", req)
	}
	if txt := b.text("main"); strings.Contains(txt, "siem-token-0123456789") || !strings.Contains(txt, "••••6789") {
		t.Errorf("the header value is not masked: %q", txt)
	}
	// Edit the stream: a new path; the header's value is left empty, so it
	// is kept. The page never holds the secret, only its mask.
	first, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("article.item").id`))
	if html, _ := chromedp.Run(bctx, chromedp.OuterHTML("html")); strings.Contains(html, "siem-token-0123456789") {
		t.Error("the page holds the stream's header value")
	}
	ed := "#ed-" + first + "-"
	b.do("open edit", chromedp.Click(`#`+first+` details.edit summary`), chromedp.WaitVisible(ed+`url`))
	if v, _ := chromedp.Run(bctx, chromedp.Value(ed+`header_name`)); v != "Authorization" {
		t.Errorf("the edit form shows header name %q", v)
	}
	if v, _ := chromedp.Run(bctx, chromedp.Value(ed+`header_value`)); v != "" {
		t.Errorf("the edit form fills the header value with %q", v)
	}
	if txt := b.text(ed + `header_value-current`); !strings.Contains(txt, "••••6789") || !strings.Contains(txt, "Leave empty to keep it") {
		t.Errorf("the current header value is described as %q", txt)
	}
	// A refused edit: the field is marked, nothing is saved.
	b.do("bad edit", chromedp.SetValue(ed+`url`, "ftp://collector.example/in"), chromedp.Click(`#`+first+` details.edit button[type=submit]`),
		chromedp.WaitVisible(ed+`url-err`))
	if txt := b.text(ed + `url-err`); !strings.Contains(txt, "is not an absolute http(s) URL") || strings.Contains(txt, "config.") {
		t.Errorf("the refused URL is explained as %q", txt)
	}
	if v, _ := chromedp.Run(bctx, chromedp.Value(ed+`url`)); v != "ftp://collector.example/in" {
		t.Errorf("the refused form lost the typed URL: %q", v)
	}
	b.shoot("log-streams-edit-refused")
	b.do("edit", chromedp.SetValue(ed+`url`, okSink.URL+"/edited"), chromedp.Click(`#`+first+` details.edit button[type=submit]`))
	b.waitURL("done=stream-saved")
	if txt := b.text("#" + first); !strings.Contains(txt, "/edited") && !strings.Contains(txt, strings.TrimPrefix(okSink.URL, "http://")) {
		t.Errorf("after the edit the stream shows %q", txt)
	}
	b.do("open edit again", chromedp.Click(`#`+first+` details.edit summary`), chromedp.WaitVisible(ed+`url`))
	b.shoot("log-streams-edit")
	b.do("test edited stream", chromedp.Click(`#`+first+` form[action$="/test"] button`), chromedp.WaitVisible(`[data-test-result]`))
	if txt := b.text(`[data-test-result]`); !strings.Contains(txt, "Test event delivered") {
		t.Errorf("test of the edited stream: %q", txt)
	}
	if req := <-got; !strings.HasPrefix(req, "Bearer siem-token-0123456789 ") {
		t.Errorf("after the edit the receiver got %q: the header value was not kept", req)
	}
	ls, err := s.LogStreams.Get(context.Background(), org.ID, first)
	if err != nil || ls.JSON().Config["url"] != okSink.URL+"/edited" {
		t.Errorf("stored after the edit: %v %v", err, ls.JSON().Config)
	}
	addStream(refusing.URL+"/in", "Bearer revoked-token")
	b.do("test refused stream", chromedp.Click(`article.item:nth-of-type(2) form[action$="/test"] button`),
		chromedp.WaitVisible(`[data-test-result="failed"]`))
	if txt := b.text(`[data-test-result="failed"]`); !strings.Contains(txt, "refused the credentials") || !strings.Contains(txt, "HTTP 401") ||
		!strings.Contains(txt, "How to fix it") {
		t.Errorf("test of a refused stream: %q", txt)
	}
	b.shoot("log-streams-test-failure")
	b.do("pause", chromedp.Click(`article.item:nth-of-type(2) form[action$="/state"] button`))
	b.waitURL("done=stream-paused")
	if txt := b.text(`article.item:nth-of-type(2)`); !strings.Contains(txt, "Paused") || !strings.Contains(txt, "Resume") {
		t.Errorf("paused stream: %q", txt)
	}
	b.shoot("log-streams")
	b.do("delete", chromedp.Click(`article.item:nth-of-type(2) form[action$="/delete"] button`))
	b.waitURL("done=stream-removed")
	if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("article.item").length`)); n != 1 {
		t.Errorf("after deleting one of two streams %d are listed", n)
	}
}
