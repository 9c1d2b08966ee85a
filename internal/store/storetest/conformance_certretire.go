package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// testCertificateRetirement covers Certificate.RetireAt through
// PutCertificate, ListCertificates and DeleteRetiredCertificates.
func testCertificateRetirement(t *testing.T, s store.Store) {
	o := newOrg("Certs")
	mustNil(t, s.CreateOrganization(ctx, o))
	now := time.Now().UTC().Truncate(time.Millisecond)
	conn := store.Connection{ID: id.New("conn"), OrganizationID: o.ID, Type: "GenericSAML", Name: "c", State: store.ConnectionDraft,
		Protocol: store.ProtocolSAML, CreatedAt: now, UpdatedAt: now}
	mustNil(t, s.CreateConnection(ctx, conn))
	cert := func(fp string, retire time.Time) store.Certificate {
		return store.Certificate{ConnectionID: conn.ID, Fingerprint: fp, PEM: "pem-" + fp, NotBefore: now, NotAfter: now.Add(365 * 24 * time.Hour),
			Source: "metadata", CreatedAt: now, RetireAt: retire}
	}
	mustNil(t, s.PutCertificate(ctx, cert("keep", time.Time{})))
	mustNil(t, s.PutCertificate(ctx, cert("soon", now.Add(time.Hour))))
	mustNil(t, s.PutCertificate(ctx, cert("back", now.Add(time.Hour))))
	// "back" reappears in the metadata: PutCertificate clears its RetireAt.
	mustNil(t, s.PutCertificate(ctx, cert("back", time.Time{})))

	list, err := s.ListCertificates(ctx, conn.ID)
	mustNil(t, err)
	got := map[string]time.Time{}
	for _, c := range list {
		got[c.Fingerprint] = c.RetireAt
	}
	if !got["keep"].IsZero() || !got["soon"].Equal(now.Add(time.Hour)) || !got["back"].IsZero() {
		t.Fatalf("RetireAt round trip: %v", got)
	}
	if gone, err := s.DeleteRetiredCertificates(ctx, now.Add(30*time.Minute)); err != nil || len(gone) != 0 {
		t.Fatalf("before the overlap ends: %v, %v", gone, err)
	}
	gone, err := s.DeleteRetiredCertificates(ctx, now.Add(2*time.Hour))
	mustNil(t, err)
	if len(gone) != 1 || gone[0].Fingerprint != "soon" {
		t.Fatalf("deleted %+v, want only soon", gone)
	}
	list, _ = s.ListCertificates(ctx, conn.ID)
	if len(list) != 2 {
		t.Errorf("%d certificates left, want 2", len(list))
	}
	if err := s.DeleteCertificate(ctx, conn.ID, "soon"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retired certificate still there: %v", err)
	}

	// RecordUnknownCertificate: the first sighting wins once, even when racing.
	firsts := make(chan bool, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			first, _, err := s.RecordUnknownCertificate(ctx, conn.ID, "new", now.Add(time.Hour), now)
			if err != nil {
				t.Errorf("record unknown certificate: %v", err)
			}
			firsts <- first
		})
	}
	wg.Wait()
	close(firsts)
	n := 0
	for f := range firsts {
		if f {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d first sightings, want 1", n)
	}
	if first, recent, _ := s.RecordUnknownCertificate(ctx, conn.ID, "other", now.Add(time.Hour), now); !first || recent != 2 {
		t.Errorf("another fingerprint: first %v, recent %d; want a first sighting and 2 recent", first, recent)
	}
	if _, recent, _ := s.RecordUnknownCertificate(ctx, conn.ID, "much later", now.Add(time.Hour), now.Add(48*time.Hour)); recent != 1 {
		t.Errorf("two days later %d recent, want 1", recent)
	}
}
