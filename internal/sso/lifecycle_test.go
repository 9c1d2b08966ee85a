package sso_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/job"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestCertificateRotation: old and new IdP certificates are both accepted
// during the overlap; once the old one is removed its signatures fail.
func TestCertificateRotation(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			oldKey := idp.KeyPair()
			newKey := must[*testidp.KeyPair](t)(testidp.NewKeyPair("rotated"))
			login := func(key *testidp.KeyPair, omitKeyInfo bool) *http.Response {
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice,
					SigningKey: key, OmitKeyInfo: omitKeyInfo}))
				return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
			}
			ok := func(res *http.Response) {
				t.Helper()
				if q := callback(t, res); q.Get("code") == "" {
					t.Fatalf("refused: %v", q)
				}
			}
			// Before: the new key is unknown.
			e.rejects(t, func() *http.Response { return login(newKey, false) }, "certificate_unknown")

			var cert struct{ Fingerprint string }
			e.api("POST", "/connections/"+conn.ID+"/certificates", map[string]string{"certificate": string(newKey.CertificatePEM())}, 201, &cert)
			// Overlap: both work, with and without KeyInfo.
			ok(login(oldKey, false))
			ok(login(newKey, false))
			ok(login(oldKey, true))
			ok(login(newKey, true))

			var c connJSON
			e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
			if len(c.SAML.IdPCertificates) != 2 {
				t.Fatalf("%d certificates", len(c.SAML.IdPCertificates))
			}
			for _, x := range c.SAML.IdPCertificates {
				if x.Fingerprint != cert.Fingerprint {
					e.api("DELETE", "/connections/"+conn.ID+"/certificates/"+x.Fingerprint, nil, 204, nil)
				}
			}
			// After: the old key is refused, the new one works.
			e.rejects(t, func() *http.Response { return login(oldKey, false) }, "certificate_unknown")
			e.rejects(t, func() *http.Response { return login(oldKey, true) }, "signature_invalid")
			ok(login(newKey, true))

			// Removing the last certificate sends the connection back to draft.
			e.api("DELETE", "/connections/"+conn.ID+"/certificates/"+cert.Fingerprint, nil, 204, nil)
			e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
			if c.State != "draft" || e.countEvents("connection.deactivated") != 1 {
				t.Fatalf("state %s, %d deactivated events", c.State, e.countEvents("connection.deactivated"))
			}
		})
	}
}

// TestConnectionLifecycle covers creation from fields, the state machine
// and its events, the presets, and deletion.
func TestConnectionLifecycle(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			var c connJSON
			e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "AzureSAML", "name": "Entra"}, 201, &c)
			if c.State != "draft" {
				t.Fatalf("state %s", c.State)
			}
			e.api("PUT", "/connections/"+c.ID, map[string]any{"state": "active"}, 422, nil)
			e.api("PUT", "/connections/"+c.ID, map[string]any{"saml": map[string]any{"idp_entity_id": idp.EntityID(),
				"idp_sso_url": idp.SSOURL(), "idp_certificates": []string{string(idp.CertificatePEM())}}}, 200, &c)
			if c.State != "active" {
				t.Fatalf("after fields: %s", c.State)
			}
			e.api("PUT", "/connections/"+c.ID, map[string]any{"state": "inactive"}, 200, &c)
			e.api("PUT", "/connections/"+c.ID, map[string]any{"state": "active"}, 200, &c)
			if e.countEvents("connection.activated") != 2 || e.countEvents("connection.deactivated") != 1 {
				t.Fatalf("events: %d activated, %d deactivated", e.countEvents("connection.activated"), e.countEvents("connection.deactivated"))
			}
			var presets struct {
				Data []struct {
					Type       string   `json:"connection_type"`
					SetupSteps []string `json:"setup_steps"`
				}
			}
			e.api("GET", "/connection_presets", nil, 200, &presets)
			if len(presets.Data) < 13 {
				t.Fatalf("%d presets", len(presets.Data))
			}
			for _, p := range presets.Data {
				if len(p.SetupSteps) == 0 {
					t.Fatalf("preset %s has no steps", p.Type)
				}
			}
			var got map[string]any
			e.api("GET", "/connections/"+c.ID, nil, 200, &got)
			steps, _ := got["setup_steps"].([]any)
			if len(steps) == 0 || !strings.Contains(strings.Join(toStrings(steps), " "), c.SAML.ACSURL) {
				t.Fatalf("setup steps do not name the ACS URL: %v", steps)
			}
			e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "NopeSAML"}, 422, nil)
			e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "OktaSAML",
				"saml": map[string]any{"idp_metadata_xml": "<not-metadata/>"}}, 422, nil)
			e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "OktaSAML",
				"saml": map[string]any{"idp_metadata_xml": `<!DOCTYPE x [<!ENTITY a "b">]><x/>`}}, 422, nil)
			e.api("DELETE", "/connections/"+c.ID, nil, 204, nil)
			e.api("GET", "/connections/"+c.ID, nil, 404, nil)
			if e.countEvents("connection.deleted") != 1 {
				t.Fatal("no connection.deleted event")
			}
		})
	}
}

