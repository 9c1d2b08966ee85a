package sso_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// metadataServer serves an IdP's metadata document, which the test swaps,
// and counts the fetches.
type metadataServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	fetches atomic.Int32
}

func newMetadataServer(t *testing.T, doc []byte) *metadataServer {
	m := &metadataServer{doc: doc}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.fetches.Add(1)
		m.mu.Lock()
		defer m.mu.Unlock()
		w.Write(m.doc)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metadataServer) serve(doc []byte) {
	m.mu.Lock()
	m.doc = doc
	m.mu.Unlock()
}

// TestIdPKeyRolloverWithoutOutage: the IdP switches its signing key mid-test
// and publishes the new certificate in its metadata. The first login signed
// with the new key succeeds (Gatehouse refetches the metadata at once), a
// straggler signed with the old key still succeeds during the overlap, and
// no login fails at any point.
func TestIdPKeyRolloverWithoutOutage(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			md := newMetadataServer(t, idp.MetadataXML())
			conn := e.samlConnection(idp, map[string]any{"idp_metadata_url": md.URL})
			login := func(key *testidp.KeyPair) {
				t.Helper()
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: key}))
				if q := callback(t, e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})); q.Get("code") == "" {
					t.Fatalf("login refused: %v (failure %q)", q, e.lastFailure())
				}
			}
			verified := func() map[string]bool {
				t.Helper()
				certs := must[[]store.Certificate](t)(e.srv.Store.ListCertificates(context.Background(), conn.ID))
				out := map[string]bool{}
				for _, c := range certs {
					out[c.Fingerprint] = !c.LastVerifiedAt.IsZero()
				}
				return out
			}
			oldFP, newFP := ssosaml.Fingerprint(idp.KeyPair().Certificate), ""
			login(nil)
			if v := verified(); !v[oldFP] {
				t.Errorf("the certificate that verified the first login is not marked: %v", v)
			}
			rotated := must[*testidp.KeyPair](t)(testidp.NewKeyPair("rotated"))
			newFP = ssosaml.Fingerprint(rotated.Certificate)
			next := must[*testidp.SAMLIdP](t)(testidp.NewSAML(testidp.SAMLOptions{BaseURL: strings.TrimSuffix(idp.SSOURL(), "/sso"), KeyPair: rotated}))
			md.serve(next.MetadataXML()) // the IdP rolls over
			login(rotated)
			if v := verified(); !v[newFP] || !v[oldFP] || len(v) != 2 {
				t.Errorf("after the first login with the new key, verified = %v (new %.8s)", v, newFP)
			}
			login(rotated)
			login(nil) // an IdP node that has not switched yet
			if n := e.countEvents("authentication.sso_failed"); n != 0 {
				t.Errorf("%d failed logins during the rollover, want 0", n)
			}
			if n := e.countEvents("connection.saml_certificate_renewed"); n != 1 {
				t.Errorf("%d connection.saml_certificate_renewed events, want 1", n)
			}
			var c connJSON
			e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
			if len(c.SAML.IdPCertificates) != 2 || c.SAML.IdPCertificates[0].RetireAt == "" {
				t.Errorf("certificates after the rollover: %+v", c.SAML.IdPCertificates)
			}
			for _, cert := range c.SAML.IdPCertificates {
				if cert.LastVerifiedAt == "" {
					t.Errorf("the API does not say when certificate %.8s last verified a sign-in", cert.Fingerprint)
				}
			}
		})
	}
}

// TestUnknownCertificateIsExplained: a response signed with a certificate
// the connection lacks, where no metadata URL publishes it, fails with a
// reason that names the certificate; one renewal notice goes out; after the
// admin uploads the certificate, logins work.
func TestUnknownCertificateIsExplained(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil) // metadata XML, no URL
			rotated := must[*testidp.KeyPair](t)(testidp.NewKeyPair("rotated"))
			post := func() *http.Response {
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: rotated}))
				return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
			}
			e.rejects(t, post, "certificate_unknown")
			e.rejects(t, post, "certificate_unknown")
			evs := must[[]store.Event](t)(e.srv.Store.ListEvents(context.Background(),
				store.EventFilter{Names: []string{"authentication.sso_failed"}}, 1, true))
			var failed struct {
				Error struct{ Message string }
			}
			json.Unmarshal(evs[0].Data, &failed)
			fp := testidpFingerprint(rotated)
			if !strings.Contains(failed.Error.Message, fp) || !strings.Contains(failed.Error.Message, "upload it") {
				t.Errorf("failure message does not name the new certificate: %q", failed.Error.Message)
			}
			notices := must[[]store.Event](t)(e.srv.Store.ListEvents(context.Background(),
				store.EventFilter{Names: []string{"connection.saml_certificate_renewal_required"}}, 10, false))
			if len(notices) != 1 || !strings.Contains(string(notices[0].Data), fp) {
				t.Fatalf("renewal notices: %d, want 1 naming %s", len(notices), fp)
			}
			e.api("POST", "/connections/"+conn.ID+"/certificates", map[string]string{"certificate": string(rotated.CertificatePEM())}, 201, nil)
			if q := callback(t, post()); q.Get("code") == "" {
				t.Fatalf("refused after the upload: %v", q)
			}
		})
	}
}

