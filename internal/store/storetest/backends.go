// Package storetest is the conformance suite that every store backend must
// pass, and the helpers that give tests a fresh store on each backend.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Backend names a store backend and opens a fresh, empty store on it.
type Backend struct {
	Name string
	Open func(t testing.TB) store.Store
}

// Backends returns SQLite and, when GATEHOUSE_TEST_POSTGRES_URL is set,
// PostgreSQL. In CI (CI=true) a missing PostgreSQL URL fails the test
// rather than silently testing one backend.
func Backends(t testing.TB) []Backend {
	bs := []Backend{{Name: "sqlite", Open: OpenSQLite}}
	if os.Getenv("GATEHOUSE_TEST_POSTGRES_URL") != "" {
		bs = append(bs, Backend{Name: "postgres", Open: OpenPostgres})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("GATEHOUSE_TEST_POSTGRES_URL is not set; CI must test PostgreSQL")
	}
	return bs
}

// OpenSQLite returns a store on a new SQLite file in t's temp dir.
func OpenSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresURL returns a URL for a new, empty schema in the test database
// named by GATEHOUSE_TEST_POSTGRES_URL, dropped when t ends. A schema per
// test keeps tests independent and is much faster than a database per test.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES_URL not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres returns a store on a new schema (see PostgresURL).
func OpenPostgres(t testing.TB) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), PostgresURL(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