func toStrings(xs []any) []string {
	var out []string
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestMetadataURLGuard: metadata URLs on private addresses are refused
// unless GATEHOUSE_ALLOW_PRIVATE_TARGETS is on; when allowed, the metadata
// is fetched and the connection activates.
func TestMetadataURLGuard(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		srv := apptest.Start(t, "sqlite", func(c *config.Config) { c.AllowPrivateTargets = false })
		e := &env{t: t, srv: srv}
		var org struct{ ID string }
		e.api("POST", "/organizations", map[string]any{"name": "X"}, 201, &org)
		idp := e.samlIdP(testidp.SAMLOptions{})
		for _, u := range []string{idp.MetadataURL(), "http://169.254.169.254/latest/meta-data", "http://localhost:1/x", "file:///etc/passwd"} {
			e.api("POST", "/connections", map[string]any{"organization_id": org.ID, "connection_type": "GenericSAML",
				"saml": map[string]any{"idp_metadata_url": u}}, 422, nil)
		}
		e.api("POST", "/connections", map[string]any{"organization_id": org.ID, "connection_type": "GenericOIDC",
			"oidc": map[string]any{"issuer": "http://127.0.0.1:9/", "client_id": "x"}}, 422, nil)
	})
	t.Run("allowed", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		idp := e.samlIdP(testidp.SAMLOptions{})
		c := e.samlConnection(idp, map[string]any{"idp_metadata_url": idp.MetadataURL()})
		if c.State != "active" {
			t.Fatalf("state %s", c.State)
		}
	})
}

