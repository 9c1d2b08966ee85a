package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestSSOTestWindowInBrowser clicks "Test sign-in" as an admin does, in
// the portal as a full page and embedded in the host app's iframe: the
// test opens a window of its own, the admin signs in at the IdP there, the
// window shows the result (and offers to close itself), and the portal
// page that opened it reloads to show the attempt.
func TestSSOTestWindowInBrowser(t *testing.T) {
	chrome := apptest.Chromium(t)
	idpSrv := httptest.NewServer(nil)
	t.Cleanup(idpSrv.Close)
	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: idpSrv.URL + "/saml"})
	if err != nil {
		t.Fatal(err)
	}
	idpSrv.Config.Handler = idp
	if err := idp.AddUser(testidp.User{Email: "alice@acme-corp.test", Password: "alice", FirstName: "Alice", LastName: "Liddell"}); err != nil {
		t.Fatal(err)
	}

	// The host app: a settings page that embeds the portal in an iframe,
	// with a link its server makes on each visit.
	var s *apptest.Server
	var orgID string
	var connID string
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		link, err := s.Portal.GenerateLink(r.Context(), portal.LinkInput{Organization: orgID, Intent: "sso"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/settings/sso" { // the session is open: straight to the connection
			link = s.URL + "/portal/sso/" + connID
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Acme Cloud settings</title><h1>Settings</h1>
<iframe src="%s" title="Admin Portal" style="width:100%%;height:800px;border:0"></iframe></html>`, link)
	}))
	t.Cleanup(host.Close)
	s = apptest.Start(t, "sqlite", func(c *config.Config) {
		c.Portal = config.Portal{Name: "Acme Cloud", AccentColor: "#4f46e5", FrameAncestors: []string{host.URL}}
	})
	org := newOrg(t, s, "Acme Corp")
	orgID = org.ID
	ctx := context.Background()
	md, name := string(idp.MetadataXML()), "Acme Okta"
	conn, err := s.SSO.Create(ctx, sso.ConnectionInput{OrganizationID: org.ID, ConnectionType: "GenericSAML", Name: &name,
		SAML: &sso.SAMLInput{IdPMetadataXML: &md}})
	if err != nil || conn.State != "active" {
		t.Fatalf("connection: %v, state %q", err, conn.State)
	}
	connID = conn.ID
	spMD, err := s.SSO.SPMetadata(ctx, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idp.AddServiceProviderMetadata(spMD); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, chrome)

	// signInWindow clicks the test button found with opts, signs in in the
	// window it opens and returns that window's result text; the window
	// is then closed with its own button.
	signInWindow := func(what string, opts ...chromedp.QueryOption) {
		t.Helper()
		// Only a new page: a cross-origin iframe that reloads is a target
		// of its own in Chromium too, and must not be taken for the window.
		opened := chromedp.WaitNewTarget(b.ctx, func(ti *target.Info) bool { return ti.Type == "page" })
		b.do(what+": click test", chromedp.Click(chromedp.CSS(`a[data-test-window]`), opts...))
		var id target.ID
		select {
		case id = <-opened:
		case <-b.ctx.Done():
			t.Fatalf("%s: no window opened", what)
		}
		wctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
		defer cancel()
		w := &browser{t: t, ctx: wctx, dir: b.dir, axed: b.axed}
		w.signInAtIdP("alice@acme-corp.test", "alice")
		w.do(what+": result in the window", chromedp.WaitVisible(`[data-test-result="succeeded"]`))
		if txt := w.text("main"); !strings.Contains(txt, "Test sign-in succeeded") || !strings.Contains(txt, "alice@acme-corp.test") {
			t.Errorf("%s: the window shows %q", what, txt)
		}
		if shown, _ := chromedp.Run(wctx, chromedp.Evaluate[bool](`document.querySelector("[data-action=close-window]").offsetParent !== null`)); !shown {
			t.Errorf("%s: the result window does not offer to close itself", what)
		}
		if !w.axed["sso-test-window"] {
			w.shoot("sso-test-window")
		}
		// Clicked from a script, after this call returns: chromedp's own
		// click can lose track of a window's document after the sign-in's
		// cross-site navigations and then waits for the button forever.
		if _, err := chromedp.Run(wctx, chromedp.Evaluate[bool](`setTimeout(() => document.querySelector("[data-action=close-window]").click(), 0); true`)); err != nil {
			t.Fatalf("%s: close the window: %v", what, err)
		}
		for open := true; open; {
			targets, err := chromedp.Targets(b.ctx)
			if err != nil {
				t.Fatalf("%s: targets: %v", what, err)
			}
			open = false
			for _, ti := range targets {
				open = open || ti.TargetID == id
			}
			select {
			case <-b.ctx.Done():
				t.Fatalf("%s: the window did not close", what)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	// Full page (or pop-up): the connection page opens the test window and
	// reloads when it reports back.
	link, err := s.Portal.GenerateLink(ctx, portal.LinkInput{Organization: org.ID, Intent: "sso"})
	if err != nil {
		t.Fatal(err)
	}
	b.do("open link", chromedp.Navigate(link), chromedp.Navigate(s.URL+"/portal/sso/"+conn.ID), chromedp.WaitVisible(`a[data-test-window]`))
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#last-attempt").length`)); n != 0 {
		t.Fatal("an attempt is shown before the test")
	}
	signInWindow("full page")
	b.do("the page reloaded with the attempt", chromedp.WaitVisible(`#last-attempt`))
	if txt := b.text("#last-attempt"); !strings.Contains(txt, "Signed in") {
		t.Errorf("full page: the last attempt shows %q", txt)
	}

	// Embedded in the host app's iframe: the window's opener is the frame,
	// which reloads to show the attempt.
	frame := func() *chromedp.Node {
		t.Helper()
		nodes, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS("iframe")))
		if err != nil || len(nodes) != 1 {
			t.Fatalf("the host page's iframe: %v (%d)", err, len(nodes))
		}
		return nodes[0]
	}
	// frameLoaded returns a wait for the host page's iframe to load a page
	// whose address contains part (chromedp's view of a frame's document is
	// not refreshed when the frame navigates, so the test watches events
	// and then loads the host page afresh).
	frameLoaded := func(part string) func() {
		loaded := make(chan struct{}, 1)
		lctx, cancel := context.WithCancel(b.ctx)
		chromedp.Listen(lctx, func(ev any) {
			if e, ok := ev.(*page.EventFrameNavigated); ok && e.Frame.ParentID != "" && strings.Contains(e.Frame.URL, part) {
				select {
				case loaded <- struct{}{}:
				default:
				}
			}
		})
		return func() {
			t.Helper()
			defer cancel()
			select {
			case <-loaded:
			case <-b.ctx.Done():
				t.Fatalf("the iframe never loaded %s", part)
			}
		}
	}
	launched := frameLoaded("/portal/sso")
	b.do("host page", chromedp.Navigate(host.URL+"/settings"), chromedp.WaitVisible(`iframe`))
	launched()
	b.do("host page, connection", chromedp.Navigate(host.URL+"/settings/sso"), chromedp.WaitVisible(`iframe`))
	b.do("frame: test button", chromedp.WaitVisible(chromedp.CSS(`a[data-test-window]`), chromedp.FromNode(frame())))
	if n, _ := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll(`#last-attempt`), chromedp.FromNode(frame()), chromedp.AtLeast(0))); len(n) != 1 {
		// The full-page test above left an attempt: the frame shows it.
		t.Errorf("the embedded connection page shows %d last attempts", len(n))
	}
	reloaded := frameLoaded("/portal/sso/" + conn.ID)
	signInWindow("iframe", chromedp.FromNode(frame()))
	reloaded() // the frame, the window's opener, reloaded on the window's message
	b.do("host page again", chromedp.Navigate(host.URL+"/settings/sso"), chromedp.WaitVisible(`iframe`))
	b.do("frame: the attempt", chromedp.WaitVisible(chromedp.CSS(`#last-attempt`), chromedp.FromNode(frame())))
	b.shoot("sso-test-embedded")
	if acts, err := s.SSO.RecentSignIns(ctx, org.ID, 15); err != nil || len(acts) != 2 {
		t.Errorf("sign-ins recorded after a test in each mode: %d (%v), want 2", len(acts), err)
	}
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("iframe").length`)); n != 1 {
		t.Errorf("host page has %d iframes", n)
	}
}
