package sso_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/internal/sso"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

type spKeyJSON struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	Fingerprint   string `json:"fingerprint"`
	Certificate   string `json:"certificate"`
	DecryptsUntil string `json:"decrypts_until"`
}

type spKeysConn struct {
	SAML struct {
		SPCertificate string      `json:"sp_certificate"`
		SPKeys        []spKeyJSON `json:"sp_keys"`
	} `json:"saml"`
}

// byState returns the keys of c by state, in order.
func (c spKeysConn) byState(state string) []spKeyJSON {
	var out []spKeyJSON
	for _, k := range c.SAML.SPKeys {
		if k.State == state {
			out = append(out, k)
		}
	}
	return out
}

// spMetadataKeys returns the fingerprints of the certificates the SP
// metadata publishes, by use.
func spMetadataKeys(t *testing.T, metadataURL string) (signing, encryption []string) {
	t.Helper()
	res := must[*http.Response](t)(http.Get(metadataURL))
	defer res.Body.Close()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(must[[]byte](t)(io.ReadAll(res.Body)), &ed); err != nil {
		t.Fatal(err)
	}
	for _, kd := range ed.SPSSODescriptors[0].KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			der := must[[]byte](t)(base64.StdEncoding.DecodeString(c.Data))
			sum := sha256.Sum256(der)
			fp := hex.EncodeToString(sum[:])
			switch kd.Use {
			case "signing":
				signing = append(signing, fp)
			case "encryption":
				encryption = append(encryption, fp)
			}
		}
	}
	return signing, encryption
}

