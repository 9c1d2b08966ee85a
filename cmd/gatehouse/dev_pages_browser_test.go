package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
)

// TestDevPagesFit loads every page a newcomer meets in `gatehouse dev` —
// the demo app, the SAML and OIDC test IdPs, Gatehouse's and the IdPs'
// error pages — in a real Chromium at desktop and phone width, and
// requires that none scrolls sideways. Screenshots of every page are kept
// (artifactDir) for a person to look at.
func TestDevPagesFit(t *testing.T) {
	browser := apptest.Chromium(t)
	base, dir := startDev(t)
	// The demo's login link carries the client ID.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(base + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("client_id") == "" {
		t.Fatalf("demo login redirect %q: %v", res.Header.Get("Location"), err)
	}
	clientID := loc.Query().Get("client_id")
	longURI := "https://customer-app.example.com/auth/sso/callback/with/a/rather/long/path?tenant=acme-corporation-international&return_to=%2Fdashboard%2Fsettings%2Fsecurity"
	authorize := func(v url.Values) string { return base + "/sso/authorize?" + v.Encode() }

	for _, size := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		t.Run(size.name, func(t *testing.T) {
			bctx := newBrowser(t, browser, filepath.Join(dir, "chromium-"+size.name), size.width, size.height, size.mobile)
			shots := apptest.ArtifactDir(t, "")
			// check waits for the page, asserts that it does not overflow
			// sideways and contains want, and keeps a screenshot.
			check := func(name, want string) {
				t.Helper()
				var body string
				for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
					body, _ = chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.textContent : ""`))
					if strings.Contains(body, want) || time.Since(start) > 20*time.Second {
						break
					}
				}
				shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
				if err == nil {
					path := filepath.Join(shots, fmt.Sprintf("%s-%s.png", size.name, name))
					if err := os.WriteFile(path, shot, 0o644); err == nil {
						t.Logf("screenshot: %s", path)
					}
				}
				if !strings.Contains(body, want) {
					t.Fatalf("%s: page lacks %q:\n%s", name, want, body)
				}
				dims, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if dims[1] != int(size.width) {
					t.Fatalf("%s: viewport %d px wide, want %d", name, dims[1], size.width)
				}
				if dims[0] > dims[1] {
					t.Errorf("%s: scrolls sideways: content %d px wide in a %d px window", name, dims[0], dims[1])
				}
			}
			do := func(name string, actions ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				for i, a := range actions {
					if _, err := chromedp.Run(bctx, a); err != nil {
						t.Fatalf("%s step %d: %v", name, i, err)
					}
				}
			}

			do("demo", chromedp.Navigate(base+"/demo/"))
			check("demo-home", "Sign in with SSO")
			do("oidc landing", chromedp.Navigate(base+"/testidp/oidc/"))
			check("testidp-oidc-landing", "OpenID")
			do("saml idp", chromedp.Navigate(base+"/testidp/saml/"))
			check("testidp-saml-login", "Demo accounts")
			do("client error", chromedp.Navigate(authorize(url.Values{"redirect_uri": {longURI}, "response_type": {"code"}})))
			check("sso-error-client-id", "How to fix")
			do("redirect error", chromedp.Navigate(authorize(url.Values{"client_id": {clientID}, "redirect_uri": {longURI}, "response_type": {"code"}})))
			check("sso-error-redirect-uri", "GATEHOUSE_REDIRECT_URIS")
			do("idp error", chromedp.Navigate(base+"/testidp/oidc/authorize?client_id=unknown-client&response_type=code"))
			check("testidp-oidc-error", "Unknown application")

			// A SAML login through the demo, then the callback reloaded.
			do("saml login", chromedp.Navigate(base+"/demo/login"), chromedp.WaitVisible(`#password`))
			check("testidp-saml-login-app", "to continue to")
			do("saml sign in", chromedp.SendKeys(`#email`, "alice@example.com"), chromedp.SendKeys(`#password`, "alice"),
				chromedp.Click(`button.primary`))
			check("demo-profile-saml", "Signed in with SSO")
			do("reload", chromedp.Reload())
			check("demo-callback-reloaded", "already used")
			if _, err := chromedp.Run(bctx, chromedp.WaitVisible(`a[href="/demo/login"]`)); err != nil {
				t.Fatalf("the used-code page has no sign-in link: %v", err)
			}
			do("saml idp home", chromedp.Navigate(base+"/testidp/saml/"))
			check("testidp-saml-home", "Applications")

			// An OIDC login through the demo.
			do("oidc login", chromedp.Navigate(base+"/demo/login?via=oidc"), chromedp.WaitVisible(`#password`))
			check("testidp-oidc-login", "Demo accounts")
			do("oidc sign in", chromedp.SendKeys(`#email`, "bob@example.com"), chromedp.SendKeys(`#password`, "bob"),
				chromedp.Click(`button.primary`))
			check("demo-profile-oidc", "GenericOIDC")
		})
	}
}
