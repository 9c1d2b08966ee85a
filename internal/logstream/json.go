package logstream

import (
	"github.com/gatehouse-dev/gatehouse/internal/auditlog"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
)

// JSON is a log stream on the wire. Secrets in config are masked.
type JSON struct {
	Object         string         `json:"object"`
	ID             string         `json:"id"`
	OrganizationID string         `json:"organization_id"`
	Type           string         `json:"type"`
	State          string         `json:"state"`
	Config         map[string]any `json:"config"`
	LastError      *ErrorJSON     `json:"last_error"`
	LastSyncedAt   *string        `json:"last_synced_at"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
}

// ErrorJSON is a stream's last delivery failure.
type ErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	At      string `json:"at"`
}

// JSON renders the stream for the API and the portal.
func (ls LogStream) JSON() JSON {
	out := JSON{
		Object: "log_stream", ID: ls.ID, OrganizationID: ls.OrganizationID, Type: ls.Type, State: ls.State,
		Config: masked(ls.Type, ls.values), LastSyncedAt: wire.TimePtr(ls.LastSyncedAt),
		CreatedAt: wire.Time(ls.CreatedAt), UpdatedAt: wire.Time(ls.UpdatedAt),
	}
	if ls.LastErrorCode != "" {
		out.LastError = &ErrorJSON{Code: ls.LastErrorCode, Message: withoutAnswer(ls.LastErrorText), At: wire.Time(ls.LastErrorAt)}
	}
	return out
}

// AuditLogStreamJSON is the stream as WorkOS shows it in
// audit_log_configuration.log_stream; the audit log owns that shape.
type AuditLogStreamJSON = auditlog.LogStreamSummary

// AuditLogJSON renders the stream for audit_log_configuration.log_stream.
func (ls LogStream) AuditLogJSON() AuditLogStreamJSON {
	return AuditLogStreamJSON{ID: ls.ID, Type: ls.Type, State: ls.State, LastSyncedAt: wire.TimePtr(ls.LastSyncedAt), CreatedAt: wire.Time(ls.CreatedAt)}
}