// TestSPKeyRotation: a connection's own keys rotate without a failed login.
// Its metadata publishes the active and next keys (signing and
// encryption); assertions encrypted to the active, the next
// and a retired key in its grace period are decrypted, to a retired key
// past its grace refused; promotion happens on demand (the API) and on a
// schedule, with connection.sp_key_rotated; AuthnRequests are signed with
// the active key. The clock is the test's: rotations happen "in the past"
// or "in the future" by copying the service with another Now.
func TestSPKeyRotation(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, map[string]any{"sign_requests": true, "encrypt_assertions": true})
			at := func(d time.Duration) *sso.Service {
				svc := *e.srv.SSO
				now := time.Now()
				svc.Now = func() time.Time { return now.Add(d) }
				return &svc
			}
			read := func() spKeysConn {
				t.Helper()
				var c spKeysConn
				e.api("GET", "/connections/"+conn.ID, nil, 200, &c)
				return c
			}
			certOf := func(k spKeyJSON) *x509.Certificate {
				t.Helper()
				return must[*x509.Certificate](t)(ssosaml.ParseCertificatePEM(k.Certificate))
			}
			login := func(k spKeyJSON) *http.Response {
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, EncryptTo: certOf(k)}))
				return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
			}
			accepts := func(what string, k spKeyJSON) {
				t.Helper()
				if q := callback(t, login(k)); q.Get("code") == "" {
					t.Fatalf("assertion encrypted to the %s key refused: %v", what, q)
				}
			}
			// Both uses list the active key first, then the next one.
			published := func(want ...string) {
				t.Helper()
				signing, encryption := spMetadataKeys(t, conn.SAML.SPMetadataURL)
				if !slices.Equal(signing, want) || !slices.Equal(encryption, want) {
					t.Fatalf("metadata signing %v encryption %v, want %v for both", signing, encryption, want)
				}
			}

			// A new connection has an active and a next key.
			c := read()
			if len(c.SAML.SPKeys) != 2 || len(c.byState("active")) != 1 || len(c.byState("next")) != 1 {
				t.Fatalf("sp_keys %+v, want one active and one next", c.SAML.SPKeys)
			}
			a, b := c.byState("active")[0], c.byState("next")[0]
			if c.SAML.SPCertificate != a.Certificate {
				t.Fatal("sp_certificate is not the active key's")
			}
			published(a.Fingerprint, b.Fingerprint)
			accepts("active", a)
			accepts("next (not yet promoted)", b)

			// Rotation eight days ago: A retired then, so its grace is over.
			if _, err := at(-8*24*time.Hour).RotateSPKeys(ctx, conn.ID); err != nil {
				t.Fatal(err)
			}
			c = read()
			if got := c.byState("active"); len(got) != 1 || got[0].ID != b.ID {
				t.Fatalf("after rotation the active key is %+v, want %s", got, b.ID)
			}
			if got := c.byState("retired"); len(got) != 1 || got[0].ID != a.ID {
				t.Fatalf("retired %+v, want %s", got, a.ID)
			}
			cKey := c.byState("next")[0]
			published(b.Fingerprint, cKey.Fingerprint)
			e.rejects(t, func() *http.Response { return login(a) }, "decryption_failed")
			accepts("active", b)
			accepts("next", cKey)
			if n := e.countEvents(sso.EventSPKeyRotated); n != 1 {
				t.Fatalf("%d rotation events, want 1", n)
			}

			// The IdP read our metadata when A was active and B next: it
			// already verifies requests signed with B, now active. (It
			// encrypts to A, whose grace is over: that login would fail.)
			authorize := func() string {
				res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
					"redirect_uri": {redirectURI}, "connection": {conn.ID}}.Encode())
				return res.Header.Get("Location")
			}
			if _, err := idp.SPInitiatedLogin(authorize(), alice.Email); err != nil {
				t.Fatalf("the IdP refused a request signed with the promoted key it had as next: %v", err)
			}

			// Rotation now, through the API: B retires into its grace, C
			// becomes active, D is next, A (past its grace) is dropped.
			var rotated spKeysConn
			e.api("POST", "/connections/"+conn.ID+"/sp_keys/rotate", nil, 200, &rotated)
			if got := rotated.byState("active"); len(got) != 1 || got[0].ID != cKey.ID {
				t.Fatalf("active %+v, want %s", got, cKey.ID)
			}
			retired := rotated.byState("retired")
			if len(retired) != 1 || retired[0].ID != b.ID || retired[0].DecryptsUntil == "" {
				t.Fatalf("retired %+v, want only %s with decrypts_until", retired, b.ID)
			}
			d := rotated.byState("next")[0]
			published(cKey.Fingerprint, d.Fingerprint)
			accepts("retired in its grace", b)
			accepts("active", cKey)
			accepts("next", d)
			e.rejects(t, func() *http.Response { return login(a) }, "decryption_failed")

			// Requests are signed with the active key C: the IdP, still on
			// the metadata listing A and B, refuses them; once it re-reads
			// our metadata, it accepts them.
			if _, err := idp.SPInitiatedLogin(authorize(), alice.Email); err == nil {
				t.Fatal("the IdP with stale SP metadata verified a request signed with the new active key")
			}
			if _, err := idp.AddServiceProviderMetadata(must[[]byte](t)(readAll(conn.SAML.SPMetadataURL))); err != nil {
				t.Fatal(err)
			}
			form := must[*testidp.PostForm](t)(idp.SPInitiatedLogin(authorize(), alice.Email))
			if q := callback(t, e.post(form.URL, form.Values())); q.Get("code") == "" {
				t.Fatalf("signed request login refused: %v", q)
			}

			// The schedule: nothing is due a day later; a year later C is
			// promoted once, however often the sweep runs.
			if err := at(24 * time.Hour).RotateDueSPKeys(ctx); err != nil {
				t.Fatal(err)
			}
			if n := e.countEvents(sso.EventSPKeyRotated); n != 2 {
				t.Fatalf("%d rotation events before the key lifetime ends, want 2", n)
			}
			later := at(sso.DefaultSPKeyLifetime + time.Hour)
			for range 2 {
				if err := later.RotateDueSPKeys(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.countEvents(sso.EventSPKeyRotated); n != 3 {
				t.Fatalf("%d rotation events, want 3", n)
			}
			if got := read().byState("active"); len(got) != 1 || got[0].ID != d.ID {
				t.Fatalf("after the scheduled promotion the active key is %+v, want %s", got, d.ID)
			}
			evs := must[[]store.Event](t)(e.srv.Store.ListEvents(ctx, store.EventFilter{Names: []string{sso.EventSPKeyRotated}}, 1, true))
			var ev struct {
				Connection struct{ ID string }
				Reason     string
				ActiveKey  spKeyJSON  `json:"active_key"`
				NextKey    spKeyJSON  `json:"next_key"`
				RetiredKey *spKeyJSON `json:"retired_key"`
			}
			if err := json.Unmarshal(evs[0].Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Connection.ID != conn.ID || ev.Reason != "scheduled" || ev.ActiveKey.ID != d.ID || ev.RetiredKey == nil ||
				ev.RetiredKey.ID != cKey.ID || ev.NextKey.ID == "" || ev.NextKey.Fingerprint == "" {
				t.Fatalf("event %+v", ev)
			}

			// A connection without SP keys has nothing to rotate.
			plain := e.samlConnection(idp, nil)
			var apiErr struct{ Code string }
			e.api("POST", "/connections/"+plain.ID+"/sp_keys/rotate", nil, 400, &apiErr)
			if apiErr.Code != "no_sp_keys" {
				t.Fatalf("code %q, want no_sp_keys", apiErr.Code)
			}
			e.api("POST", "/connections/conn_missing/sp_keys/rotate", nil, 404, nil)
		})
	}
}

