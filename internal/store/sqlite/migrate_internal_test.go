package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	msqlite "modernc.org/sqlite"

	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

// cacheUsed is the page cache memory of db's one connection, in bytes.
func cacheUsed(t *testing.T, db *sql.DB) int {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var used int
	if err := c.Raw(func(dc any) error {
		var err error
		used, _, err = dc.(msqlite.DBStatus).Status(msqlite.DBStatusCacheUsed, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return used
}

// TestMigrateEmptiesTheWriterCache: the migrations of a new database fill
// the writer's page cache with every page they wrote; migrate hands that
// memory back, and the database is fully migrated.
func TestMigrateEmptiesTheWriterCache(t *testing.T) {
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "g.db")+"?_pragma=journal_mode(WAL)&_pragma=cache_size(-4096)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx := context.Background()

	plain := open()
	if _, err := sqlstore.Migrate(ctx, plain, sqlstore.SQLite{}); err != nil {
		t.Fatal(err)
	}
	full := cacheUsed(t, plain)
	if full < 100<<10 {
		t.Fatalf("plain migrations leave %d bytes cached; the test expects the pages they wrote", full)
	}

	db := open()
	if err := migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got := cacheUsed(t, db); got > full/10 {
		t.Errorf("after migrate the writer caches %d bytes, want at most a tenth of %d", got, full)
	}
	applied, err := sqlstore.Migrate(ctx, db, sqlstore.SQLite{})
	if err != nil {
		t.Fatal(err)
	}
	if applied != 0 {
		t.Errorf("migrate left %d migrations to apply", applied)
	}
}