// TestUnknownCertificateRecheckIsLimited: responses signed with keys the
// IdP never published (anyone can make them) fetch the metadata at most once
// a minute, and stay refused.
func TestUnknownCertificateRecheckIsLimited(t *testing.T) {
	e := newEnv(t, "sqlite")
	idp := e.samlIdP(testidp.SAMLOptions{})
	md := newMetadataServer(t, idp.MetadataXML())
	conn := e.samlConnection(idp, map[string]any{"idp_metadata_url": md.URL})
	before := md.fetches.Load()
	for range 5 {
		forged := must[*testidp.KeyPair](t)(testidp.NewKeyPair("attacker"))
		r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: forged}))
		e.rejects(t, func() *http.Response { return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}}) }, "certificate_unknown")
	}
	if n := md.fetches.Load() - before; n != 1 {
		t.Errorf("%d metadata fetches for 5 forged responses, want 1", n)
	}
	notices := must[[]store.Event](t)(e.srv.Store.ListEvents(context.Background(),
		store.EventFilter{Names: []string{"connection.saml_certificate_renewal_required"}}, 10, false))
	if len(notices) != 3 {
		t.Errorf("%d renewal notices for 5 different forged certificates, want the daily cap of 3", len(notices))
	}
}

// TestFailedMetadataFetchKeepsCertificates: when the IdP's metadata URL
// fails (an error status, then a document that is not metadata), the
// connection keeps its certificates and keeps working, and shows the error
// and the time of the last good fetch.
func TestFailedMetadataFetchKeepsCertificates(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			var broken atomic.Value
			broken.Store("")
			md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch broken.Load() {
				case "status":
					http.Error(w, "upstream down", http.StatusBadGateway)
				case "garbage":
					w.Write([]byte("<html>maintenance</html>"))
				default:
					w.Write(idp.MetadataXML())
				}
			}))
			t.Cleanup(md.Close)
			conn := e.samlConnection(idp, map[string]any{"idp_metadata_url": md.URL})
			var before struct {
				SAML struct {
					MetadataFetchedAt string `json:"metadata_fetched_at"`
				} `json:"saml"`
			}
			e.api("GET", "/connections/"+conn.ID, nil, 200, &before)
			for _, mode := range []string{"status", "garbage"} {
				broken.Store(mode)
				c := must[store.Connection](t)(e.srv.Store.GetConnection(context.Background(), conn.ID))
				e.srv.SSO.RefreshMetadata(context.Background(), c)
				var after struct {
					State string `json:"state"`
					SAML  struct {
						MetadataFetchedAt string `json:"metadata_fetched_at"`
						MetadataError     string `json:"metadata_error"`
						IdPCertificates   []struct {
							Fingerprint string `json:"fingerprint"`
							RetireAt    string `json:"retire_at"`
						} `json:"idp_certificates"`
					} `json:"saml"`
				}
				e.api("GET", "/connections/"+conn.ID, nil, 200, &after)
				if after.State != "active" || len(after.SAML.IdPCertificates) != 1 || after.SAML.IdPCertificates[0].RetireAt != "" {
					t.Fatalf("%s: the connection lost its certificate: %+v", mode, after)
				}
				if after.SAML.MetadataError == "" || after.SAML.MetadataFetchedAt != before.SAML.MetadataFetchedAt {
					t.Errorf("%s: error %q, last good fetch %q (was %q)", mode, after.SAML.MetadataError,
						after.SAML.MetadataFetchedAt, before.SAML.MetadataFetchedAt)
				}
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
				if q := callback(t, e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})); q.Get("code") == "" {
					t.Fatalf("%s: login refused after a failed fetch: %v", mode, q)
				}
			}
		})
	}
}