// TestTokenStyles: /sso/token accepts form, JSON and query styles and
// answers OAuth errors; PKCE from the host app is enforced.
func TestTokenStyles(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, nil)
	code := func(extra url.Values) string {
		t.Helper()
		v := url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "connection": {conn.ID}}
		for k, vs := range extra {
			v[k] = vs
		}
		res := e.get(e.srv.URL + "/sso/authorize?" + v.Encode())
		form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(res.Header.Get("Location"), alice.Email))
		return callback(t, e.post(form.URL, form.Values())).Get("code")
	}
	send := func(body, ctype, query, bearer string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/sso/token"+query, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &m)
		return res.StatusCode, m
	}
	creds := url.Values{"client_id": {e.srv.ClientID}, "client_secret": {apptest.APIKey}, "grant_type": {"authorization_code"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name       string
		send       func() (int, map[string]any)
		wantStatus int
		wantError  string
	}{
		{"form", func() (int, map[string]any) {
			return send(with(creds, "code", code(nil)).Encode(), "application/x-www-form-urlencoded", "", "")
		}, 200, ""},
		{"json", func() (int, map[string]any) {
			b, _ := json.Marshal(map[string]string{"client_id": e.srv.ClientID, "client_secret": apptest.APIKey, "grant_type": "authorization_code", "code": code(nil)})
			return send(string(b), "application/json", "", "")
		}, 200, ""},
		{"query and bearer", func() (int, map[string]any) {
			return send("", "application/json", "?"+with(url.Values{"client_id": {e.srv.ClientID}, "grant_type": {"authorization_code"}}, "code", code(nil)).Encode(), apptest.APIKey)
		}, 200, ""},
		{"wrong secret", func() (int, map[string]any) {
			return send(with(creds, "code", code(nil), "client_secret", "sk_wrong").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_client"},
		{"wrong client_id", func() (int, map[string]any) {
			return send(with(creds, "code", code(nil), "client_id", "client_x").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_client"},
		{"unknown code", func() (int, map[string]any) {
			return send(with(creds, "code", "nope").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_grant"},
		{"wrong grant type", func() (int, map[string]any) {
			return send(with(creds, "code", "x", "grant_type", "password").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "unsupported_grant_type"},
		{"pkce ok", func() (int, map[string]any) {
			sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier"))
			c := code(url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}})
			return send(with(creds, "code", c, "code_verifier", "verifier-verifier-verifier-verifier-verifier").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 200, ""},
		{"pkce wrong verifier", func() (int, map[string]any) {
			sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier"))
			c := code(url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}})
			return send(with(creds, "code", c, "code_verifier", "another").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_grant"},
		{"pkce wrong verifier uses the code up", func() (int, map[string]any) {
			sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier"))
			c := code(url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}})
			if status, _ := send(with(creds, "code", c, "code_verifier", "another").Encode(), "application/x-www-form-urlencoded", "", ""); status != 400 {
				return status, nil
			}
			return send(with(creds, "code", c, "code_verifier", "verifier-verifier-verifier-verifier-verifier").Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_grant"},
		{"a code is redeemed once", func() (int, map[string]any) {
			c := code(nil)
			if status, _ := send(with(creds, "code", c).Encode(), "application/x-www-form-urlencoded", "", ""); status != 200 {
				return status, nil
			}
			return send(with(creds, "code", c).Encode(), "application/x-www-form-urlencoded", "", "")
		}, 400, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := c.send()
			if status != c.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, c.wantStatus, body)
			}
			if c.wantError != "" && body["error"] != c.wantError {
				t.Fatalf("error %v, want %s", body["error"], c.wantError)
			}
			if c.wantStatus == 200 && (body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"] != float64(600)) {
				t.Fatalf("token response %v", body)
			}
		})
	}
	t.Run("profile without token", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/sso/profile", nil)
		req.Header.Set("Authorization", "Bearer nope")
		res, _ := http.DefaultClient.Do(req)
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

// TestPolicyAndRedirectURIs covers PUT …/sso_policy, GET /sso/policy and
// the redirect URI allow-list API.
func TestPolicyAndRedirectURIs(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			var bare struct{ ID string }
			e.api("POST", "/organizations", map[string]any{"name": "No SSO"}, 201, &bare)
			e.api("PUT", "/organizations/"+bare.ID+"/sso_policy", map[string]string{"policy": "required"}, 422, nil)
			e.api("PUT", "/organizations/"+bare.ID+"/sso_policy", map[string]string{"policy": "sometimes"}, 422, nil)
			e.api("GET", "/sso/policy?email=bob@nowhere.example", nil, 404, nil)

			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			var p struct {
				OrganizationID string  `json:"organization_id"`
				ConnectionID   *string `json:"connection_id"`
				Policy         string  `json:"policy"`
			}
			e.api("GET", "/sso/policy?email=Bob@Example.com", nil, 200, &p)
			if p.Policy != "optional" || p.OrganizationID != e.orgID || p.ConnectionID == nil || *p.ConnectionID != conn.ID {
				t.Fatalf("policy %+v", p)
			}
			e.api("PUT", "/organizations/"+e.orgID+"/sso_policy", map[string]string{"policy": "required"}, 200, &p)
			e.api("GET", "/sso/policy?email=bob@example.com", nil, 200, &p)
			if p.Policy != "required" {
				t.Fatalf("policy %+v", p)
			}

			var r struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Default bool   `json:"default"`
			}
			e.api("POST", "/redirect_uris", map[string]any{"uri": "https://app2.example.com/cb", "default": true}, 201, &r)
			if r.Object != "redirect_uri" || !r.Default {
				t.Fatalf("redirect uri %+v", r)
			}
			e.api("POST", "/redirect_uris", map[string]any{"uri": "https://app2.example.com/cb"}, 409, nil)
			e.api("POST", "/redirect_uris", map[string]any{"uri": "javascript:alert(1)"}, 422, nil)
			var list struct{ Data []struct{ URI string } }
			e.api("GET", "/redirect_uris", nil, 200, &list)
			if len(list.Data) != 1 {
				t.Fatalf("list %+v", list)
			}
			// The new URI is allowed at /sso/authorize, and receives IdP-initiated logins.
			res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
				"redirect_uri": {"https://app2.example.com/cb"}, "organization": {e.orgID}}.Encode())
			if res.StatusCode != 302 || !strings.HasPrefix(res.Header.Get("Location"), idp.SSOURL()) {
				t.Fatalf("authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			form := must[*testidp.PostForm](t)(idp.IdPInitiatedLogin(conn.SAML.SPEntityID, alice.Email, ""))
			res = e.post(form.URL, form.Values())
			if !strings.HasPrefix(res.Header.Get("Location"), "https://app2.example.com/cb?code=") {
				t.Fatalf("IdP-initiated landed at %s", res.Header.Get("Location"))
			}
			e.api("DELETE", "/redirect_uris/"+r.ID, nil, 204, nil)
			e.api("DELETE", "/redirect_uris/"+r.ID, nil, 404, nil)

			// A connection's default_redirect_uri that has left the
			// allow-list is no longer trusted: IdP-initiated logins land on
			// the install's default instead.
			const app3 = "https://app3.example.com/cb"
			e.api("POST", "/redirect_uris", map[string]any{"uri": app3}, 201, &r)
			e.api("PUT", "/connections/"+conn.ID, map[string]any{"saml": map[string]any{"default_redirect_uri": app3}}, 200, nil)
			form = must[*testidp.PostForm](t)(idp.IdPInitiatedLogin(conn.SAML.SPEntityID, alice.Email, ""))
			if loc := e.post(form.URL, form.Values()).Header.Get("Location"); !strings.HasPrefix(loc, app3+"?code=") {
				t.Fatalf("IdP-initiated landed at %s, want the connection's default", loc)
			}
			e.api("DELETE", "/redirect_uris/"+r.ID, nil, 204, nil)
			form = must[*testidp.PostForm](t)(idp.IdPInitiatedLogin(conn.SAML.SPEntityID, alice.Email, ""))
			if loc := e.post(form.URL, form.Values()).Header.Get("Location"); !strings.HasPrefix(loc, redirectURI+"?code=") {
				t.Fatalf("IdP-initiated landed at %s after its default left the allow-list, want %s", loc, redirectURI)
			}
		})
	}
}

// TestSignedRequestsAndEncryptedAssertions: with per-connection SP keys,
// AuthnRequests are signed (the IdP verifies them) and assertions
// encrypted to our certificate are decrypted; plain ones are refused.
func TestSignedRequestsAndEncryptedAssertions(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, map[string]any{"sign_requests": true, "encrypt_assertions": true})
			var full struct {
				SAML struct {
					SPCertificate string `json:"sp_certificate"`
				} `json:"saml"`
			}
			e.api("GET", "/connections/"+conn.ID, nil, 200, &full)
			if !strings.Contains(full.SAML.SPCertificate, "BEGIN CERTIFICATE") {
				t.Fatal("no SP certificate")
			}
			res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
				"redirect_uri": {redirectURI}, "connection": {conn.ID}}.Encode())
			loc := res.Header.Get("Location")
			if !strings.Contains(loc, "Signature=") || !strings.Contains(loc, "SigAlg=") {
				t.Fatalf("AuthnRequest not signed: %s", loc)
			}
			form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(loc, alice.Email))
			if raw, _ := base64.StdEncoding.DecodeString(form.SAMLResponse); !strings.Contains(string(raw), "EncryptedAssertion") {
				t.Fatal("IdP did not encrypt")
			}
			if q := callback(t, e.post(form.URL, form.Values())); q.Get("code") == "" {
				t.Fatalf("refused: %v", q)
			}
			plain := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
			e.rejects(t, func() *http.Response { return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {plain}}) }, "assertion_not_encrypted")
			other := must[*testidp.KeyPair](t)(testidp.NewKeyPair("not us"))
			wrong := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, EncryptTo: other.Certificate}))
			e.rejects(t, func() *http.Response { return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {wrong}}) }, "decryption_failed")
		})
	}
}

