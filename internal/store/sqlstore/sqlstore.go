// Package sqlstore implements store.Store on database/sql for both SQLite
// (modernc.org/sqlite) and PostgreSQL (pgx through its stdlib adapter). The
// SQL is shared; the few differences live in Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is a store.Store over one or two database handles.
type DB struct {
	queries
	writer *sql.DB
	reader *sql.DB
	// wc and rc are statement caches (SQLite only; nil on PostgreSQL).
	wc, rc *stmtCache
}

// queries implements store.Queries. Outside a transaction r and w differ on
// SQLite (a pool of readers and the one writer connection); inside one both
// are the transaction.
type queries struct {
	d    Dialect
	r, w execer
	inTx bool
	// configs decodes connection configs (shared by the DB and its
	// transactions).
	configs *configCache
	// seq numbers appended events where the dialect leaves that to a
	// sequencer (PostgreSQL); nil on SQLite.
	seq *sequencer
	// appended is set in a transaction that appended an event.
	appended bool
	// deferred, in a transaction run with store.WithDeferredWrites on
	// PostgreSQL, collects the writes exec may send later (pipeline.go).
	deferred *pipeline
}

var _ store.Store = (*DB)(nil)

// New wraps open handles. reader may be the same as writer. With
// cacheStatements each distinct query is prepared once per handle.
func New(d Dialect, writer, reader *sql.DB, cacheStatements bool) *DB {
	db := &DB{queries: queries{d: d, r: reader, w: writer, configs: &configCache{}}, writer: writer, reader: reader}
	if d.eventPos() == "NULL" {
		db.queries.seq = newSequencer(writer)
	}
	if cacheStatements {
		db.wc = newStmtCache(writer)
		db.rc = db.wc
		if reader != writer {
			db.rc = newStmtCache(reader)
		}
		db.queries.w, db.queries.r = cachedDB{db.wc}, cachedDB{db.rc}
	}
	db.queries.w, db.queries.r = textChecked{db.queries.w}, textChecked{db.queries.r}
	return db
}

// Dialect returns the backend's name.
func (db *DB) Dialect() string { return db.d.Name() }

// Ping checks both handles.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return err
	}
	if db.reader != db.writer {
		return db.reader.PingContext(ctx)
	}
	return nil
}

// Close stops the sequencer and closes the handles.
func (db *DB) Close() error {
	if db.seq != nil {
		db.seq.close()
	}
	if db.wc != nil {
		db.wc.close()
		db.rc.close()
	}
	err := db.writer.Close()
	if db.reader != db.writer {
		err = errors.Join(err, db.reader.Close())
	}
	return err
}

// Writer returns the handle that writes, for tools such as benchmarks.
func (db *DB) Writer() *sql.DB { return db.writer }

// maxTxAttempts bounds how often a transaction that lost a deadlock or a
// serialization conflict is run again.
const maxTxAttempts = 4

// InTx runs fn in a transaction on the writer. On PostgreSQL a transaction
// chosen as a deadlock victim (or failing serialization) is run again from
// the start, so concurrent writers that lock rows in different orders (a
// user deleted while a group gains that user) both succeed instead of one
// answering 500. fn must therefore have no effects outside the database
// other than assigning its results.
func (db *DB) InTx(ctx context.Context, fn func(q store.Queries) error) (err error) {
	for attempt := 1; ; attempt++ {
		err = db.inTxOnce(ctx, fn)
		if err == nil || attempt == maxTxAttempts || !db.d.isRetryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
}

func (db *DB) inTxOnce(ctx context.Context, fn func(q store.Queries) error) (err error) {
	// Deferred writes (see pipeline.go) are sent on the transaction's
	// connection, so the transaction is begun on one held for it.
	var conn *sql.Conn
	if store.DeferredWrites(ctx) && db.d.pipelines() {
		if conn, err = db.writer.Conn(ctx); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer conn.Close()
	}
	var tx *sql.Tx
	if conn != nil {
		tx, err = conn.BeginTx(ctx, nil)
	} else {
		tx, err = db.writer.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	var ex execer = tx
	var missed []string
	if db.wc != nil {
		ex = cachedTx{tx: tx, c: db.wc, missed: &missed}
		defer func() { db.wc.warm(context.WithoutCancel(ctx), missed) }()
	}
	var p *pipeline
	if conn != nil {
		p = &pipeline{conn: conn}
		ex = flushing{inner: ex, p: p}
	}
	ex = textChecked{ex}
	q := &queries{d: db.d, r: ex, w: ex, inTx: true, configs: db.configs, deferred: p}
	if err := fn(q); err != nil {
		tx.Rollback()
		if p != nil && p.err != nil {
			// fn's error may be a consequence; the batch's is the cause
			// (and tells InTx whether running again can help).
			return q.mapErr(p.err)
		}
		return err
	}
	if p != nil {
		if err := p.flush(ctx); err != nil {
			tx.Rollback()
			return q.mapErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.mapErr(fmt.Errorf("%w: %w", store.ErrCommit, err))
	}
	if q.appended && db.seq != nil {
		db.seq.poke()
	}
	return nil
}

// mapErr turns driver uniqueness errors into store.ErrConflict.
func (q *queries) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if q.d.isUniqueViolation(err) {
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// exec runs a write and reports store.ErrNotFound when it touched no row
// and mustTouch is set.
func (q *queries) exec(ctx context.Context, mustTouch bool, query string, args ...any) error {
	if q.deferred != nil && !mustTouch {
		// The same refusal textChecked gives, at once.
		if !storable(args) {
			return errInvalidText
		}
		q.deferred.add(query, args)
		return nil
	}
	res, err := q.w.ExecContext(ctx, query, args...)
	if err != nil {
		return q.mapErr(err)
	}
	if mustTouch {
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
	}
	return nil
}
