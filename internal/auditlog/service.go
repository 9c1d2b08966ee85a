// Package auditlog is the organization audit log: events the host app
// records (POST /audit_logs/events), validated against action schemas when
// one exists, CSV exports behind signed download links, and retention.
// Gatehouse's own authentication.* events appear in every export beside them.
package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// EventRecorded is the outbox event written beside each audit log event, so
// log streams carry the audit log too. WorkOS has no such event; Gatehouse
// names it in its own style.
const EventRecorded = "audit_log_event.created"

// Retention periods WorkOS offers, in days.
var retentionChoices = []int{30, 365}

// DefaultRetentionDays applies to organizations that set none.
const DefaultRetentionDays = 365

// Service holds the audit log's rules. Every method takes the organization
// it acts for.
type Service struct {
	Store   store.Store
	Sealer  *secrets.Sealer
	BaseURL string
	Log     *slog.Logger
	Now     func() time.Time
	// LogStream, when set, describes an organization's first log stream for
	// audit_log_configuration (nil = none).
	LogStream func(ctx context.Context, organizationID string) (*LogStreamSummary, error)

	once sync.Once
	wake chan struct{}
}

// LogStreamSummary is the log_stream member of an AuditLogConfiguration.
type LogStreamSummary struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	State        string  `json:"state"`
	LastSyncedAt *string `json:"last_synced_at"`
	CreatedAt    string  `json:"created_at"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) org(ctx context.Context, q store.Queries, orgID string) error {
	if orgID == "" {
		return errs.InvalidField("organization_id", "required", "organization_id is required.")
	}
	if _, err := q.GetOrganization(ctx, orgID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization", orgID)
		}
		return err
	}
	return nil
}

// CreateEvent validates raw (the "event" member of the request) and records
// it in orgID's audit log, with its outbox event, in one transaction.
func (s *Service) CreateEvent(ctx context.Context, orgID string, raw json.RawMessage) error {
	e, at, err := parseEvent(raw)
	if orgErr := s.org(ctx, s.Store, orgID); orgErr != nil {
		return orgErr
	}
	if err != nil {
		return err
	}
	sc, err := s.Store.GetAuditLogSchema(ctx, e.Action, e.Version)
	switch {
	case err == nil:
		var schema Schema
		if err := json.Unmarshal(sc.Schema, &schema); err != nil {
			return fmt.Errorf("audit log schema %s v%d: %w", sc.Action, sc.Version, err)
		}
		if err := schema.check(e); err != nil {
			return err
		}
		e.Version = sc.Version
	case errors.Is(err, store.ErrNotFound):
		if e.Version != 0 {
			var p problems
			p.add("/version", "unknown_version", "%s has no schema version %d.", e.Action, e.Version)
			return p.err()
		}
	default:
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	rec := store.AuditLogEvent{
		ID: id.New("audit_log_event"), OrganizationID: orgID, Action: e.Action, OccurredAt: at, Version: e.Version,
		ActorID: e.Actor.ID, ActorType: e.Actor.Type, ActorName: e.Actor.Name, Body: body, CreatedAt: s.now(),
	}
	return s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.InsertAuditLogEvent(ctx, rec); err != nil {
			return err
		}
		return events.Append(ctx, q, EventRecorded, orgID, streamedEvent{ID: rec.ID, OrganizationID: orgID, Event: e})
	})
}

// streamedEvent is the payload of audit_log_event.created.
type streamedEvent struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	Event
}

// SchemaJSON is an audit_log_schema on the wire.
type SchemaJSON struct {
	Object    string          `json:"object"`
	Version   int             `json:"version"`
	Actor     json.RawMessage `json:"actor,omitempty"`
	Targets   json.RawMessage `json:"targets"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	CreatedAt string          `json:"created_at"`
}

func schemaJSON(s store.AuditLogSchema) SchemaJSON {
	var parts struct {
		Actor    json.RawMessage `json:"actor"`
		Targets  json.RawMessage `json:"targets"`
		Metadata json.RawMessage `json:"metadata"`
	}
	json.Unmarshal(s.Schema, &parts)
	return SchemaJSON{Object: "audit_log_schema", Version: s.Version, Actor: nullToEmpty(parts.Actor), Targets: parts.Targets,
		Metadata: nullToEmpty(parts.Metadata), CreatedAt: wire.Time(s.CreatedAt)}
}

