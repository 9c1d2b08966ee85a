package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
)

// client is a browser-like HTTP client with an open portal session.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func openPortal(t *testing.T, s *apptest.Server, orgID, intent string) *client {
	t.Helper()
	link, err := s.Portal.GenerateLink(context.Background(), portal.LinkInput{Organization: orgID, Intent: intent})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, base: s.URL, http: &http.Client{Jar: newJar(t)}}
	if res, body := get(t, c.http, link); res.StatusCode != http.StatusOK {
		t.Fatalf("open portal: %d %s", res.StatusCode, body)
	}
	return c
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	res, body := get(c.t, c.http, c.base+path)
	return res.StatusCode, body
}

// post submits a form with the page's CSRF token (csrf "" = none).
func (c *client) post(path string, form url.Values, csrf string) (int, string) {
	c.t.Helper()
	if csrf != "" {
		form.Set("csrf", csrf)
	}
	res, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(b)
}

func (c *client) csrf() string {
	c.t.Helper()
	_, body := c.get("/portal/")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF token on the home page")
	}
	return m[1]
}

// TestEveryPageRenders opens each page of a fresh organization.
func TestEveryPageRenders(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	c := openPortal(t, s, org.ID, "")
	for _, p := range []struct{ path, want string }{
		{"/portal/", "Recent sign-in activity"},
		{"/portal/domains", "Add a domain"},
		{"/portal/certificates", "You have no SAML connection yet"},
		{"/portal/sso", "Choose your identity provider"},
		{"/portal/directory-sync", "Connect your directory"},
		{"/portal/log-streams", "Add a destination"},
	} {
		status, body := c.get(p.path)
		if status != http.StatusOK || !strings.Contains(body, p.want) {
			t.Errorf("%s: %d, want 200 with %q:\n%s", p.path, status, p.want, body)
		}
	}
}

// TestLogStreamForm: the service's field errors show next to the form
// (422, the destination's form open, typed values kept), secrets are never
// echoed back, and a saved stream shows its secrets masked.
func TestLogStreamForm(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	c := openPortal(t, s, org.ID, "")
	csrf := c.csrf()
	const secret = "hec-token-0123456789abcdef"
	status, body := c.post("/portal/log-streams", url.Values{"type": {"Splunk"}, "Splunk.url": {"ftp://splunk.acme.example"},
		"Splunk.token": {secret}, "Splunk.index": {"security"}}, csrf)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("bad URL: %d, want 422", status)
	}
	for _, want := range []string{`class="field-error" id="ls-Splunk-url-err"`, "is not an absolute http(s) URL", `<details open>`, `value="security"`, "was not added"} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	if strings.Contains(body, secret) {
		t.Error("the refused form echoes the token")
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"missing required", url.Values{"type": {"S3"}, "S3.bucket": {"acme-logs"}}, `id="ls-S3-secret_access_key-err"`},
		{"header without value", url.Values{"type": {"GenericHttps"}, "GenericHttps.url": {"https://collector.acme.example"}, "GenericHttps.header_name": {"Authorization"}}, "Give both the header"},
		{"unknown type", url.Values{"type": {"Syslog"}}, "Choose a destination type."},
	} {
		if status, body := c.post("/portal/log-streams", tc.form, csrf); status != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want 422 with %q", tc.name, status, tc.want)
		}
	}
	status, body = c.post("/portal/log-streams", url.Values{"type": {"Splunk"}, "Splunk.url": {"https://splunk.acme.example:8088"},
		"Splunk.token": {secret}, "Splunk.index": {"security"}}, csrf)
	if status != http.StatusOK || !strings.Contains(body, "Log stream added.") || !strings.Contains(body, "••••cdef") {
		t.Fatalf("add: %d\n%.2000s", status, body)
	}
	if strings.Contains(body, secret) {
		t.Error("the stream list shows the token")
	}
}

// TestLogStreamInError: a stream the delivery engine marked as failing
// shows the Error state and its last error (code, plain message with the
// fix); a successful delivery later shows as the last delivery.
func TestLogStreamInError(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	ctx := context.Background()
	ls, err := s.LogStreams.Create(ctx, logstream.CreateInput{OrganizationID: org.ID, Type: logstream.TypeSplunk,
		Config: map[string]json.RawMessage{"url": json.RawMessage(`"https://splunk.acme.example:8088"`), "token": json.RawMessage(`"hec-token-0123456789"`)}})
	if err != nil {
		t.Fatal(err)
	}
	const text = "Splunk refused the credentials (wrong or revoked key or token) (HTTP 403). Check the HEC token."
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	if err := s.Store.RecordLogStreamDelivery(ctx, ls.ID, at, "unauthorized", text); err != nil {
		t.Fatal(err)
	}
	c := openPortal(t, s, org.ID, "log_streams")
	_, body := c.get("/portal/log-streams")
	for _, want := range []string{`pill-bad">Error`, "Last delivery error", "unauthorized", "Check the HEC token.", "4 Mar 2026, 05:06 UTC", "Nothing delivered yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("errored stream: page lacks %q", want)
		}
	}
	if err := s.Store.RecordLogStreamDelivery(ctx, ls.ID, at.Add(time.Hour), "", ""); err != nil {
		t.Fatal(err)
	}
	_, body = c.get("/portal/log-streams")
	if !strings.Contains(body, `pill-ok">Active`) || !strings.Contains(body, "4 Mar 2026, 06:06 UTC") {
		t.Errorf("after a delivery the stream is not active with its last delivery:\n%.3000s", body)
	}
}

// TestFirstRendersAtOnce: the page templates are parsed on the first
// render, so on a fresh node the first pages are rendered by requests that
// arrive together; each must get the whole page (run with -race).
func TestFirstRendersAtOnce(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	org := newOrg(t, s, "Acme")
	const n = 8
	links := make([]string, n)
	for i := range links {
		link, err := s.Portal.GenerateLink(context.Background(), portal.LinkInput{Organization: org.ID})
		if err != nil {
			t.Fatal(err)
		}
		links[i] = link
	}
	errc := make(chan error, n)
	for _, link := range links {
		go func() {
			jar, err := cookiejar.New(nil)
			if err != nil {
				errc <- err
				return
			}
			res, err := (&http.Client{Jar: jar}).Get(link)
			if err != nil {
				errc <- err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err == nil && (res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Recent sign-in activity")) {
				err = fmt.Errorf("%s: %d, want the home page:\n%s", res.Request.URL, res.StatusCode, b)
			}
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
