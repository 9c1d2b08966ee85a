package portal_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	v6portal "github.com/workos/workos-go/v6/pkg/portal"
	"github.com/workos/workos-go/v6/pkg/workos_errors"
	"github.com/workos/workos-go/v7"
)

func ptr[T any](v T) *T { return &v }

func newOrg(t *testing.T, s *apptest.Server, name string) organization.Organization {
	t.Helper()
	o, err := s.Orgs.Create(context.Background(), organization.Input{Name: organization.Optional[string]{Set: true, Value: name}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestGenerateLinkWithSDKs makes links with both official Go SDKs and
// opens them: once, into a session, on a clean URL.
func TestGenerateLinkWithSDKs(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			org := newOrg(t, s, "Acme")
			ctx := context.Background()

			c7 := workos.NewClient(apptest.APIKey, workos.WithBaseURL(s.URL), workos.WithMaxRetries(0))
			intent := workos.GenerateLinkIntentDomainVerification
			res, err := c7.AdminPortal().GenerateLink(ctx, &workos.AdminPortalGenerateLinkParams{
				Organization: org.ID, Intent: &intent, ReturnURL: ptr("https://app.example/settings"),
				SuccessURL: ptr("https://app.example/done"), ItContactEmails: []string{"it@acme.example"},
				IntentOptions: &workos.IntentOptions{DomainVerification: &workos.DomainVerificationIntentOptions{DomainName: ptr("acme.example")}},
			})
			if err != nil {
				t.Fatalf("v7 generate link: %v", err)
			}
			if !strings.HasPrefix(res.Link, s.URL+"/portal/launch?token=") {
				t.Fatalf("link %q is not on the base URL", res.Link)
			}

			c6 := &v6portal.Client{APIKey: apptest.APIKey, Endpoint: s.URL}
			link6, err := c6.GenerateLink(ctx, v6portal.GenerateLinkOpts{Organization: org.ID, Intent: v6portal.SSO})
			if err != nil {
				t.Fatalf("v6 generate link: %v", err)
			}
			if link6 == res.Link || !strings.HasPrefix(link6, s.URL+"/portal/launch?token=") {
				t.Fatalf("v6 link %q", link6)
			}

			// Opening it starts a session and lands on a URL without the token.
			jar := newJar(t)
			cl := noRedirect(jar)
			r1, _ := get(t, cl, res.Link)
			if r1.StatusCode != http.StatusSeeOther || r1.Header.Get("Location") != "/portal/domains" {
				t.Fatalf("open: %d → %q", r1.StatusCode, r1.Header.Get("Location"))
			}
			var ck *http.Cookie
			for _, c := range r1.Cookies() {
				if c.Name == portal.CookieName {
					ck = c
				}
			}
			if ck == nil || !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/portal" {
				t.Fatalf("cookie over http = %+v, want HttpOnly, Lax, not Secure, Path=/portal", ck)
			}
			tok, _ := url.Parse(res.Link)
			if strings.Contains(ck.Value, tok.Query().Get("token")) {
				t.Fatal("the session cookie reuses the link token")
			}
			r2, body := get(t, cl, s.URL+"/portal/")
			if r2.StatusCode != http.StatusOK || !strings.Contains(body, "Acme") {
				t.Fatalf("home: %d %s", r2.StatusCode, body)
			}
			if csp := r2.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP = %q", csp)
			}

			// The session lives in the database: the raw token is not stored.
			if _, err := s.Store.GetPortalSession(ctx, []byte(ck.Value)); err == nil {
				t.Error("session stored under its raw token")
			}

			// Every intent opens a page of the portal, never a dead end.
			for _, intent := range portal.Intents {
				l, err := s.Portal.GenerateLink(ctx, portal.LinkInput{Organization: org.ID, Intent: intent})
				if err != nil {
					t.Fatal(err)
				}
				res, body := get(t, &http.Client{Jar: newJar(t)}, l)
				if res.StatusCode != http.StatusOK || !strings.Contains(body, `<main id="main"`) || !strings.HasPrefix(res.Request.URL.Path, "/portal/") {
					t.Errorf("intent %s lands on %s: %d", intent, res.Request.URL, res.StatusCode)
				}
			}

			// Used once.
			r3, body := get(t, noRedirect(newJar(t)), res.Link)
			if r3.StatusCode != http.StatusNotFound || !strings.Contains(body, "already been used") || strings.Contains(body, "Acme") {
				t.Errorf("second use: %d %s", r3.StatusCode, body)
			}
		})
	}
}

