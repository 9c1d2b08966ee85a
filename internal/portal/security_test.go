package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// fixture is an organization with one of everything the portal manages.
type fixture struct {
	org    organization.Organization
	domain string // domain ID
	name   string // the domain name
	conn   sso.Connection
	dir    string
	token  string // the directory token's ID
	stream string // a log stream's ID
}

func setUp(t *testing.T, s *apptest.Server, name, connName string) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{org: newOrg(t, s, name), name: strings.ToLower(name) + ".example"}
	d, err := s.Orgs.CreateDomain(ctx, f.org.ID, f.name)
	if err != nil {
		t.Fatal(err)
	}
	f.domain = d.ID
	kp, err := testidp.NewKeyPair("IdP of " + name)
	if err != nil {
		t.Fatal(err)
	}
	kp2, err := testidp.NewKeyPair("next IdP key of " + name)
	if err != nil {
		t.Fatal(err)
	}
	entity, ssoURL := "https://idp."+f.name+"/<b>entity</b>", "https://idp."+f.name+"/sso"
	f.conn, err = s.SSO.Create(ctx, sso.ConnectionInput{OrganizationID: f.org.ID, ConnectionType: "GenericSAML", Name: &connName,
		SAML: &sso.SAMLInput{IdPEntityID: &entity, IdPSSOURL: &ssoURL, IdPCertificates: []string{string(kp.CertificatePEM()), string(kp2.CertificatePEM())}}})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.Directories.Create(ctx, directory.CreateInput{OrganizationID: f.org.ID, Type: "okta scim v2.0", Name: name + " <i>Okta</i>"})
	if err != nil {
		t.Fatal(err)
	}
	f.dir = dir.ID
	tok, err := s.Directories.CreateToken(ctx, dir.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok.ID
	ls, err := s.LogStreams.Create(ctx, logstream.CreateInput{OrganizationID: f.org.ID, Type: logstream.TypeGenericHTTPS,
		Config: map[string]json.RawMessage{"url": json.RawMessage(`"http://127.0.0.1:9/` + strings.ToLower(name) + `"`)}})
	if err != nil {
		t.Fatal(err)
	}
	f.stream = ls.ID
	return f
}

