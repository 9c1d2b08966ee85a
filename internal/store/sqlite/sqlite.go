// Package sqlite opens Gatehouse's embedded SQLite store (pure Go, no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"

	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (creating if needed) the database file at path, applies
// migrations and returns the store. SQLite allows one writer at a time, so
// writes go through a single connection in immediate-mode transactions
// (queued in Go rather than retried on SQLITE_BUSY), and reads use a
// separate pool that WAL lets run beside the writer.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	pragmas := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		pragmas.Add("_pragma", p)
	}
	// Page caches are small on purpose. The SQLite allocator (modernc's
	// libc) rounds each cached 4 KiB page up to an 8 KiB slot, so a cache
	// costs about twice its nominal size in resident memory. The one writer
	// gets 4 MiB (SQLite's default is 2 MiB: once the indexes outgrow that
	// every insert re-reads index pages, which more than halved SCIM
	// provisioning throughput at 100k users); at 4 MiB the 100k-user bench
	// costs the same CPU per user as at 8 or 16 MiB, and its peak resident
	// set falls from 83 MB (16 MiB) to about 62 MB. Readers get 512 KiB each:
	// they serve single-row look-ups and short pages, and the OS page
	// cache holds the file anyway (see docs/benchmarks.md, Memory).
	writer, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode()+"&_pragma=cache_size(-4096)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode()+"&_pragma=query_only(1)&_pragma=cache_size(-512)")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	return sqlstore.New(sqlstore.SQLite{}, writer, reader, true), nil
}

// migrate applies the migrations on the writer, then empties its page
// cache. On a new database the migrations leave every page they wrote in
// it (about 1 MB resident in modernc's 8 KiB slots) although a node then
// reads few of them; freed, the allocator reuses that memory for the
// readers' caches instead of mapping more. The cache refills as it is used.
func migrate(ctx context.Context, writer *sql.DB) error {
	if _, err := sqlstore.Migrate(ctx, writer, sqlstore.SQLite{}); err != nil {
		return err
	}
	if _, err := writer.ExecContext(ctx, "PRAGMA shrink_memory"); err != nil {
		return fmt.Errorf("shrink memory after migrations: %w", err)
	}
	return nil
}
