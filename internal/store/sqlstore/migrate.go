package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrMigrationOrder is returned (wrapped) when a pending migration is
// numbered below one the database has already applied.
var ErrMigrationOrder = errors.New("migrations out of order")

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one embedded, versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order, with the
// dialect's macros expanded. File names are NNNN_name.sql; versions are
// forward-only and never edited once released.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: d.expand(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies every embedded migration not yet applied (see Apply).
func Migrate(ctx context.Context, db *sql.DB, d Dialect) (applied int, err error) {
	ms, err := Migrations(d)
	if err != nil {
		return 0, err
	}
	return Apply(ctx, db, d, ms)
}

// Apply applies the migrations of ms not yet applied, in version order,
// each in its own transaction, under a lock so that nodes starting together
// apply each once. A pending migration numbered below the highest applied
// one is refused before anything runs: it would run first on a fresh
// database and last on this one, so the two would end in different schemas.
func Apply(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) (applied int, err error) {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := d.lockMigrations(ctx, conn)
	if err != nil {
		return 0, fmt.Errorf("migrate: lock: %w", err)
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done := map[int]bool{}
	var last Migration // the highest applied
	rows, err := conn.QueryContext(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("migrate: read versions: %w", err)
	}
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Version, &m.Name); err != nil {
			rows.Close()
			return 0, fmt.Errorf("migrate: read versions: %w", err)
		}
		done[m.Version] = true
		if m.Version > last.Version {
			last = m
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("migrate: read versions: %w", err)
	}
	for _, m := range ms {
		if !done[m.Version] && m.Version < last.Version {
			return 0, fmt.Errorf("%w: %04d_%s is pending but the database already has %04d_%s; "+
				"a migration must be numbered above every released one (renumber it, or restore a database from before %04d)",
				ErrMigrationOrder, m.Version, m.Name, last.Version, last.Name, last.Version)
		}
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %04d_%s: record: %w", m.Version, m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("migrate %04d_%s: commit: %w", m.Version, m.Name, err)
		}
		applied++
	}
	return applied, nil
}
