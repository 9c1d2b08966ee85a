package store

import (
	"context"
	"encoding/json"
	"time"
)

// AuditLogEvent is one event a host app recorded in an organization's audit
// log (POST /audit_logs/events).
type AuditLogEvent struct {
	ID             string // audit_log_event_…; sorts by creation
	OrganizationID string
	Action         string
	OccurredAt     time.Time
	Version        int // schema version it was validated against; 0 = none
	ActorID        string
	ActorType      string
	ActorName      string
	// Body is the event as accepted: action, occurred_at, actor, targets,
	// context, metadata (what exports and log streams show).
	Body      json.RawMessage
	CreatedAt time.Time
}

// AuditLogEventFilter selects audit log events of one organization.
type AuditLogEventFilter struct {
	OrganizationID string
	From, To       time.Time // OccurredAt in [From, To); zero = open
	Actions        []string  // any of these; empty = all
	// After continues a scan: events ordered after (OccurredAt, ID).
	AfterOccurredAt time.Time
	AfterID         string
}

// AuditLogSchema is one version of an action's schema.
type AuditLogSchema struct {
	Action    string
	Version   int // 1, 2, …: assigned by CreateAuditLogSchema
	Schema    json.RawMessage
	CreatedAt time.Time
}

// Audit log export states, as WorkOS names them.
const (
	ExportPending = "pending"
	ExportReady   = "ready"
	ExportError   = "error"
	ExportExpired = "expired"
)

// AuditLogExport is a CSV export of an organization's audit log.
type AuditLogExport struct {
	ID             string // audit_log_export_…
	OrganizationID string
	State          string
	Filter         json.RawMessage // the request's range and filters
	CSV            []byte          // set when ready
	Error          string
	// NextAttemptAt is when a node may (re)build a pending export; it is
	// claimed by compare-and-set, so one node builds each export.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AuditLogs stores audit log events, action schemas, exports and each
// organization's retention.
type AuditLogs interface {
	InsertAuditLogEvent(ctx context.Context, e AuditLogEvent) error
	// ListAuditLogEvents returns up to limit events matching f, ordered by
	// (OccurredAt, ID) ascending.
	ListAuditLogEvents(ctx context.Context, f AuditLogEventFilter, limit int) ([]AuditLogEvent, error)
	// DeleteExpiredAuditLogEvents removes events that occurred more than
	// their organization's retention before now (defaultDays where none is
	// set) and returns how many went.
	DeleteExpiredAuditLogEvents(ctx context.Context, now time.Time, defaultDays int) (int64, error)

	// CreateAuditLogSchema stores the next version of s.Action's schema and
	// returns it with its version set.
	CreateAuditLogSchema(ctx context.Context, s AuditLogSchema) (AuditLogSchema, error)
	// GetAuditLogSchema returns one version (0 = the newest); ErrNotFound
	// if the action has no such schema.
	GetAuditLogSchema(ctx context.Context, action string, version int) (AuditLogSchema, error)
	// ListAuditLogSchemas lists every version of an action's schema, newest
	// first (an action has few).
	ListAuditLogSchemas(ctx context.Context, action string) ([]AuditLogSchema, error)
	// ListAuditLogActions lists actions that have a schema, each with its
	// newest schema; the page cursors are action names.
	ListAuditLogActions(ctx context.Context, p Page) ([]AuditLogSchema, PageInfo, error)

	CreateAuditLogExport(ctx context.Context, x AuditLogExport) error
	// GetAuditLogExport returns an export (with its CSV).
	GetAuditLogExport(ctx context.Context, id string) (AuditLogExport, error)
	// FinishAuditLogExport sets the state, CSV and error of a pending export.
	FinishAuditLogExport(ctx context.Context, x AuditLogExport) error
	// ClaimDueAuditLogExports returns up to limit pending exports whose
	// NextAttemptAt has passed and moves it to next (one node builds each).
	ClaimDueAuditLogExports(ctx context.Context, now, next time.Time, limit int) ([]AuditLogExport, error)
	// ExpireAuditLogExports marks ready exports created before t expired and
	// drops their CSV.
	ExpireAuditLogExports(ctx context.Context, t time.Time) error

	// GetAuditLogRetention returns an organization's retention in days, or
	// 0 if none was set.
	GetAuditLogRetention(ctx context.Context, organizationID string) (int, error)
	SetAuditLogRetention(ctx context.Context, organizationID string, days int) error
}