// TestOrganizationIsolation walks every portal route with organization
// A's session against organization B's objects: each is refused as not
// found, and B is unchanged. A route this test does not know fails it, so
// a new route must say how it is scoped.
func TestOrganizationIsolation(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			a := setUp(t, s, "Alpha", "Alpha SSO")
			bb := setUp(t, s, "Bravo", "Bravo SSO")
			c := openPortal(t, s, a.org.ID, "")
			csrf := c.csrf()
			pem := string(mustKey(t).CertificatePEM())

			// Routes that name an object: B's object must be not found.
			byID := map[string]struct {
				path string
				form url.Values
			}{
				"POST /portal/domains/{id}/verify":                      {"/portal/domains/" + bb.domain + "/verify", url.Values{}},
				"POST /portal/domains/{id}/delete":                      {"/portal/domains/" + bb.domain + "/delete", url.Values{}},
				"POST /portal/certificates/{conn}":                      {"/portal/certificates/" + bb.conn.ID, url.Values{"certificate": {pem}}},
				"POST /portal/certificates/{conn}/{fingerprint}/delete": {"/portal/certificates/" + bb.conn.ID + "/" + bb.conn.Certificates[0].Fingerprint + "/delete", url.Values{}},
				"GET /portal/sso/{id}":                                  {"/portal/sso/" + bb.conn.ID, nil},
				"POST /portal/sso/{id}":                                 {"/portal/sso/" + bb.conn.ID, url.Values{"source": {"fields"}, "idp_entity_id": {"https://evil.example"}}},
				"POST /portal/sso/{id}/state":                           {"/portal/sso/" + bb.conn.ID + "/state", url.Values{"state": {"inactive"}}},
				"GET /portal/sso/{id}/test":                             {"/portal/sso/" + bb.conn.ID + "/test", nil},
				"GET /portal/directory-sync/{id}":                       {"/portal/directory-sync/" + bb.dir, nil},
				"POST /portal/directory-sync/{id}/token":                {"/portal/directory-sync/" + bb.dir + "/token", url.Values{}},
				"POST /portal/directory-sync/{id}/sync":                 {"/portal/directory-sync/" + bb.dir + "/sync", url.Values{}},
				"POST /portal/log-streams/{id}":                         {"/portal/log-streams/" + bb.stream, url.Values{"url": {"http://127.0.0.1:9/alpha-owns-this"}}},
				"POST /portal/log-streams/{id}/test":                    {"/portal/log-streams/" + bb.stream + "/test", url.Values{}},
				"POST /portal/log-streams/{id}/state":                   {"/portal/log-streams/" + bb.stream + "/state", url.Values{"state": {"inactive"}}},
				"POST /portal/log-streams/{id}/delete":                  {"/portal/log-streams/" + bb.stream + "/delete", url.Values{}},
				// A state made for B's connection by A's session is still A's:
				// the code it carries must belong to A's organization.
				"GET " + sso.PortalTestCallbackPath: {sso.PortalTestCallbackPath + "?state=" + bb.conn.ID + ".forged&code=x", nil},
			}
			// Routes scoped by the session alone: they must show none of B.
			bySession := map[string]struct {
				path string
				form url.Values
			}{
				"GET /portal/{$}":             {"/portal/", nil},
				"GET /portal/domains":         {"/portal/domains", nil},
				"POST /portal/domains":        {"/portal/domains", url.Values{"domain": {"alpha-two.example"}}},
				"GET /portal/certificates":    {"/portal/certificates", nil},
				"GET /portal/sso":             {"/portal/sso", nil},
				"POST /portal/sso":            {"/portal/sso", url.Values{"connection_type": {"OktaSAML"}}},
				"POST /portal/sso/policy":     {"/portal/sso/policy", url.Values{"policy": {"optional"}}},
				"GET /portal/directory-sync":  {"/portal/directory-sync", nil},
				"POST /portal/directory-sync": {"/portal/directory-sync", url.Values{"type": {"generic scim v2.0"}}},
				"GET /portal/log-streams":     {"/portal/log-streams", nil},
				"POST /portal/log-streams":    {"/portal/log-streams", url.Values{"type": {"GenericHttps"}, "GenericHttps.url": {"http://127.0.0.1:9/two"}}},
			}
			// Routes with no organization data at all.
			public := map[string]bool{
				"POST /portal/generate_link": true, "GET /portal/launch": true, "GET /portal/static/": true,
				"GET /portal/brand.css": true, "POST /portal/sign-out": true,
			}
			bMarkers := []string{"Bravo", bb.name, bb.conn.ID, bb.dir, bb.domain, bb.stream, "/bravo"}
			seen := 0
			for _, r := range s.Routes() {
				if !strings.Contains(r.Pattern, " /portal/") {
					continue
				}
				seen++
				method, _, _ := strings.Cut(r.Pattern, " ")
				if tc, ok := byID[r.Pattern]; ok {
					var status int
					var body string
					if method == "GET" {
						status, body = c.get(tc.path)
					} else {
						status, body = c.post(tc.path, tc.form, csrf)
					}
					if status != http.StatusNotFound {
						t.Errorf("%s on B's object: %d, want 404:\n%.400s", r.Pattern, status, body)
					}
					for _, m := range bMarkers[:2] {
						if strings.Contains(body, m) {
							t.Errorf("%s shows B's %q", r.Pattern, m)
						}
					}
					continue
				}
				if tc, ok := bySession[r.Pattern]; ok {
					var body string
					if method == "GET" {
						_, body = c.get(tc.path)
					} else {
						_, body = c.post(tc.path, tc.form, csrf)
					}
					for _, m := range bMarkers {
						if strings.Contains(body, m) {
							t.Errorf("%s shows B's %q", r.Pattern, m)
						}
					}
					continue
				}
				if !public[r.Pattern] {
					t.Errorf("route %s is not covered by the isolation test", r.Pattern)
				}
			}
			if seen < len(byID)+len(bySession) {
				t.Errorf("only %d portal routes registered", seen)
			}

			// B is unchanged.
			ctx := context.Background()
			if _, err := s.Orgs.DomainFor(ctx, bb.org.ID, bb.domain); err != nil {
				t.Errorf("B's domain: %v", err)
			}
			conn, err := s.SSO.GetFor(ctx, bb.org.ID, bb.conn.ID)
			if err != nil || conn.State != "active" || len(conn.Certificates) != 2 || conn.SAML.IdPEntityID != bb.conn.SAML.IdPEntityID {
				t.Errorf("B's connection changed: %v %+v", err, conn)
			}
			toks, err := s.Directories.Tokens(ctx, bb.dir)
			if err != nil || len(toks) != 1 || toks[0].ID != bb.token {
				t.Errorf("B's directory tokens changed: %v %+v", err, toks)
			}
			if ls, err := s.LogStreams.Get(ctx, bb.org.ID, bb.stream); err != nil || ls.State != "active" || strings.Contains(fmt.Sprint(ls.JSON().Config), "alpha-owns-this") {
				t.Errorf("B's log stream changed: %v %+v", err, ls.LogStream)
			}
		})
	}
}

