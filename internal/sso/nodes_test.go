package sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sso"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestAnotherNodesChangesCountAtOnce proves that what a node keeps parsed
// between logins (IdP certificates, connection configs, the fast path's
// keys) never outlives a change in the database. Each change here is
// written straight to the store, bypassing this node's service, as
// another node sharing the database would; the very next login must obey
// it.
func TestAnotherNodesChangesCountAtOnce(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			db := e.srv.Store
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			oldKey := idp.KeyPair()
			newKey := must[*testidp.KeyPair](t)(testidp.NewKeyPair("other node"))
			login := func(key *testidp.KeyPair) *http.Response {
				r := must[string](t)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice, SigningKey: key}))
				return e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {r}})
			}
			ok := func(res *http.Response) {
				t.Helper()
				if q := callback(t, res); q.Get("code") == "" {
					t.Fatalf("refused: %v", q)
				}
			}
			certs := must[[]store.Certificate](t)(db.ListCertificates(ctx, conn.ID))
			if len(certs) != 1 {
				t.Fatalf("%d certificates", len(certs))
			}
			oldCert := certs[0]
			ok(login(oldKey)) // everything parsed and cached

			// Another node adds a certificate: trusted at once.
			newCert := store.Certificate{ConnectionID: conn.ID, Fingerprint: ssosaml.Fingerprint(newKey.Certificate),
				PEM: string(newKey.CertificatePEM()), NotBefore: newKey.Certificate.NotBefore, NotAfter: newKey.Certificate.NotAfter,
				Source: "manual", CreatedAt: time.Now().UTC(), RenewalNotified: -1}
			if err := db.PutCertificate(ctx, newCert); err != nil {
				t.Fatal(err)
			}
			ok(login(newKey))
			ok(login(oldKey))

			// Another node retires the old certificate (its overlap ended).
			retired := oldCert
			retired.RetireAt = time.Now().UTC().Add(-time.Second)
			if err := db.PutCertificate(ctx, retired); err != nil {
				t.Fatal(err)
			}
			e.rejects(t, func() *http.Response { return login(oldKey) }, "certificate_unknown")
			ok(login(newKey))

			// Another node deletes the new certificate and trusts the old one again.
			if err := db.DeleteCertificate(ctx, conn.ID, newCert.Fingerprint); err != nil {
				t.Fatal(err)
			}
			if err := db.PutCertificate(ctx, oldCert); err != nil {
				t.Fatal(err)
			}
			e.rejects(t, func() *http.Response { return login(newKey) }, "certificate_unknown")
			ok(login(oldKey))

			// Another node turns IdP-initiated sign-in off, then on again:
			// the connection's config changes under the cache both ways.
			setIdPInitiated := func(on bool) {
				t.Helper()
				c := must[store.Connection](t)(db.GetConnection(ctx, conn.ID))
				c.SAML.AllowIdPInitiated = on
				c.UpdatedAt = time.Now().UTC()
				if err := db.UpdateConnection(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			setIdPInitiated(false)
			e.rejects(t, func() *http.Response { return login(oldKey) }, "idp_initiated_disabled")
			setIdPInitiated(true)
			ok(login(oldKey))

			// Another node deactivates the connection.
			c := must[store.Connection](t)(db.GetConnection(ctx, conn.ID))
			c.State = store.ConnectionInactive
			if err := db.UpdateConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
			e.rejects(t, func() *http.Response { return login(oldKey) }, "connection_inactive")
		})
	}
}

