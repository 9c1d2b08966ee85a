package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

// benchStore opens a SQLite store in b's temp dir with one organization.
func benchStore(b *testing.B) (store.Store, store.Organization) {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "g.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Now()
	o := store.Organization{ID: id.New("org"), Name: "A", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateOrganization(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	return s, o
}

// BenchmarkSQLiteGetOrganization measures a primary-key read through the
// store, the shape of most hot-path reads.
func BenchmarkSQLiteGetOrganization(b *testing.B) {
	ctx := context.Background()
	s, o := benchStore(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetOrganization(ctx, o.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLiteGetConnection reads a SAML connection whose config has
// the size of a real one (IdP metadata with a certificate, two sealed SP
// keys): every authorize and ACS reads its connection.
func BenchmarkSQLiteGetConnection(b *testing.B) {
	ctx := context.Background()
	s, o := benchStore(b)
	now := time.Now()
	blob := strings.Repeat("MIIDdzCCAl+gAwIBAgIEb", 200) // ≈ 4 KB, like a base64 certificate or sealed key
	c := store.Connection{ID: id.New("conn"), OrganizationID: o.ID, Type: "OktaSAML", Name: "Okta", State: store.ConnectionActive,
		Protocol: store.ProtocolSAML, CreatedAt: now, UpdatedAt: now, SAML: store.SAMLConfig{
			IdPEntityID: "http://www.okta.com/exk1", IdPSSOURL: "https://example.okta.com/app/sso/saml",
			IdPMetadataXML: "<md:EntityDescriptor>" + blob + "</md:EntityDescriptor>", AllowIdPInitiated: true,
			SPKeys: []store.SPKey{{ID: "key_1", State: store.SPKeyActive, KeySealed: blob, CertificatePEM: blob}},
		}}
	if err := s.CreateConnection(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetConnection(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}