// TestMetadataRefresh: a connection configured by metadata URL picks up
// the IdP's new signing certificate when the scheduled refresh runs, keeps
// trusting the old one for the overlap (logins signed with either work),
// and drops it when the overlap ends.
func TestMetadataRefresh(t *testing.T) {
	srv := apptest.Start(t, "sqlite", func(c *config.Config) {
		c.RedirectURIs = []string{redirectURI}
		c.SSOMetadataRefresh = time.Millisecond
	})
	e := &env{t: t, srv: srv, client: browserClient(t)}
	var org struct{ ID string }
	e.api("POST", "/organizations", map[string]any{"name": "R"}, 201, &org)
	e.orgID = org.ID
	idp := e.samlIdP(testidp.SAMLOptions{})
	rotated := must[*testidp.KeyPair](t)(testidp.NewKeyPair("rotated"))
	var mu sync.Mutex
	served := idp.MetadataXML()
	mdSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(served)
	}))
	defer mdSrv.Close()
	conn := e.samlConnection(idp, map[string]any{"idp_metadata_url": mdSrv.URL})
	// The IdP rotates: its metadata now lists only the new certificate.
	next := must[*testidp.SAMLIdP](t)(testidp.NewSAML(testidp.SAMLOptions{BaseURL: strings.TrimSuffix(idp.SSOURL(), "/sso"), KeyPair: rotated}))
	mu.Lock()
	served = next.MetadataXML()
	mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	refresh, err := job.NewRunner(srv.Log, nil).Loop(job.Job{Name: "metadata_refresh", Every: 20 * time.Millisecond, Run: srv.SSO.RefreshDueMetadata})
	if err != nil {
		t.Fatal(err)
	}
	go func() { refresh(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	want := testidpFingerprint(rotated)
	for i := 0; ; i++ {
		var c connJSON
		e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
		if len(c.SAML.IdPCertificates) == 2 && c.SAML.IdPCertificates[1].Fingerprint == want {
			if c.SAML.IdPCertificates[0].RetireAt == "" || c.SAML.IdPCertificates[1].RetireAt != "" {
				t.Fatalf("the old certificate should be retiring, the new one not: %+v", c.SAML.IdPCertificates)
			}
			break
		}
		if i > 200 {
			t.Fatalf("certificates not refreshed: %+v", c.SAML.IdPCertificates)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: rotated}))
	if q := callback(t, e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})); q.Get("code") == "" {
		t.Fatalf("new key refused: %v", q)
	}
	// The IdP may still sign with the old key during the overlap.
	old := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
	if q := callback(t, e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {old}})); q.Get("code") == "" {
		t.Fatalf("old key refused during the overlap: %v", q)
	}
	if n := e.countEvents("connection.saml_certificate_renewed"); n != 1 {
		t.Errorf("%d connection.saml_certificate_renewed events, want 1", n)
	}
	// When the overlap ends (a clock the test moves), the old one goes.
	cancel()
	<-done
	later := *srv.SSO
	later.Now = func() time.Time { return time.Now().Add(sso.DefaultCertificateOverlap + time.Minute) }
	if err := later.RetireCertificates(context.Background()); err != nil {
		t.Fatal(err)
	}
	var c connJSON
	e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
	if len(c.SAML.IdPCertificates) != 1 || c.SAML.IdPCertificates[0].Fingerprint != want {
		t.Fatalf("after the overlap: %+v", c.SAML.IdPCertificates)
	}
	old = must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
	e.rejects(t, func() *http.Response { return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {old}}) }, "certificate_unknown")
	r = must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: rotated}))
	if q := callback(t, e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})); q.Get("code") == "" {
		t.Fatalf("new key refused after the overlap: %v", q)
	}
}

