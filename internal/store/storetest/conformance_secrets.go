package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// secretTests check store.Secrets.
var secretTests = []suiteTest{
	{"sealed values are swapped in place", testReplaceSealed},
}

// testReplaceSealed covers store.Secrets.ReplaceSealed: the swap happens
// only where the old value still is, touches nothing else, and refuses
// unknown columns.
func testReplaceSealed(t *testing.T, s store.Store) {
	o := newOrg("Sealed")
	mustNil(t, s.CreateOrganization(ctx, o))
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := store.Connection{ID: id.New("conn"), OrganizationID: o.ID, Type: "GenericOIDC", Name: "c", State: store.ConnectionDraft,
		Protocol: store.ProtocolOIDC, CreatedAt: now, UpdatedAt: now}
	c.OIDC.ClientID, c.OIDC.ClientSecretSealed = "client", "v2:aaaa:OLDsealedVALUE+/0"
	mustNil(t, s.CreateConnection(ctx, c))

	ok, err := s.ReplaceSealed(ctx, store.SealedConnectionConfig, c.ID, "v2:aaaa:OLDsealedVALUE+/0", "v2:bbbb:NEWsealed")
	mustNil(t, err)
	if !ok {
		t.Fatal("the swap did not happen")
	}
	got, err := s.GetConnection(ctx, c.ID)
	mustNil(t, err)
	if got.OIDC.ClientSecretSealed != "v2:bbbb:NEWsealed" || got.OIDC.ClientID != "client" {
		t.Errorf("after the swap: %+v", got.OIDC)
	}
	// The old value is gone: a second, stale swap changes nothing.
	ok, err = s.ReplaceSealed(ctx, store.SealedConnectionConfig, c.ID, "v2:aaaa:OLDsealedVALUE+/0", "v2:cccc:LOST")
	mustNil(t, err)
	if ok {
		t.Error("a stale swap reported success")
	}
	if got, _ := s.GetConnection(ctx, c.ID); got.OIDC.ClientSecretSealed != "v2:bbbb:NEWsealed" {
		t.Errorf("a stale swap changed the value to %s", got.OIDC.ClientSecretSealed)
	}
	if ok, _ := s.ReplaceSealed(ctx, store.SealedConnectionConfig, "conn_missing", "v2:bbbb:NEWsealed", "x"); ok {
		t.Error("swap on a missing row")
	}
	if _, err := s.ReplaceSealed(ctx, "organizations.name", o.ID, "Sealed", "x"); err == nil {
		t.Error("an unknown column was accepted")
	}
	if _, err := s.ReplaceSealed(ctx, store.SealedConnectionConfig, c.ID, "%", "x"); err == nil {
		t.Error("a LIKE wildcard was accepted as a sealed value")
	}
}
