package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

// BenchmarkSQLiteGetOrganization measures a primary-key read through the
// store, the shape of most hot-path reads.
func BenchmarkSQLiteGetOrganization(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "g.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	o := store.Organization{ID: id.New("org"), Name: "A", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateOrganization(ctx, o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetOrganization(ctx, o.ID); err != nil {
			b.Fatal(err)
		}
	}
}