func testidpFingerprint(kp *testidp.KeyPair) string {
	sum := sha256.Sum256(kp.Certificate.Raw)
	return hex.EncodeToString(sum[:])
}

// TestCertificateRenewalNotices: an IdP certificate close to expiry gets
// connection.saml_certificate_renewal_required once per threshold (7, 3 and 1
// days, expired), and adding a certificate emits saml_certificate_renewed.
func TestCertificateRenewalNotices(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			now := time.Now().UTC()
			kp := idp.KeyPair()
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "short-lived"},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 24 * time.Hour)}
			der := must[[]byte](t)(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &kp.Key.PublicKey, kp.Key))
			pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
			e.api("POST", "/connections/"+conn.ID+"/certificates", map[string]string{"certificate": pemText}, 201, nil)
			if n := e.countEvents("connection.saml_certificate_renewed"); n != 1 {
				t.Fatalf("%d renewed events", n)
			}
			at := func(d time.Duration) {
				t.Helper()
				svc := *e.srv.SSO
				svc.Now = func() time.Time { return now.Add(d) }
				if err := svc.NotifyExpiringCertificates(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			steps := []struct {
				at   time.Duration
				want int
			}{
				{0, 1},                          // 5 days left: the 7-day notice
				{time.Hour, 1},                  // nothing new
				{2*24*time.Hour + time.Hour, 2}, // under 3 days left: the 3-day notice
				{2*24*time.Hour + 2*time.Hour, 2},
				{4*24*time.Hour + time.Hour, 3}, // under a day left: the 1-day notice
				{6 * 24 * time.Hour, 4},         // expired
				{7 * 24 * time.Hour, 4},         // once
			}
			for _, s := range steps {
				at(s.at)
				if n := e.countEvents("connection.saml_certificate_renewal_required"); n != s.want {
					t.Fatalf("at +%s: %d notices, want %d", s.at, n, s.want)
				}
			}
			evs := must[[]store.Event](t)(e.srv.Store.ListEvents(context.Background(),
				store.EventFilter{Names: []string{"connection.saml_certificate_renewal_required"}}, 1, true))
			var d struct {
				Connection  struct{ ID string }
				Certificate struct {
					IsExpired bool `json:"is_expired"`
				}
			}
			json.Unmarshal(evs[0].Data, &d)
			if d.Connection.ID != conn.ID || !d.Certificate.IsExpired {
				t.Fatalf("last notice %s", evs[0].Data)
			}
		})
	}
}