// TestSPKeyLegacy: a connection stored before key sets (one key in the old
// fields) keeps working, and its first rotation keeps the old key for
// decryption in its grace period.
func TestSPKeyLegacy(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, map[string]any{"encrypt_assertions": true})
			// Rewrite the row the way an older Gatehouse stored it.
			sc := must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID))
			active := sc.SAML.SPKeys[slices.IndexFunc(sc.SAML.SPKeys, func(k store.SPKey) bool { return k.State == store.SPKeyActive })]
			sc.SAML.SPKeySealed, sc.SAML.SPCertificatePEM, sc.SAML.SPKeys = active.KeySealed, active.CertificatePEM, nil
			if err := e.srv.Store.UpdateConnection(ctx, sc); err != nil {
				t.Fatal(err)
			}
			old := must[*x509.Certificate](t)(ssosaml.ParseCertificatePEM(active.CertificatePEM))
			login := func() *http.Response {
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, EncryptTo: old}))
				return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
			}
			if q := callback(t, login()); q.Get("code") == "" {
				t.Fatalf("legacy key refused: %v", q)
			}
			if _, enc := spMetadataKeys(t, conn.SAML.SPMetadataURL); len(enc) != 1 || enc[0] != ssosaml.Fingerprint(old) {
				t.Fatalf("metadata encryption keys %v, want only the legacy key", enc)
			}
			var c spKeysConn
			e.api("POST", "/connections/"+conn.ID+"/sp_keys/rotate", nil, 200, &c)
			if got := c.byState("retired"); len(got) != 1 || got[0].Fingerprint != ssosaml.Fingerprint(old) {
				t.Fatalf("retired %+v, want the legacy key", got)
			}
			if len(c.byState("active")) != 1 || len(c.byState("next")) != 1 {
				t.Fatalf("sp_keys %+v", c.SAML.SPKeys)
			}
			if q := callback(t, login()); q.Get("code") == "" {
				t.Fatalf("legacy key refused in its grace period: %v", q)
			}
			sc = must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID))
			if sc.SAML.SPKeySealed != "" || len(sc.SAML.SPKeys) != 3 {
				t.Fatalf("after rotation the connection still has the old fields or %d keys", len(sc.SAML.SPKeys))
			}
		})
	}
}

func readAll(u string) ([]byte, error) {
	res, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}
