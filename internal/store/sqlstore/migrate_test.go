package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// migrationDB is an empty database on each backend, without Gatehouse's
// schema, so that tests can apply migrations of their own.
func migrationDBs(t *testing.T) map[string]func(t *testing.T) (*sql.DB, sqlstore.Dialect) {
	out := map[string]func(t *testing.T) (*sql.DB, sqlstore.Dialect){}
	for _, b := range storetest.Backends(t) {
		switch b.Name {
		case "sqlite":
			out[b.Name] = func(t *testing.T) (*sql.DB, sqlstore.Dialect) {
				db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
				if err != nil {
					t.Fatal(err)
				}
				db.SetMaxOpenConns(1)
				t.Cleanup(func() { db.Close() })
				return db, sqlstore.SQLite{}
			}
		case "postgres":
			out[b.Name] = func(t *testing.T) (*sql.DB, sqlstore.Dialect) {
				db, err := sql.Open("pgx", storetest.PostgresURL(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db, sqlstore.Postgres{}
			}
		}
	}
	return out
}

// TestMigrationOrder: a pending migration numbered below the highest
// applied one is refused before anything runs, with both versions named;
// on a fresh database the same set applies in version order.
func TestMigrationOrder(t *testing.T) {
	m1 := sqlstore.Migration{Version: 1, Name: "one", SQL: `CREATE TABLE one (id INTEGER)`}
	m2 := sqlstore.Migration{Version: 2, Name: "two", SQL: `CREATE TABLE two (id INTEGER)`}
	m3 := sqlstore.Migration{Version: 3, Name: "three", SQL: `CREATE TABLE three (id INTEGER)`}
	m4 := sqlstore.Migration{Version: 4, Name: "four", SQL: `CREATE TABLE four (id INTEGER)`}
	for name, open := range migrationDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, d := open(t)
			if n, err := sqlstore.Apply(ctx, db, d, []sqlstore.Migration{m1, m3}); err != nil || n != 2 {
				t.Fatalf("first apply: %d, %v", n, err)
			}
			// A release that adds 0002 and 0004 after 0003 shipped.
			n, err := sqlstore.Apply(ctx, db, d, []sqlstore.Migration{m4, m3, m2, m1})
			if !errors.Is(err, sqlstore.ErrMigrationOrder) || n != 0 {
				t.Fatalf("out-of-order apply: %d, %v", n, err)
			}
			for _, want := range []string{"0002_two", "0003_three"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			for _, table := range []string{"two", "four"} {
				if _, err := db.ExecContext(ctx, `SELECT id FROM `+table); err == nil {
					t.Errorf("table %s was created although the set was refused", table)
				}
			}
			// Without the stray one, the newer migration applies.
			if n, err := sqlstore.Apply(ctx, db, d, []sqlstore.Migration{m1, m3, m4}); err != nil || n != 1 {
				t.Fatalf("in-order apply: %d, %v", n, err)
			}

			fresh, d := open(t)
			if n, err := sqlstore.Apply(ctx, fresh, d, []sqlstore.Migration{m4, m2, m3, m1}); err != nil || n != 4 {
				t.Fatalf("fresh apply: %d, %v", n, err)
			}
		})
	}
}

// TestEmbeddedMigrationsApplyTwice: the real migrations apply on an empty
// database and a second run applies nothing.
func TestEmbeddedMigrationsApplyTwice(t *testing.T) {
	for name, open := range migrationDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, d := open(t)
			if n, err := sqlstore.Migrate(ctx, db, d); err != nil || n == 0 {
				t.Fatalf("migrate: %d, %v", n, err)
			}
			if n, err := sqlstore.Migrate(ctx, db, d); err != nil || n != 0 {
				t.Fatalf("second migrate: %d, %v", n, err)
			}
		})
	}
}