// TestLoginTimeout: a login started and never completed is reported once
// as authentication.sso_timed_out after RequestLifetime.
func TestLoginTimeout(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
				"redirect_uri": {redirectURI}, "connection": {conn.ID}}.Encode())
			svc := *e.srv.SSO
			svc.Now = func() time.Time { return time.Now().Add(sso.RequestLifetime + time.Minute) }
			for i := 0; i < 2; i++ {
				if err := svc.TimeOutLogins(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n := e.countEvents("authentication.sso_timed_out"); n != 1 {
					t.Fatalf("round %d: %d sso_timed_out events", i, n)
				}
			}
		})
	}
}

// TestOIDCDiscoveryRetry: an OIDC connection whose provider is down at
// creation stays a draft, is scheduled for a retry, and activates once
// discovery works.
func TestOIDCDiscoveryRetry(t *testing.T) {
	e := newEnv(t, "sqlite")
	hs := httptest.NewUnstartedServer(nil)
	op := must[*testidp.OIDCProvider](t)(testidp.NewOIDC("http://"+hs.Listener.Addr().String()+"/oidc", testidp.OIDCOptions{AutoApprove: true}))
	var down atomic.Bool
	down.Store(true)
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		op.ServeHTTP(w, r)
	})
	hs.Start()
	defer hs.Close()
	var c oidcConnJSON
	e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "OktaOIDC",
		"oidc": map[string]any{"issuer": op.Issuer(), "client_id": "x", "client_secret": "y"}}, 201, &c)
	if c.State != "draft" {
		t.Fatalf("state %s", c.State)
	}
	down.Store(false)
	svc := *e.srv.SSO
	now := time.Now().Add(6 * time.Minute)
	svc.Now = func() time.Time { return now }
	due := must[[]store.Connection](t)(e.srv.Store.ClaimDueMetadataRefresh(context.Background(), now, now.Add(time.Hour), 10))
	if len(due) != 1 || due[0].ID != c.ID {
		t.Fatalf("due %+v", due)
	}
	if err := svc.RefreshMetadata(context.Background(), due[0]); err != nil {
		t.Fatal(err)
	}
	e.api("GET", "/connections/"+c.ID, nil, 200, &c)
	if c.State != "active" {
		t.Fatalf("state after retry %s", c.State)
	}
}

