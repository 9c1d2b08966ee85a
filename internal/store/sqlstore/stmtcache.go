package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the cache: queries built with a varying
// number of placeholders (IN lists) would otherwise grow it without end.
const maxCachedStatements = 512

// stmtCache prepares each distinct query once per handle and reuses it.
// SQLite spends much of a small query's time parsing SQL, and database/sql
// does not cache prepared statements by itself; PostgreSQL needs no cache
// here because pgx caches statements per connection already.
type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// cached returns the prepared statement for query, or nil.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[query]
}

// stmt returns the prepared statement for query, preparing it if needed,
// or nil when the cache is full or preparing failed (the caller then runs
// the query unprepared, which also reports any syntax error in the usual
// way). It takes a connection of the handle, so it must not be called by a
// goroutine that holds the SQLite writer's only connection in a transaction.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	s := c.stmts[query]
	n := len(c.stmts)
	c.mu.RUnlock()
	if s != nil || n >= maxCachedStatements {
		return s
	}
	// Prepared with plain ? placeholders where that binds the same way
	// (see positional); the cache stays keyed by the query as written.
	s, err := c.db.PrepareContext(ctx, positional(query))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[query]; prev != nil {
		s.Close()
		return prev
	}
	c.stmts[query] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

// cachedDB runs queries on a handle through its statement cache.
type cachedDB struct{ c *stmtCache }

func (d cachedDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := d.c.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return d.c.db.ExecContext(ctx, q, args...)
}

func (d cachedDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := d.c.stmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return d.c.db.QueryContext(ctx, q, args...)
}

func (d cachedDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := d.c.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return d.c.db.QueryRowContext(ctx, q, args...)
}

// cachedTx runs queries in a transaction through the cache of the handle
// the transaction belongs to. It cannot prepare a missing statement itself:
// on SQLite the transaction holds the writer's only connection, and
// preparing on the handle would wait for that connection forever. Misses
// run unprepared and are prepared after the transaction ends (warm).
type cachedTx struct {
	tx     *sql.Tx
	c      *stmtCache
	missed *[]string
}

func (t cachedTx) prepared(ctx context.Context, q string) *sql.Stmt {
	if s := t.c.cached(q); s != nil {
		return t.tx.StmtContext(ctx, s)
	}
	*t.missed = append(*t.missed, q)
	return nil
}

func (t cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := t.prepared(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := t.prepared(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := t.prepared(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// warm prepares the statements a finished transaction missed.
func (c *stmtCache) warm(ctx context.Context, queries []string) {
	for _, q := range queries {
		c.stmt(ctx, q)
	}
}
