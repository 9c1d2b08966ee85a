package store

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one entry of the outbox that feeds /events, webhooks, log
// streams and the audit log.
type Event struct {
	Seq            int64 // commit order; assigned by the store
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
}

// Events is the transactional outbox.
type Events interface {
	// AppendEvent adds e; ErrConflict if its ID is taken. Called in the
	// transaction of the change it reports (InTx); readers never see a
	// later Seq commit before an earlier one. Outside a transaction
	// PostgreSQL cannot keep that promise.
	AppendEvent(ctx context.Context, e Event) error
	// ListEvents returns up to limit events in Seq order (ascending unless
	// desc), after f.AfterSeq (before it when desc). The range bounds are
	// inclusive.
	ListEvents(ctx context.Context, f EventFilter, limit int, desc bool) ([]Event, error)
	GetEvent(ctx context.Context, id string) (Event, error)
}
