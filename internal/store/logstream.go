package store

import (
	"context"
	"time"
)

// Log stream states, as WorkOS names them.
const (
	LogStreamActive   = "active"
	LogStreamInactive = "inactive"
	LogStreamError    = "error"
)

// LogStream is an organization's stream of events to its SIEM.
type LogStream struct {
	ID             string
	OrganizationID string
	Type           string // GenericHttps | Datadog | Splunk | S3 | GoogleCloudStorage
	State          string
	Config         []byte // JSON object of the non-secret settings
	SecretsSealed  string // sealed JSON object of the secret settings; "" = none
	LastErrorCode  string // "" = none
	LastErrorText  string // the failure's message and fix
	LastErrorAt    time.Time
	LastSyncedAt   time.Time // last successful delivery; zero = never
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// LogStreams stores log streams. Every read and write that names a stream
// also names its organization, and the check is in the query: organizationID
// "" is the management API's "any organization" and nothing else.
type LogStreams interface {
	CreateLogStream(ctx context.Context, s LogStream) error
	// UpdateLogStream writes type-independent fields (state, config,
	// secrets, last error, updated_at) of s.ID within s.OrganizationID.
	UpdateLogStream(ctx context.Context, s LogStream) error
	DeleteLogStream(ctx context.Context, organizationID, id string) error
	GetLogStream(ctx context.Context, organizationID, id string) (LogStream, error)
	// ListLogStreams lists one organization's streams ("" = all).
	ListLogStreams(ctx context.Context, organizationID string, p Page) ([]LogStream, PageInfo, error)
	// RecordLogStreamDelivery notes a delivery's outcome: with code "" a
	// success at at (last_synced_at; an errored stream becomes active
	// again), else a failure (state error, last error set). An inactive
	// stream keeps its state.
	RecordLogStreamDelivery(ctx context.Context, id string, at time.Time, code, text string) error
}