// TestUpdateKeepsConcurrentRotation: PUT /connections/{id} writes with a
// compare-and-set, so an SP key rotation that lands between its read and
// its write (here: while it fetches the IdP metadata it was given) is not
// undone; the update is applied again on top of the rotated keys.
func TestUpdateKeepsConcurrentRotation(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, map[string]any{"sign_requests": true})
			var fetches atomic.Int32
			rotateStatus := make(chan int, 1)
			mdSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if fetches.Add(1) == 1 {
					// Another request rotates the keys mid-update.
					res := e.srv.Do(t, "POST", "/connections/"+conn.ID+"/sp_keys/rotate", nil)
					res.Body.Close()
					rotateStatus <- res.StatusCode
				}
				w.Write(idp.MetadataXML())
			}))
			defer mdSrv.Close()
			var before spKeysConn
			e.api("GET", "/connections/"+conn.ID, nil, 200, &before)

			var updated struct {
				spKeysConn
				SAML struct {
					IdPMetadataURL string `json:"idp_metadata_url"`
				} `json:"saml"`
			}
			e.api("PUT", "/connections/"+conn.ID, map[string]any{"saml": map[string]any{"idp_metadata_url": mdSrv.URL}}, 200, &updated)
			if st := <-rotateStatus; st != http.StatusOK {
				t.Fatalf("rotate: %d", st)
			}
			var after spKeysConn
			e.api("GET", "/connections/"+conn.ID, nil, 200, &after)
			wasNext, nowActive := before.byState("next"), after.byState("active")
			if len(wasNext) != 1 || len(nowActive) != 1 || nowActive[0].ID != wasNext[0].ID {
				t.Fatalf("the rotation was undone: active key %v, want the former next key %v", nowActive, wasNext)
			}
			if len(after.byState("retired")) != 1 {
				t.Fatalf("keys after the update: %+v", after.SAML.SPKeys)
			}
			if fetches.Load() != 2 {
				t.Fatalf("%d metadata fetches, want 2 (the update applied again after losing the race)", fetches.Load())
			}
		})
	}
}

// TestStateChangeKeepsUpdatedAtMoving covers an update whose state change
// lands in the same millisecond as the write before it: the state write
// must not put updated_at back to the value other writers read, or their
// stale compare-and-set would win and undo it (say, re-enable a connection
// an admin just turned off).
func TestStateChangeKeepsUpdatedAtMoving(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			conn := e.samlConnection(e.samlIdP(testidp.SAMLOptions{}), nil)
			ctx := context.Background()
			stale := must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID))
			prev := stale.UpdatedAt
			svc := *e.srv.SSO
			svc.Now = func() time.Time { return prev }
			inactive := store.ConnectionInactive
			if _, err := svc.Update(ctx, conn.ID, sso.ConnectionInput{State: &inactive}); err != nil {
				t.Fatal(err)
			}
			stale.Name = "stale writer"
			stale.UpdatedAt = prev.Add(5 * time.Millisecond)
			ok, err := e.srv.Store.UpdateConnectionIf(ctx, stale, prev)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Fatal("a compare-and-set with the updated_at read before the update won")
			}
			if got := must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID)); got.State != store.ConnectionInactive {
				t.Fatalf("state %q, want inactive", got.State)
			}
		})
	}
}

// TestRefreshReadsTheStoredURL: a metadata refresh that read the
// connection before an admin moved it to another IdP must fetch what is
// stored now, not put the old metadata URL (and the old IdP's
// certificates) back.
func TestRefreshReadsTheStoredURL(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			old := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(old, map[string]any{"idp_metadata_url": old.MetadataURL()})
			ctx := context.Background()
			snapshot := must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID))
			moved := e.samlIdP(testidp.SAMLOptions{})
			e.api("PUT", "/connections/"+conn.ID, map[string]any{"saml": map[string]any{"idp_metadata_url": moved.MetadataURL()}}, 200, nil)
			if err := e.srv.SSO.RefreshMetadata(ctx, snapshot); err != nil {
				t.Fatal(err)
			}
			if got := must[store.Connection](t)(e.srv.Store.GetConnection(ctx, conn.ID)); got.SAML.IdPMetadataURL != moved.MetadataURL() {
				t.Fatalf("metadata URL %s after the refresh, want the admin's %s", got.SAML.IdPMetadataURL, moved.MetadataURL())
			}
		})
	}
}
