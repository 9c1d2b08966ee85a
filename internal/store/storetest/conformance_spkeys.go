package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// testConnectionCompareAndSet covers UpdateConnectionIf: it writes only
// over the UpdatedAt it was given, and the SP key set round-trips.
func testConnectionCompareAndSet(t *testing.T, s store.Store) {
	o := newOrg("CAS")
	mustNil(t, s.CreateOrganization(ctx, o))
	now := time.Now().UTC().Truncate(time.Millisecond)
	conn := store.Connection{ID: id.New("conn"), OrganizationID: o.ID, Type: "GenericSAML", Name: "c", State: store.ConnectionDraft,
		Protocol: store.ProtocolSAML, CreatedAt: now, UpdatedAt: now}
	mustNil(t, s.CreateConnection(ctx, conn))

	next := conn
	next.UpdatedAt = now.Add(time.Second)
	next.SAML.SPKeys = []store.SPKey{
		{ID: "k1", State: store.SPKeyActive, KeySealed: "sealed-1", CertificatePEM: "pem-1", CreatedAt: now, ActivatedAt: now},
		{ID: "k2", State: store.SPKeyNext, KeySealed: "sealed-2", CertificatePEM: "pem-2", CreatedAt: now},
	}
	ok, err := s.UpdateConnectionIf(ctx, next, now)
	mustNil(t, err)
	if !ok {
		t.Fatal("update over the current UpdatedAt refused")
	}
	// A second writer that read the old row loses.
	stale := conn
	stale.Name = "stale"
	stale.UpdatedAt = now.Add(2 * time.Second)
	if ok, err := s.UpdateConnectionIf(ctx, stale, now); err != nil || ok {
		t.Fatalf("stale update: ok=%v err=%v, want refused", ok, err)
	}
	got, err := s.GetConnection(ctx, conn.ID)
	mustNil(t, err)
	if got.Name != "c" || len(got.SAML.SPKeys) != 2 || got.SAML.SPKeys[1].State != store.SPKeyNext ||
		got.SAML.SPKeys[0].KeySealed != "sealed-1" || !got.SAML.SPKeys[0].ActivatedAt.Equal(now) || !got.SAML.SPKeys[1].ActivatedAt.IsZero() {
		t.Fatalf("after compare-and-set: %+v", got)
	}
	missing := conn
	missing.ID = id.New("conn")
	if ok, err := s.UpdateConnectionIf(ctx, missing, now); err != nil || ok {
		t.Fatalf("missing connection: ok=%v err=%v", ok, err)
	}
}
