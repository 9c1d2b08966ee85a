package store

import (
	"context"
	"time"
)

// Delivery consumer states.
const (
	ConsumerActive   = "active"   // delivering
	ConsumerDisabled = "disabled" // switched off by its owner; the cursor stays
	ConsumerParked   = "parked"   // failed for too long; waits to be enabled again
)

// Consumer is one destination's durable position in the outbox (a webhook
// endpoint, a log stream, the audit-log projection): which events it wants,
// how far it has delivered, who delivers it now, and how it is failing.
type Consumer struct {
	Kind           string // the destination kind, e.g. "webhook", "log_stream"
	DestinationID  string // the destination's ID (we_…, als_…)
	OrganizationID string // only this organization's events; empty = all
	EventNames     []string
	// Cursor is the Seq of the last event delivered (or skipped by the
	// filter); delivery resumes after it.
	Cursor int64
	State  string // ConsumerActive, ConsumerDisabled or ConsumerParked

	LeaseOwner string    // the node delivering it; empty = nobody
	LeaseUntil time.Time // the lease ends then unless renewed

	Attempts         int       // failed attempts in a row
	NextAttemptAt    time.Time // zero = now
	FailingSince     time.Time // first failure of the current run of failures; zero = healthy
	LastErrorCode    string
	LastErrorMessage string
	LastErrorAt      time.Time
	LastSuccessAt    time.Time
	ParkedAt         time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConsumerFailure is one failed delivery attempt, recorded by RecordConsumerFailure.
type ConsumerFailure struct {
	Code, Message string
	At            time.Time
	NextAttemptAt time.Time
	// ParkIfFailingBefore parks the consumer when its current run of
	// failures began before this time.
	ParkIfFailingBefore time.Time
}

// Deliveries stores the outbox consumers. Every write that acts for a
// running delivery names the lease owner and fails with ErrNotFound when
// that node no longer holds the lease, so a node that lost its lease (it
// stalled, its lease expired and another node took over) cannot move the
// cursor.
type Deliveries interface {
	// PutConsumer creates c, its cursor at the outbox's current end (a new
	// destination receives events appended from now on), or, if it exists,
	// updates its organization, event names and state (never its cursor).
	// Call it in the transaction that creates or changes the destination.
	PutConsumer(ctx context.Context, c Consumer) error
	GetConsumer(ctx context.Context, kind, destinationID string) (Consumer, error)
	DeleteConsumer(ctx context.Context, kind, destinationID string) error
	// ClaimConsumers leases to owner until leaseUntil up to limit active
	// consumers that are due (NextAttemptAt ≤ now), not leased by another
	// node (or whose lease has expired) and not already checked up to the
	// outbox's end (MarkConsumerChecked), by compare-and-set, so each
	// consumer is delivered by one node at a time and idle ones cost nothing.
	ClaimConsumers(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Consumer, error)
	// RenewConsumerLease extends owner's lease; ErrNotFound if it was lost.
	RenewConsumerLease(ctx context.Context, kind, destinationID, owner string, until time.Time) error
	// ReleaseConsumer ends owner's lease so any node may claim it at once.
	ReleaseConsumer(ctx context.Context, kind, destinationID, owner string) error
	// MarkConsumerChecked records that owner read the outbox after cursor
	// up to seq and found nothing left to deliver; the consumer is not
	// claimed again until an event with a larger Seq exists. ErrNotFound if
	// owner lost the lease or the cursor is no longer cursor (a rewind).
	// Put, enabling and rewinding clear the mark.
	MarkConsumerChecked(ctx context.Context, kind, destinationID, owner string, cursor, seq int64) error
	// AdvanceConsumer moves the cursor from `from` to `to` after a
	// successful delivery and clears the failure run. ErrNotFound if owner
	// lost the lease or the cursor is no longer at from (a replay moved it).
	AdvanceConsumer(ctx context.Context, kind, destinationID, owner string, from, to int64, now time.Time) error
	// CommitLazily lets the transaction it is called in commit without
	// waiting for the database's log to reach the disk (on PostgreSQL
	// synchronous_commit=off for that transaction; SQLite, in WAL mode with
	// synchronous=NORMAL, commits every transaction that way). The commit is
	// visible at once, but a crash of the database server, not of
	// Gatehouse, may undo it: use it only where that is harmless, as for a
	// cursor move, after which events are sent again. Outside a
	// transaction it does nothing.
	CommitLazily(ctx context.Context) error
	// RecordConsumerFailure counts a failed attempt and schedules the next;
	// it parks the consumer if it has been failing since before
	// f.ParkIfFailingBefore and reports whether it did.
	RecordConsumerFailure(ctx context.Context, kind, destinationID, owner string, f ConsumerFailure) (parked bool, err error)
	// SetConsumerState enables (ConsumerActive: clears failures and parking,
	// due now), disables or parks a consumer; the cursor stays.
	SetConsumerState(ctx context.Context, kind, destinationID, state string, now time.Time) error
	// RewindConsumer moves the cursor back to just before the first event
	// created at or after since (never forward) and makes it due now. Until
	// the consumer is claimed again, AdvanceConsumer and MarkConsumerChecked
	// by the current lease holder fail with ErrNotFound, even if the cursor
	// did not move, so that a batch in flight during the rewind cannot carry
	// the cursor past since: the holder stops and the next claim reads from
	// the rewound cursor.
	RewindConsumer(ctx context.Context, kind, destinationID string, since, now time.Time) error
}
