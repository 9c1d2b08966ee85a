// Package delivery moves events out of the outbox to their destinations
// (webhook endpoints, log streams): one durable consumer per destination,
// each with its own cursor and lease, sending through a Sink.
package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Event is one outbox event as a sink receives it.
type Event struct {
	Seq            int64 // outbox position; increases in commit order
	ID             string
	Name           string
	OrganizationID string
	Data           json.RawMessage
	Context        json.RawMessage
	CreatedAt      time.Time
}

// Sink sends batches of events to one destination. The server does not care
// which protocol a sink speaks; a sink knows nothing of cursors or retries.
type Sink interface {
	// Send delivers batch (never empty, at most Limits().MaxEvents long, in
	// outbox order) or returns an error; a *Failure says whether to retry.
	Send(ctx context.Context, batch []Event) error
	// Limits says how much one Send may carry.
	Limits() Limits
}

// Stopped is returned by a Sink that sent the first Delivered events of a
// batch and then stopped without a failure, typically one that sends a
// request per event and would not have had time for another full request
// before the batch's deadline. The engine moves the cursor past those
// events and goes on with the rest, without a retry delay. Delivered must
// be at least 1.
type Stopped struct {
	Delivered int
}

func (s *Stopped) Error() string {
	return fmt.Sprintf("delivery: the sink stopped after %d events of the batch", s.Delivered)
}

// Journaler is a Sink that logs its attempts (webhooks' delivery log).
// After each Send the engine takes the log and writes it in the
// transaction that moves the cursor past the batch, so that a batch costs
// one commit, or on its own when nothing was delivered.
type Journaler interface {
	// TakeJournal returns a write of the attempts logged since the last
	// call, or nil if there were none.
	TakeJournal() func(ctx context.Context, q store.Queries) error
}

// Limits bound one batch.
type Limits struct {
	MaxEvents int // at least 1
	MaxBytes  int // of the encoded payload; 0 = no limit
}

// Failure is a delivery error described for the admin who must fix it.
type Failure struct {
	Code      string // stable, e.g. "unauthorized", "payload_too_large", "tls_error", "timeout"
	Message   string // what went wrong, in plain words
	Fix       string // what the admin can do about it
	Status    int    // the destination's HTTP status, 0 if none
	Retryable bool   // a later attempt may succeed (5xx, 429, timeouts)
	// Delivered is how many events at the head of the batch the destination
	// accepted before the failure (a sink that sends one request per event);
	// the engine moves the cursor past them so they are not sent again.
	Delivered int
	Err       error // the underlying error, for logs only (never shown to callers)
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }
