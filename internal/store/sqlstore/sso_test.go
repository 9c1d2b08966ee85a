package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

func ssoFixture(t *testing.T, s store.Store) store.Connection {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	org := store.Organization{ID: "org_" + fmt.Sprint(now.UnixNano()), Name: "O", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	c := store.Connection{ID: "conn_1", OrganizationID: org.ID, Type: "OktaSAML", Name: "C", State: store.ConnectionDraft,
		Protocol: store.ProtocolSAML, SAML: store.SAMLConfig{IdPEntityID: "e", AllowIdPInitiated: true},
		NextRefreshAt: now.Add(-time.Minute), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSSOStore(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			c := ssoFixture(t, s)
			now := time.Now().UTC()

			got, err := s.GetConnection(ctx, c.ID)
			if err != nil || got.SAML.IdPEntityID != "e" || !got.SAML.AllowIdPInitiated {
				t.Fatalf("get: %v %+v", err, got)
			}
			list, info, err := s.ListConnections(ctx, store.ConnectionFilter{Search: "c", Type: "OktaSAML"}, store.Page{Limit: 10})
			if err != nil || len(list) != 1 || info.After != "" {
				t.Fatalf("list: %v %d %+v", err, len(list), info)
			}

			cert := store.Certificate{ConnectionID: c.ID, Fingerprint: "ab", PEM: "p", NotBefore: now, NotAfter: now.Add(time.Hour), Source: "manual", CreatedAt: now}
			if err := s.PutCertificate(ctx, cert); err != nil {
				t.Fatal(err)
			}
			if err := s.PutCertificate(ctx, cert); err != nil { // upsert
				t.Fatal(err)
			}
			if cs, _ := s.ListCertificates(ctx, c.ID); len(cs) != 1 {
				t.Fatalf("%d certificates", len(cs))
			}
			if err := s.DeleteCertificate(ctx, c.ID, "zz"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("delete unknown: %v", err)
			}

			// A request, a code: each taken once.
			req := store.SSORequest{ID: "_r1", ConnectionID: c.ID, OrganizationID: c.OrganizationID, RedirectURI: "https://a/cb",
				BrowserHash: []byte{0, 1, 0xfe, 0xff}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := s.CreateSSORequest(ctx, req); err != nil {
				t.Fatal(err)
			}
			if r, err := s.TakeSSORequest(ctx, "_r1"); err != nil || r.RedirectURI != "https://a/cb" || string(r.BrowserHash) != string(req.BrowserHash) {
				t.Fatalf("take: %v %+v", err, r)
			}
			// A login without a browser binding reads back as none (nil).
			unbound := store.SSORequest{ID: "_r0", ConnectionID: c.ID, OrganizationID: c.OrganizationID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := s.CreateSSORequest(ctx, unbound); err != nil {
				t.Fatal(err)
			}
			if r, err := s.TakeSSORequest(ctx, "_r0"); err != nil || len(r.BrowserHash) != 0 {
				t.Fatalf("take unbound: %v %+v", err, r)
			}
			if _, err := s.TakeSSORequest(ctx, "_r1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("second take: %v", err)
			}
			g := store.SSOGrant{Hash: []byte("h1"), ConnectionID: c.ID, OrganizationID: c.OrganizationID, Profile: []byte(`{}`), ExpiresAt: now.Add(time.Minute)}
			if err := s.CreateSSOCode(ctx, g); err != nil {
				t.Fatal(err)
			}
			var taken atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.TakeSSOCode(ctx, []byte("h1")); err == nil {
						taken.Add(1)
					}
				}()
			}
			wg.Wait()
			if taken.Load() != 1 {
				t.Fatalf("code taken %d times", taken.Load())
			}

			// The replay cache admits an ID once, also under concurrency.
			var admitted atomic.Int32
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.ConsumeReplayKey(ctx, "conn_1:_a1", now.Add(time.Minute))
					if err == nil {
						admitted.Add(1)
					} else if !errors.Is(err, store.ErrConflict) {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if admitted.Load() != 1 {
				t.Fatalf("replay key admitted %d times", admitted.Load())
			}

			// A due metadata refresh is claimed by one caller.
			var claimed atomic.Int32
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cs, err := s.ClaimDueMetadataRefresh(ctx, now, now.Add(time.Hour), 10)
					if err != nil {
						t.Error(err)
					}
					claimed.Add(int32(len(cs)))
				}()
			}
			wg.Wait()
			if claimed.Load() != 1 {
				t.Fatalf("refresh claimed %d times", claimed.Load())
			}

			// Expired state is swept.
			if err := s.DeleteExpiredSSO(ctx, now.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := s.ConsumeReplayKey(ctx, "conn_1:_a1", now.Add(time.Hour)); err != nil {
				t.Fatalf("swept key still present: %v", err)
			}

			// Redirect URIs: one default at a time, unique URIs.
			for i, u := range []string{"https://a/1", "https://a/2"} {
				if err := s.InTx(ctx, func(q store.Queries) error {
					return q.CreateRedirectURI(ctx, store.RedirectURI{ID: fmt.Sprintf("redirect_uri_%d", i), URI: u, Default: true, CreatedAt: now})
				}); err != nil {
					t.Fatal(err)
				}
			}
			rs, _ := s.ListRedirectURIs(ctx)
			if len(rs) != 2 || rs[0].Default || !rs[1].Default {
				t.Fatalf("redirect uris %+v", rs)
			}
			if err := s.CreateRedirectURI(ctx, store.RedirectURI{ID: "redirect_uri_9", URI: "https://a/1", CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("duplicate uri: %v", err)
			}

			if err := s.DeleteConnection(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if cs, _ := s.ListCertificates(ctx, c.ID); len(cs) != 0 {
				t.Fatal("certificates outlived their connection")
			}
		})
	}
}
