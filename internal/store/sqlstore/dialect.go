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
	// lockEvents is called in a transaction before an event is appended, so
	// that events commit in Seq order (see AppendEvent).
	lockEvents(ctx context.Context, tx execer) error
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

// lockEvents needs nothing on SQLite: write transactions are serialised
// (BEGIN IMMEDIATE), so commit order is Seq order already.
func (SQLite) lockEvents(context.Context, execer) error { return nil }

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

// Advisory lock keys, arbitrary but fixed.
const (
	pgLockMigrations = 0x6761746568 // "gateh"
	pgLockEvents     = 0x6576656e74 // "event"
)

func (Postgres) lockMigrations(ctx context.Context, c *sql.Conn) (func(), error) {
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(pgLockMigrations)); err != nil {
		return nil, err
	}
	return func() {
		c.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(pgLockMigrations))
	}, nil
}

// lockEvents takes a transaction-scoped advisory lock before the event's
// sequence number is drawn. A sequence is not commit order: without the
// lock, a transaction could draw seq 7, commit after another drew and
// committed seq 8, and a reader at cursor 8 would never see 7. Holding the
// lock from the draw to the commit makes the two orders equal; events are
// appended last in their transaction so the lock is held briefly.
func (Postgres) lockEvents(ctx context.Context, tx execer) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgLockEvents))
	return err
}
