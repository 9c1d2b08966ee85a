package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pipeline holds back the plain writes of a PostgreSQL transaction run
// with store.WithDeferredWrites and sends them as one pgx batch (one round
// trip, pipelined) before the transaction's next read or other statement,
// and before its commit. A grouped SCIM transaction that creates 100 users
// is otherwise 300 round trips (user, e-mail and event INSERTs), each a
// wake-up of the server, of its PostgreSQL backend and of both TCP stacks
// on the same cores; pipelined it is BEGIN, one batch and COMMIT.
//
// Statements in a batch run in order on the transaction's connection, so a
// later statement sees an earlier one's rows, as when sent one by one. The
// first failure aborts the transaction; it is kept in err, returned by
// every later flush, and returned by InTx whatever fn makes of it, so the
// transaction never commits without a write it was given.
type pipeline struct {
	conn  *sql.Conn
	batch pgx.Batch
	err   error
}

// add queues a write. After a failure there is nothing to queue for: the
// transaction will be rolled back.
func (p *pipeline) add(query string, args []any) {
	if p.err == nil {
		p.batch.Queue(query, args...)
	}
}

// flush sends the queued writes and waits for their results.
func (p *pipeline) flush(ctx context.Context) error {
	if p.err != nil || len(p.batch.QueuedQueries) == 0 {
		return p.err
	}
	b := p.batch
	p.batch = pgx.Batch{}
	// A panic must not leave Raw: it would hand driver.ErrBadConn to the
	// *sql.Conn, whose Close then waits for the open *sql.Tx forever. For
	// the same reason the callback must never return an error wrapping
	// driver.ErrBadConn (pgx's own errors do not).
	var panicked any
	err := p.conn.Raw(func(dc any) (err error) {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("deferred writes need pgx's database/sql driver, not %T", dc)
		}
		defer func() {
			if r := recover(); r != nil {
				panicked = r
				c.Close() // cut off mid-batch: the pool discards it
				err = fmt.Errorf("panic while sending: %v", r)
			}
		}()
		br := c.Conn().SendBatch(ctx, &b)
		for range b.Len() {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		p.err = fmt.Errorf("deferred writes: %w", err)
	}
	if panicked != nil {
		panic(panicked)
	}
	return p.err
}

// flushing runs the queued writes of p before any statement of its own, so
// that statements reach the database in the order the transaction made
// them.
type flushing struct {
	inner execer
	p     *pipeline
}

func (f flushing) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := f.p.flush(ctx); err != nil {
		return nil, err
	}
	return f.inner.ExecContext(ctx, q, args...)
}

func (f flushing) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := f.p.flush(ctx); err != nil {
		return nil, err
	}
	return f.inner.QueryContext(ctx, q, args...)
}

// QueryRowContext cannot hand a failed flush's error to its caller (a
// *sql.Row carries only its own), so the query runs anyway: after a failed
// batch the transaction is aborted and the query fails as well, and InTx
// fails with the batch's error whatever the caller made of the row.
func (f flushing) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	f.p.flush(ctx)
	return f.inner.QueryRowContext(ctx, q, args...)
}