func mustKey(t *testing.T) *testidp.KeyPair {
	t.Helper()
	kp, err := testidp.NewKeyPair("another IdP key")
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// TestCSRF: every POST without the session's form token, or with another
// session's, is refused and changes nothing.
func TestCSRF(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	a := setUp(t, s, "Alpha", "Alpha SSO")
	c := openPortal(t, s, a.org.ID, "")
	other := openPortal(t, s, a.org.ID, "").csrf() // a valid token of another session
	for _, r := range s.Routes() {
		if !strings.HasPrefix(r.Pattern, "POST /portal/") || r.Pattern == "POST /portal/generate_link" {
			continue
		}
		path := strings.NewReplacer("{id}", a.domain, "{conn}", a.conn.ID, "{fingerprint}", a.conn.Certificates[0].Fingerprint).
			Replace(strings.TrimPrefix(r.Pattern, "POST "))
		if strings.HasPrefix(path, "/portal/sso/") {
			path = strings.Replace(path, a.domain, a.conn.ID, 1)
		}
		if strings.HasPrefix(path, "/portal/directory-sync/") {
			path = strings.Replace(path, a.domain, a.dir, 1)
		}
		if strings.HasPrefix(path, "/portal/log-streams/") {
			path = strings.Replace(path, a.domain, a.stream, 1)
		}
		for _, tc := range []struct{ name, token string }{{"no token", ""}, {"another session's token", other}, {"garbage", "x"}} {
			status, body := c.post(path, url.Values{"domain": {"csrf.example"}, "state": {"inactive"}}, tc.token)
			if status != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
				t.Errorf("%s with %s: %d, want 403", r.Pattern, tc.name, status)
			}
		}
	}
	ctx := context.Background()
	if _, err := s.Orgs.DomainFor(ctx, a.org.ID, a.domain); err != nil {
		t.Errorf("domain deleted without a CSRF token: %v", err)
	}
	if conn, _ := s.SSO.GetFor(ctx, a.org.ID, a.conn.ID); conn.State != "active" || len(conn.Certificates) != 2 {
		t.Errorf("connection changed without a CSRF token: %+v", conn)
	}
	if ls, err := s.LogStreams.Get(ctx, a.org.ID, a.stream); err != nil || ls.State != "active" {
		t.Errorf("log stream changed without a CSRF token: %v %+v", err, ls.LogStream)
	}
	if status, _ := c.get("/portal/sign-out"); status == http.StatusOK {
		t.Errorf("GET sign-out: %d, want a refusal", status)
	}
}

// TestHTMLIsEscaped: names and IdP values an admin or IdP typed are shown
// as text, never markup.
func TestHTMLIsEscaped(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	a := setUp(t, s, "Alpha", `<img src=x onerror=alert(1)>`)
	c := openPortal(t, s, a.org.ID, "")
	for _, p := range []string{"/portal/sso", "/portal/sso/" + a.conn.ID, "/portal/certificates", "/portal/directory-sync", "/portal/directory-sync/" + a.dir} {
		_, body := c.get(p)
		for _, raw := range []string{"<img src=x", "<b>entity</b>", "<i>Okta</i>"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s contains raw %q", p, raw)
			}
		}
	}
	if _, body := c.get("/portal/sso/" + a.conn.ID); !strings.Contains(body, "&lt;b&gt;entity&lt;/b&gt;") {
		t.Error("the IdP entity ID is not shown escaped")
	}
}