// TestLinkRefusals: expired links, unknown tokens and no session each get
// a friendly page, never a session.
func TestLinkRefusals(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	past := &portal.Service{Store: s.Store, Orgs: s.Orgs, BaseURL: s.URL, Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }}
	old, err := past.GenerateLink(context.Background(), portal.LinkInput{Organization: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		url    string
		status int
		text   string
	}{
		{"expired link", old, http.StatusGone, "This link has expired"},
		{"unknown token", s.URL + "/portal/launch?token=nope", http.StatusNotFound, "already been used"},
		{"no token", s.URL + "/portal/launch", http.StatusNotFound, "already been used"},
		{"page without a session", s.URL + "/portal/", http.StatusUnauthorized, "Your session has ended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, noRedirect(newJar(t)), tc.url)
			if res.StatusCode != tc.status || !strings.Contains(body, tc.text) || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%d %q, want %d with %q", res.StatusCode, body, tc.status, tc.text)
			}
			for _, c := range res.Cookies() {
				if c.Name == portal.CookieName && c.MaxAge >= 0 {
					t.Errorf("a session cookie was set: %+v", c)
				}
			}
		})
	}
}

// TestGenerateLinkValidation: bad input is a 422 naming the field; an
// unknown organization a 404, through the SDK's typed errors.
func TestGenerateLinkValidation(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	many := make([]string, 21)
	for i := range many {
		many[i] = "a@b.example"
	}
	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"no organization", `{}`, "organization"},
		{"unknown intent", `{"organization":"` + org.ID + `","intent":"billing"}`, "intent"},
		{"relative return url", `{"organization":"` + org.ID + `","return_url":"/settings"}`, "return_url"},
		{"javascript success url", `{"organization":"` + org.ID + `","success_url":"javascript:alert(1)"}`, "success_url"},
		{"bad contact", `{"organization":"` + org.ID + `","it_contact_emails":["not an email"]}`, "it_contact_emails"},
		{"too many contacts", `{"organization":"` + org.ID + `","admin_emails":["` + strings.Join(many, `","`) + `"]}`, "it_contact_emails"},
		{"unknown provider", `{"organization":"` + org.ID + `","intent":"sso","intent_options":{"sso":{"provider_type":"Nope"}}}`, "intent_options.sso.provider_type"},
		{"bad domain", `{"organization":"` + org.ID + `","intent_options":{"domain_verification":{"domain_name":"not a domain"}}}`, "intent_options.domain_verification.domain_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Do(t, "POST", "/portal/generate_link", strings.NewReader(tc.body))
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"`+tc.field+`"`) {
				t.Errorf("%d %s, want 422 naming %s", res.StatusCode, b, tc.field)
			}
		})
	}
	c7 := workos.NewClient(apptest.APIKey, workos.WithBaseURL(s.URL), workos.WithMaxRetries(0))
	_, err := c7.AdminPortal().GenerateLink(context.Background(), &workos.AdminPortalGenerateLinkParams{Organization: "org_01HNOPE"})
	if _, ok := err.(*workos.NotFoundError); !ok {
		t.Errorf("unknown organization: %T %v, want NotFoundError", err, err)
	}
	c6 := &v6portal.Client{APIKey: apptest.APIKey, Endpoint: s.URL}
	_, err = c6.GenerateLink(context.Background(), v6portal.GenerateLinkOpts{Organization: org.ID, Intent: "billing"})
	if he, ok := err.(workos_errors.HTTPError); !ok || he.Code != http.StatusUnprocessableEntity {
		t.Errorf("v6 bad intent: %T %v, want a 422 HTTPError", err, err)
	}
	// Without an API key the route refuses.
	res, err := http.Post(s.URL+"/portal/generate_link", "application/json", strings.NewReader(`{"organization":"`+org.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no API key: %d", res.StatusCode)
	}
}

// TestCookieUnderHTTPS: behind https the cookie is Secure and
// SameSite=None, so the portal works in the host app's iframe.
func TestCookieUnderHTTPS(t *testing.T) {
	s := apptest.Start(t, "sqlite", func(c *config.Config) { c.BaseURL = strings.Replace(c.BaseURL, "http://", "https://", 1) })
	org := newOrg(t, s, "Acme")
	link, err := s.Portal.GenerateLink(context.Background(), portal.LinkInput{Organization: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	link = strings.Replace(link, "https://", "http://", 1) // the test server itself speaks plain http
	res, _ := get(t, noRedirect(nil), link)
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == portal.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteNoneMode {
		t.Fatalf("cookie under https = %+v, want Secure, HttpOnly, SameSite=None", ck)
	}
	if strings.Contains(res.Header.Get("Location"), "token") {
		t.Errorf("redirect keeps the token: %q", res.Header.Get("Location"))
	}
}
