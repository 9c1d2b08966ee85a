package sso_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// redirectURI is the host app's callback in every test; it is never
// fetched, only read from Location headers.
const redirectURI = "https://app.example.com/callback"

var alice = testidp.User{Email: "alice@example.com", Password: "pw", FirstName: "Alice", LastName: "Liddell", Groups: []string{"eng", "admins"}}

// env is one Gatehouse node with an organization and in-process IdPs.
type env struct {
	t      testing.TB
	srv    *apptest.Server
	orgID  string
	client *http.Client // does not follow redirects
}

func backends(t testing.TB) []string { return apptest.Backends(t) }

func newEnv(t testing.TB, backend string, opts ...apptest.Option) *env {
	t.Helper()
	srv := apptest.Start(t, backend, append([]apptest.Option{func(c *config.Config) { c.RedirectURIs = []string{redirectURI} }}, opts...)...)
	e := &env{t: t, srv: srv, client: browserClient(t)}
	var org struct{ ID string }
	e.api("POST", "/organizations", map[string]any{"name": "Example Corp",
		"domain_data": []map[string]string{{"domain": "example.com", "state": "verified"}}}, 201, &org)
	e.orgID = org.ID
	return e
}

// browserClient is an HTTP client that keeps cookies, as a browser does
// (the login cookie set at /sso/authorize), and does not follow redirects.
func browserClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// api sends an authenticated JSON request and decodes the answer.
func (e *env) api(method, path string, body any, wantStatus int, out any) {
	e.t.Helper()
	e.srv.JSON(e.t, method, path, body, wantStatus, out)
}

// samlIdP starts a test SAML IdP on its own listener.
func (e *env) samlIdP(opts testidp.SAMLOptions) *testidp.SAMLIdP {
	e.t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	opts.BaseURL = "http://" + hs.Listener.Addr().String() + "/saml"
	idp, err := testidp.NewSAML(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := idp.AddUser(alice); err != nil {
		e.t.Fatal(err)
	}
	hs.Config.Handler = idp
	hs.Start()
	e.t.Cleanup(hs.Close)
	return idp
}

type connJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
	SAML  struct {
		SPEntityID      string `json:"sp_entity_id"`
		ACSURL          string `json:"acs_url"`
		SPMetadataURL   string `json:"sp_metadata_url"`
		IdPCertificates []struct {
			Fingerprint    string `json:"fingerprint"`
			RetireAt       string `json:"retire_at"`
			LastVerifiedAt string `json:"last_verified_at"`
		} `json:"idp_certificates"`
	} `json:"saml"`
}

// samlConnection creates a SAML connection for idp from its metadata and
// registers our SP at the IdP.
func (e *env) samlConnection(idp *testidp.SAMLIdP, saml map[string]any) connJSON {
	e.t.Helper()
	if saml == nil {
		saml = map[string]any{}
	}
	if _, ok := saml["idp_metadata_url"]; !ok {
		saml["idp_metadata_xml"] = string(idp.MetadataXML())
	}
	var c connJSON
	e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "OktaSAML", "saml": saml}, 201, &c)
	if c.State != "active" {
		e.t.Fatalf("connection state %q, want active", c.State)
	}
	res, err := http.Get(c.SAML.SPMetadataURL)
	if err != nil {
		e.t.Fatal(err)
	}
	md, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		e.t.Fatalf("sp metadata: %d %s", res.StatusCode, md)
	}
	if _, err := idp.AddServiceProviderMetadata(md); err != nil {
		e.t.Fatalf("register SP at IdP: %v", err)
	}
	return c
}

// get fetches a URL without following redirects.
func (e *env) get(u string) *http.Response {
	e.t.Helper()
	res, err := e.client.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// post posts a form without following redirects.
func (e *env) post(u string, v url.Values) *http.Response {
	e.t.Helper()
	res, err := e.client.PostForm(u, v)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

// callback reads the host app's callback parameters from a redirect.
func callback(t testing.TB, res *http.Response) url.Values {
	t.Helper()
	if res.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want 302: %s", res.StatusCode, b)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI) {
		t.Fatalf("redirected to %s, want %s", loc, redirectURI)
	}
	return loc.Query()
}

// lastFailure returns the error code of the newest authentication.sso_failed event.
func (e *env) lastFailure() string {
	e.t.Helper()
	evs, err := e.srv.Store.ListEvents(context.Background(), store.EventFilter{Names: []string{"authentication.sso_failed"}}, 1, true)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(evs) == 0 {
		return ""
	}
	var d struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(evs[0].Data, &d)
	return d.Error.Code
}

func (e *env) countEvents(name string) int {
	e.t.Helper()
	evs, err := e.srv.Store.ListEvents(context.Background(), store.EventFilter{Names: []string{name}}, 1000, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(evs)
}

// expectRejected checks that an ACS or callback answer is a 4xx or an
// error redirect without a code, and that the failure was recorded with
// the wanted code.
func (e *env) expectRejected(t testing.TB, res *http.Response, wantCode string) {
	t.Helper()
	switch {
	case res.StatusCode >= 400 && res.StatusCode < 500:
	case res.StatusCode == http.StatusFound:
		loc, _ := url.Parse(res.Header.Get("Location"))
		if loc.Query().Get("code") != "" {
			t.Fatalf("a code was issued: %s", loc)
		}
		if loc.Query().Get("error") == "" {
			t.Fatalf("redirect without error: %s", loc)
		}
	default:
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want 4xx or error redirect: %s", res.StatusCode, b)
	}
	if got := e.lastFailure(); got != wantCode {
		t.Fatalf("recorded failure %q, want %q", got, wantCode)
	}
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
