package delivery

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// NotifyOnAppend wraps st so that nudge runs after every committed write
// that appended an event: after the transaction commits (never before, or a
// consumer could read too early and then sleep until the next poll), or
// after a lone AppendEvent outside a transaction.
func NotifyOnAppend(st store.Store, nudge func()) store.Store {
	return notifyStore{Store: st, nudge: nudge}
}

type notifyStore struct {
	store.Store
	nudge func()
}

func (s notifyStore) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	appended := false
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		appended = false // a retried transaction starts again
		return fn(notifyQueries{Queries: q, appended: &appended})
	})
	if err == nil && appended {
		s.nudge()
	}
	return err
}

func (s notifyStore) AppendEvent(ctx context.Context, e store.Event) error {
	err := s.Store.AppendEvent(ctx, e)
	if err == nil {
		s.nudge()
	}
	return err
}

type notifyQueries struct {
	store.Queries
	appended *bool
}

func (q notifyQueries) AppendEvent(ctx context.Context, e store.Event) error {
	*q.appended = true
	return q.Queries.AppendEvent(ctx, e)
}
