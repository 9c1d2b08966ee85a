// Package groupcommit runs the small write transactions of concurrent
// requests in shared transactions ("group commit"): SSO login steps and
// SCIM writes, each domain with a committer of its own so that a large
// SCIM group never delays a login.
//
// The commit itself, not the work, is most of a small transaction's cost:
// on SQLite, which has one writer, every commit appends each page it
// dirtied to the WAL (the same index and table pages, again and again,
// when requests insert side by side) and later checkpoints them; on
// PostgreSQL every commit waits for the WAL flush and BEGIN and COMMIT are
// two network round trips. A burst of requests therefore commits together.
// Measured with bench/scim on PostgreSQL (docs/benchmarks.md): 2.5× the
// users per second of one transaction per request, at less than half the
// CPU per user.
package groupcommit

import (
	"context"
	"errors"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MaxGroup bounds the writes that share one transaction.
const MaxGroup = 256

// TxRunner runs fn in one transaction (store.Store does).
type TxRunner interface {
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// Committer groups the writes handed to InTx while Run runs. Each write
// runs under the shared transaction; if one fails, the group is rolled
// back and every write runs again in a transaction of its own (see
// commitGroup), so each caller learns exactly its own outcome, and only
// after the commit. One group runs at a time per node, so groups of one
// node never wait on each other's row locks; a group that loses a deadlock
// to another node's transaction is run again write by write.
//
// A write may therefore run more than once (the store's InTx already
// retries on conflicts): fn must not keep state from a rolled-back run,
// and must not itself call InTx on the same committer, which would wait
// for its own group forever.
type Committer struct {
	st TxRunner

	mu      sync.Mutex // guards ops and stopped
	ops     chan *op
	stopped chan struct{}
}

type op struct {
	ctx context.Context
	fn  func(q store.Queries) error
	err error
	// panicked is what fn panicked with, raised again in the caller's
	// goroutine (where the HTTP server's recovery answers 500) rather than
	// on Run's, which would end the process.
	panicked any
	done     chan struct{}
}

// errPanicked rolls back the transaction of a write that panicked.
var errPanicked = errors.New("groupcommit: write panicked")

// run runs fn, turning a panic into errPanicked.
func (o *op) run(q store.Queries) (err error) {
	defer func() {
		if p := recover(); p != nil {
			o.panicked, err = p, errPanicked
		}
	}()
	return o.fn(q)
}

// New returns a committer over st. Until Run starts (and after it stops)
// InTx runs each write in its own transaction.
func New(st TxRunner) *Committer { return &Committer{st: st} }

// Run groups writes until ctx ends.
func (c *Committer) Run(ctx context.Context) {
	ops, stopped := make(chan *op), make(chan struct{})
	c.mu.Lock()
	c.ops, c.stopped = ops, stopped
	c.mu.Unlock()
	defer close(stopped)
	// The group's transaction outlives a caller that gives up; that
	// caller's own write notices (see commitGroup).
	gctx := context.WithoutCancel(ctx)
	for {
		var first *op
		select {
		case <-ctx.Done():
			return
		case first = <-ops:
		}
		group := []*op{first}
	drain:
		for len(group) < MaxGroup {
			select {
			case o := <-ops:
				group = append(group, o)
			default:
				break drain
			}
		}
		c.commitGroup(gctx, group)
	}
}

// errRetryAlone rolls a group back when one of its writes failed.
var errRetryAlone = errors.New("groupcommit: a grouped write failed")

// commitGroup runs the group in one transaction. A write whose caller went
// away before it ran is left out. If any write fails (a duplicate, a
// replayed assertion), the group is rolled back and every write runs again
// in a transaction of its own. Savepoints would avoid the retry but cost
// more on the common path: SQLite journals every page a savepoint touches.
// A failed commit (store.ErrCommit) is not retried write by write: it may
// have committed, and each caller gets the error as it would have alone.
//
// Since any other failure sends every write back to run alone, the shared
// transaction lets the store defer plain writes and send them together
// (store.WithDeferredWrites): on PostgreSQL a group of SCIM user creations
// is then BEGIN, one pipelined batch and COMMIT instead of three round
// trips per user. The writes run alone are never deferred, so each
// caller's error is exactly its own.
func (c *Committer) commitGroup(ctx context.Context, group []*op) {
	if len(group) == 1 {
		o := group[0]
		if o.err = o.ctx.Err(); o.err == nil {
			o.err = c.st.InTx(o.ctx, o.run)
		}
		close(o.done)
		return
	}
	err := c.st.InTx(store.WithDeferredWrites(ctx), func(q store.Queries) error {
		for _, o := range group {
			if o.err = o.ctx.Err(); o.err != nil {
				continue
			}
			if o.err = o.run(q); o.err != nil {
				return errRetryAlone
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrCommit):
		for _, o := range group {
			if o.err == nil {
				o.err = err
			}
		}
	case err != nil:
		for _, o := range group {
			if o.panicked != nil {
				continue
			}
			if o.err = o.ctx.Err(); o.err == nil {
				o.err = c.st.InTx(o.ctx, o.run)
			}
		}
	}
	for _, o := range group {
		close(o.done)
	}
}

// InTx runs fn in a transaction: a shared one while Run runs.
func (c *Committer) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	c.mu.Lock()
	ops, stopped := c.ops, c.stopped
	c.mu.Unlock()
	if ops == nil {
		return c.st.InTx(ctx, fn)
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case ops <- o:
	case <-stopped:
		return c.st.InTx(ctx, fn)
	case <-ctx.Done():
		return ctx.Err()
	}
	<-o.done
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.err
}