func nullToEmpty(r json.RawMessage) json.RawMessage {
	if string(r) == "null" {
		return nil
	}
	return r
}

// CreateSchema stores the next version of action's schema.
func (s *Service) CreateSchema(ctx context.Context, action string, raw json.RawMessage) (SchemaJSON, error) {
	if action == "" || len(action) > maxNameLen {
		return SchemaJSON{}, errs.InvalidField("action", "invalid", "The action name must be 1 to 255 characters.")
	}
	sc, err := parseSchema(raw)
	if err != nil {
		return SchemaJSON{}, err
	}
	canonical, err := json.Marshal(sc)
	if err != nil {
		return SchemaJSON{}, err
	}
	// Two writers racing for one version meet the primary key; the loser
	// takes the next number.
	for attempt := 0; ; attempt++ {
		stored, err := s.Store.CreateAuditLogSchema(ctx, store.AuditLogSchema{Action: action, Schema: canonical, CreatedAt: s.now()})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return SchemaJSON{}, err
		}
		return schemaJSON(stored), nil
	}
}

// ActionJSON is an audit_log_action on the wire.
type ActionJSON struct {
	Object    string     `json:"object"`
	Name      string     `json:"name"`
	Schema    SchemaJSON `json:"schema"`
	CreatedAt string     `json:"created_at"`
	UpdatedAt string     `json:"updated_at"`
}

// ListActions lists the actions that have a schema.
func (s *Service) ListActions(ctx context.Context, p store.Page) ([]ActionJSON, store.PageInfo, error) {
	acts, info, err := s.Store.ListAuditLogActions(ctx, p)
	if err != nil {
		return nil, info, err
	}
	out := make([]ActionJSON, len(acts))
	for i, a := range acts {
		first := a.CreatedAt // the action exists since its first schema
		if v1, err := s.Store.GetAuditLogSchema(ctx, a.Action, 1); err == nil {
			first = v1.CreatedAt
		}
		out[i] = ActionJSON{Object: "audit_log_action", Name: a.Action, Schema: schemaJSON(a), CreatedAt: wire.Time(first), UpdatedAt: wire.Time(a.CreatedAt)}
	}
	return out, info, nil
}

// ListSchemas lists every version of action's schema, newest first.
func (s *Service) ListSchemas(ctx context.Context, action string) ([]SchemaJSON, error) {
	all, err := s.Store.ListAuditLogSchemas(ctx, action)
	if err != nil {
		return nil, err
	}
	out := make([]SchemaJSON, len(all))
	for i, sc := range all {
		out[i] = schemaJSON(sc)
	}
	return out, nil
}

// Retention returns orgID's retention in days.
func (s *Service) Retention(ctx context.Context, orgID string) (int, error) {
	if err := s.org(ctx, s.Store, orgID); err != nil {
		return 0, err
	}
	days, err := s.Store.GetAuditLogRetention(ctx, orgID)
	if days == 0 {
		days = DefaultRetentionDays
	}
	return days, err
}

// SetRetention sets orgID's retention; WorkOS offers 30 or 365 days.
func (s *Service) SetRetention(ctx context.Context, orgID string, days int) (int, error) {
	if err := s.org(ctx, s.Store, orgID); err != nil {
		return 0, err
	}
	ok := false
	for _, c := range retentionChoices {
		ok = ok || c == days
	}
	if !ok {
		return 0, errs.InvalidField("retention_period_in_days", "invalid", "retention_period_in_days must be 30 or 365.")
	}
	return days, s.Store.SetAuditLogRetention(ctx, orgID, days)
}

// ConfigurationJSON is an AuditLogConfiguration.
type ConfigurationJSON struct {
	OrganizationID        string            `json:"organization_id"`
	RetentionPeriodInDays int               `json:"retention_period_in_days"`
	State                 string            `json:"state"`
	LogStream             *LogStreamSummary `json:"log_stream,omitempty"`
}

// Configuration returns orgID's audit log configuration.
func (s *Service) Configuration(ctx context.Context, orgID string) (ConfigurationJSON, error) {
	days, err := s.Retention(ctx, orgID)
	if err != nil {
		return ConfigurationJSON{}, err
	}
	c := ConfigurationJSON{OrganizationID: orgID, RetentionPeriodInDays: days, State: "active"}
	if s.LogStream != nil {
		if c.LogStream, err = s.LogStream(ctx, orgID); err != nil {
			return c, err
		}
	}
	return c, nil
}
