package store

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one entry of the outbox that feeds /events, webhooks, log
// streams and the audit log.
type Event struct {
	Seq            int64 // position in the outbox, given once its transaction committed; assigned by the store
	ID             string
	Name           string // e.g. "organization.created"
	OrganizationID string // empty when the event belongs to no organization
	Data           json.RawMessage
	Context        json.RawMessage // optional
	CreatedAt      time.Time
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	Names          []string
	OrganizationID string
	RangeStart     time.Time // zero = open
	RangeEnd       time.Time // zero = open
	AfterSeq       int64     // read only events with a larger Seq
	// NoWait reads the events numbered so far without first waiting for
	// those committed just before the call to be numbered (on PostgreSQL a
	// sequencer numbers them moments after their commit; see ListEvents).
	// For a consumer that reads again anyway, such as one draining a
	// backlog.
	NoWait bool
}

// Events is the transactional outbox.
type Events interface {
	// AppendEvent adds e; ErrConflict if its ID is taken. Called in the
	// transaction of the change it reports (InTx). The store gives an
	// event its Seq only after its transaction commits, above every Seq
	// already given, so a reader following Seq never has an event appear
	// behind it; readers see an event only once it has its
	// Seq, which is by the time InTx (or a lone AppendEvent) returns,
	// unless the store could not number it then (it does so moments later).
	AppendEvent(ctx context.Context, e Event) error
	// ListEvents returns up to limit events in Seq order (ascending unless
	// desc), after f.AfterSeq (before it when desc). The range bounds are
	// inclusive. Outside a transaction it sees every event committed before
	// the call (unless f.NoWait), as GetEvent does.
	ListEvents(ctx context.Context, f EventFilter, limit int, desc bool) ([]Event, error)
	GetEvent(ctx context.Context, id string) (Event, error)
}
