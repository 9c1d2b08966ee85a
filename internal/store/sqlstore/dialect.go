package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is what differs between SQLite and PostgreSQL. Queries are
// written once, with $N placeholders, which both drivers accept.
type Dialect interface {
	Name() string
	expand(sql string) string
	isUniqueViolation(err error) bool
	// isRetryable reports a transaction that failed only because of other
	// transactions (deadlock victim, serialization failure).
	isRetryable(err error) bool
	lockMigrations(ctx context.Context, c *sql.Conn) (unlock func(), err error)
	// eventPos is the SQL expression that AppendEvent stores as an event's
	// position (events.pos, its Seq). NULL leaves the numbering to the
	// sequencer (see sequencer.go), which runs only where it is NULL.
	eventPos() string
	// pipelines reports whether a transaction's plain writes can be
	// deferred and sent together (store.WithDeferredWrites): only where a
	// statement is a network round trip.
	pipelines() bool
}

// SQLite is the embedded backend's dialect.
type SQLite struct{}

// Name returns "sqlite".
func (SQLite) Name() string { return "sqlite" }

func (SQLite) expand(s string) string {
	return strings.NewReplacer(
		"{{SERIAL_PK}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{BYTES}}", "BLOB",
	).Replace(s)
}

func (SQLite) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	c := e.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isRetryable is false on SQLite: writers are serialised, so there are no
// deadlock victims, and busy_timeout already waits out other processes.
func (SQLite) isRetryable(error) bool { return false }

// lockMigrations needs nothing on SQLite: each migration's write
// transaction takes the database lock, and a finished one is skipped.
func (SQLite) lockMigrations(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

// eventPos numbers an event as it is inserted on SQLite: write
// transactions are serialised (BEGIN IMMEDIATE), so the next number at
// insert is the next number in commit order, and no sequencer is needed.
func (SQLite) eventPos() string { return `(SELECT COALESCE(MAX(pos), 0) + 1 FROM events)` }

// pipelines is false on SQLite: a statement is a function call, so there
// is no round trip to save.
func (SQLite) pipelines() bool { return false }

// Postgres is the multi-node backend's dialect.
type Postgres struct{}

// Name returns "postgres".
func (Postgres) Name() string { return "postgres" }

func (Postgres) expand(s string) string {
	return strings.NewReplacer(
		"{{SERIAL_PK}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"{{BYTES}}", "BYTEA",
	).Replace(s)
}

func (Postgres) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func (Postgres) isRetryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
}

// pgLockMigrations is the advisory lock key of migrations, arbitrary but
// fixed ("gateh").
const pgLockMigrations = 0x6761746568

func (Postgres) lockMigrations(ctx context.Context, c *sql.Conn) (func(), error) {
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(pgLockMigrations)); err != nil {
		return nil, err
	}
	return func() {
		c.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(pgLockMigrations))
	}, nil
}

// eventPos leaves a PostgreSQL event unnumbered: a sequence value drawn in
// a transaction is not commit order (seq 7 can commit after seq 8, behind a
// reader that has moved past 8), so the sequencer numbers events only once
// they have committed (see sequencer.go). Writers take no lock.
func (Postgres) eventPos() string { return `NULL` }

// pipelines is true: each statement is a round trip to the server.
func (Postgres) pipelines() bool { return true }