// TestSignedRequestWithLoginHint: the login_hint added for Okta leaves the
// redirect binding's signature valid at the IdP.
func TestSignedRequestWithLoginHint(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, map[string]any{"sign_requests": true})
	res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
		"redirect_uri": {redirectURI}, "connection": {conn.ID}, "login_hint": {"al+ice@example.com"}}.Encode())
	loc := res.Header.Get("Location")
	if !strings.Contains(loc, "Signature=") || !strings.Contains(loc, "login_hint=al%2Bice%40example.com") {
		t.Fatalf("location %s", loc)
	}
	form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(loc, alice.Email))
	if q := callback(t, e.post(form.URL, form.Values())); q.Get("code") == "" {
		t.Fatalf("refused: %v", q)
	}
}

var (
	formAction  = regexp.MustCompile(`<form[^>]*method="post" action="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([A-Za-z_]+)" value="([^"]*)"`)
)

// postForm reads the first form of an HTML page: its action resolved
// against base, and its hidden fields.
func postForm(t *testing.T, base, page string) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in:\n%s", page)
	}
	action := must[*url.URL](t)(url.Parse(base)).ResolveReference(must[*url.URL](t)(url.Parse(html.UnescapeString(m[1]))))
	v := url.Values{}
	for _, h := range hiddenInput.FindAllStringSubmatch(page, -1) {
		if v.Get(h[1]) == "" {
			v.Set(h[1], html.UnescapeString(h[2]))
		}
	}
	return action.String(), v
}

// TestSAMLPostBinding: with an IdP whose SSO endpoint takes the HTTP-POST
// binding, /sso/authorize answers an auto-submitting (signed) AuthnRequest
// form under a nonce CSP, and the login completes.
func TestSAMLPostBinding(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, map[string]any{"idp_sso_binding": "post", "sign_requests": true})
	res, err := e.client.Get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
		"redirect_uri": {redirectURI}, "connection": {conn.ID}, "state": {"pb"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page := string(must[[]byte](t)(io.ReadAll(res.Body)))
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`<script nonce="([^"]+)"`).FindStringSubmatch(page)
	if res.StatusCode != 200 || nonce == nil || !strings.Contains(csp, "'nonce-"+nonce[1]+"'") {
		t.Fatalf("authorize: %d, CSP %q\n%s", res.StatusCode, csp, page)
	}
	action, v := postForm(t, idp.SSOURL(), page)
	if action != idp.SSOURL() || v.Get("SAMLRequest") == "" || v.Get("RelayState") == "" {
		t.Fatalf("form %s %v", action, v)
	}
	if raw := string(must[[]byte](t)(base64.StdEncoding.DecodeString(v.Get("SAMLRequest")))); !strings.Contains(raw, "Signature") {
		t.Fatalf("AuthnRequest not signed: %s", raw)
	}
	jar := must[*cookiejar.Jar](t)(cookiejar.New(nil))
	browser := &http.Client{Jar: jar, CheckRedirect: e.client.CheckRedirect}
	read := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return string(must[[]byte](t)(io.ReadAll(res.Body)))
	}
	// The IdP shows its login form, then the auto-posting response.
	page = read(browser.PostForm(action, v))
	action, v = postForm(t, idp.SSOURL(), page)
	v.Set("email", alice.Email)
	v.Set("password", alice.Password)
	page = read(browser.PostForm(action, v))
	action, v = postForm(t, idp.SSOURL(), page)
	if action != conn.SAML.ACSURL {
		t.Fatalf("IdP posts to %s", action)
	}
	q := callback(t, e.post(action, v))
	if q.Get("code") == "" || q.Get("state") != "pb" {
		t.Fatalf("callback %v", q)
	}
}
