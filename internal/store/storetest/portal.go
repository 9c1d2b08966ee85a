package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// testPortalLinks: a link round-trips, is taken once (also by racing
// callers), and expired ones are swept.
// portalTests check store.Portal.
var portalTests = []suiteTest{
	{"portal links are used once", testPortalLinks},
	{"portal sessions slide and expire", testPortalSessions},
}

func testPortalLinks(t *testing.T, s store.Store) {
	o := newOrg("Portal")
	mustNil(t, s.CreateOrganization(ctx, o))
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := store.PortalLink{Hash: []byte("link-hash-1"), OrganizationID: o.ID, Intent: "sso", ReturnURL: "https://app.example/r",
		SuccessURL: "https://app.example/s", Options: `{"it_contact_emails":["it@acme.example"]}`, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	mustNil(t, s.CreatePortalLink(ctx, l))
	if err := s.CreatePortalLink(ctx, l); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate link hash: %v, want ErrConflict", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []store.PortalLink
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g, err := s.TakePortalLink(ctx, l.Hash); err == nil {
				mu.Lock()
				got = append(got, g)
				mu.Unlock()
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("take: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("link taken %d times, want once", len(got))
	}
	g := got[0]
	if !bytes.Equal(g.Hash, l.Hash) || g.OrganizationID != o.ID || g.Intent != "sso" || g.ReturnURL != l.ReturnURL ||
		g.SuccessURL != l.SuccessURL || g.Options != l.Options || !g.CreatedAt.Equal(l.CreatedAt) || !g.ExpiresAt.Equal(l.ExpiresAt) {
		t.Errorf("taken link = %+v, want %+v", g, l)
	}

	old := l
	old.Hash, old.ExpiresAt = []byte("link-hash-old"), now.Add(-time.Minute)
	mustNil(t, s.CreatePortalLink(ctx, old))
	mustNil(t, s.DeleteExpiredPortal(ctx, now))
	if _, err := s.TakePortalLink(ctx, old.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired link after sweep: %v, want ErrNotFound", err)
	}
}

// testPortalSessions: sessions round-trip, slide within their maximum,
// cannot be revived once idle-expired, and go with their organization.
func testPortalSessions(t *testing.T, s store.Store) {
	o := newOrg("Portal")
	mustNil(t, s.CreateOrganization(ctx, o))
	now := time.Now().UTC().Truncate(time.Millisecond)
	ps := store.PortalSession{Hash: []byte("sess-hash-1"), ID: id.New("portal"), OrganizationID: o.ID, Intent: "",
		ReturnURL: "https://app.example/r", Options: "{}", CreatedAt: now, IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(8 * time.Hour)}
	mustNil(t, s.CreatePortalSession(ctx, ps))
	g, err := s.GetPortalSession(ctx, ps.Hash)
	mustNil(t, err)
	if g.ID != ps.ID || g.OrganizationID != o.ID || g.ReturnURL != ps.ReturnURL || !g.IdleExpiresAt.Equal(ps.IdleExpiresAt) || !g.ExpiresAt.Equal(ps.ExpiresAt) {
		t.Fatalf("session = %+v, want %+v", g, ps)
	}
	if _, err := s.GetPortalSession(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}

	// Sliding: the idle expiry moves, but never past the maximum.
	mustNil(t, s.TouchPortalSession(ctx, ps.Hash, now.Add(10*time.Minute), now.Add(40*time.Minute)))
	g, _ = s.GetPortalSession(ctx, ps.Hash)
	if !g.IdleExpiresAt.Equal(now.Add(40 * time.Minute)) {
		t.Errorf("after touch idle = %v, want %v", g.IdleExpiresAt, now.Add(40*time.Minute))
	}
	mustNil(t, s.TouchPortalSession(ctx, ps.Hash, now.Add(30*time.Minute), now.Add(8*time.Hour+20*time.Minute)))
	g, _ = s.GetPortalSession(ctx, ps.Hash)
	if !g.IdleExpiresAt.Equal(ps.ExpiresAt) {
		t.Errorf("touch past the maximum: idle = %v, want capped at %v", g.IdleExpiresAt, ps.ExpiresAt)
	}
	// An expired session cannot be touched back to life.
	if err := s.TouchPortalSession(ctx, ps.Hash, now.Add(9*time.Hour), now.Add(10*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("touch of an expired session: %v, want ErrNotFound", err)
	}

	mustNil(t, s.DeleteExpiredPortal(ctx, now.Add(9*time.Hour)))
	if _, err := s.GetPortalSession(ctx, ps.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session after sweep: %v", err)
	}

	ps2 := ps
	ps2.Hash, ps2.ID = []byte("sess-hash-2"), id.New("portal")
	mustNil(t, s.CreatePortalSession(ctx, ps2))
	mustNil(t, s.DeletePortalSession(ctx, ps2.Hash))
	if _, err := s.GetPortalSession(ctx, ps2.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}

	ps3 := ps
	ps3.Hash, ps3.ID = []byte("sess-hash-3"), id.New("portal")
	mustNil(t, s.CreatePortalSession(ctx, ps3))
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	if _, err := s.GetPortalSession(ctx, ps3.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a deleted organization: %v", err)
	}
}
