package auditlog

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Export timings.
const (
	// URLLifetime is how long a download link works (WorkOS: 10 minutes).
	URLLifetime = 10 * time.Minute
	// exportKeep is how long a finished export's CSV is kept.
	exportKeep = 24 * time.Hour
	// buildLease is how long a node holds a pending export before another
	// may take it over (the first crashed).
	buildLease = 5 * time.Minute
	// maxExportRows bounds one export; a larger range is refused with a
	// message to narrow it rather than building an unbounded file.
	maxExportRows = 1_000_000
)

// authEventNames are Gatehouse's own events that appear in every
// organization's audit log.
var authEventNames = []string{
	"authentication.sso_started", "authentication.sso_succeeded",
	"authentication.sso_failed", "authentication.sso_timed_out",
}

// ExportInput is POST /audit_logs/exports.
type ExportInput struct {
	OrganizationID string   `json:"organization_id"`
	RangeStart     string   `json:"range_start"`
	RangeEnd       string   `json:"range_end"`
	Actions        []string `json:"actions,omitempty"`
	Actors         []string `json:"actors,omitempty"` // deprecated name of ActorNames
	ActorNames     []string `json:"actor_names,omitempty"`
	ActorIDs       []string `json:"actor_ids,omitempty"`
	Targets        []string `json:"targets,omitempty"` // target types
}

// exportFilter is what is stored with an export.
type exportFilter struct {
	From       time.Time `json:"range_start"`
	To         time.Time `json:"range_end"`
	Actions    []string  `json:"actions,omitempty"`
	ActorNames []string  `json:"actor_names,omitempty"`
	ActorIDs   []string  `json:"actor_ids,omitempty"`
	Targets    []string  `json:"targets,omitempty"`
}

// ExportJSON is an audit_log_export on the wire.
type ExportJSON struct {
	Object    string  `json:"object"`
	ID        string  `json:"id"`
	State     string  `json:"state"`
	URL       *string `json:"url"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// CreateExport records a pending export; a worker builds it moments later.
func (s *Service) CreateExport(ctx context.Context, in ExportInput) (ExportJSON, error) {
	var fields []errs.FieldError
	parse := func(name, v string) time.Time {
		if v == "" {
			fields = append(fields, errs.FieldError{Field: name, Code: "required", Message: name + " is required."})
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fields = append(fields, errs.FieldError{Field: name, Code: "invalid_format", Message: name + " must be an ISO 8601 date-time."})
		}
		return t.UTC()
	}
	f := exportFilter{From: parse("range_start", in.RangeStart), To: parse("range_end", in.RangeEnd),
		Actions: in.Actions, ActorNames: append(in.ActorNames, in.Actors...), ActorIDs: in.ActorIDs, Targets: in.Targets}
	if len(fields) == 0 && !f.From.Before(f.To) {
		fields = append(fields, errs.FieldError{Field: "range_end", Code: "invalid_range", Message: "range_end must be after range_start."})
	}
	if err := s.org(ctx, s.Store, in.OrganizationID); err != nil {
		return ExportJSON{}, err
	}
	if len(fields) > 0 {
		return ExportJSON{}, errs.Invalid(fields...)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return ExportJSON{}, err
	}
	now := s.now()
	x := store.AuditLogExport{ID: id.New("audit_log_export"), OrganizationID: in.OrganizationID, State: store.ExportPending,
		Filter: b, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateAuditLogExport(ctx, x); err != nil {
		return ExportJSON{}, err
	}
	s.nudge()
	return s.exportJSON(x), nil
}

// GetExport returns an export; a ready one carries a download URL valid for
// URLLifetime from now.
func (s *Service) GetExport(ctx context.Context, exportID string) (ExportJSON, error) {
	x, err := s.Store.GetAuditLogExport(ctx, exportID)
	if errors.Is(err, store.ErrNotFound) {
		return ExportJSON{}, errs.NotFound("AuditLogExport", exportID)
	}
	if err != nil {
		return ExportJSON{}, err
	}
	return s.exportJSON(x), nil
}

func (s *Service) exportJSON(x store.AuditLogExport) ExportJSON {
	out := ExportJSON{Object: "audit_log_export", ID: x.ID, State: x.State, CreatedAt: wire.Time(x.CreatedAt), UpdatedAt: wire.Time(x.UpdatedAt)}
	if x.State == store.ExportReady {
		u := s.DownloadURL(x.ID, s.now().Add(URLLifetime))
		out.URL = &u
	}
	return out
}

// DownloadURL is a link to an export's CSV that works without an API key
// until expires.
func (s *Service) DownloadURL(exportID string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return fmt.Sprintf("%s/audit_logs/exports/%s/download?expires=%s&signature=%s",
		strings.TrimSuffix(s.BaseURL, "/"), exportID, exp, hex.EncodeToString(s.sign(exportID, exp)))
}

func (s *Service) sign(exportID, expires string) []byte {
	return s.Sealer.MAC("audit_log_export_download", []byte(exportID+"."+expires))
}

// Download checks a signed link and returns the export's CSV.
func (s *Service) Download(ctx context.Context, exportID, expires, signature string) ([]byte, error) {
	sig, err := hex.DecodeString(signature)
	exp, perr := strconv.ParseInt(expires, 10, 64)
	if err != nil || perr != nil || !hmac.Equal(sig, s.sign(exportID, expires)) {
		return nil, errs.Forbidden("This download link is not valid. Fetch the export again (GET /audit_logs/exports/{id}) for a fresh link.")
	}
	if s.now().Unix() > exp {
		return nil, errs.Forbidden("This download link has expired (links work for 10 minutes). Fetch the export again for a fresh link.")
	}
	x, err := s.Store.GetAuditLogExport(ctx, exportID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFound("AuditLogExport", exportID)
	}
	if err != nil {
		return nil, err
	}
	if x.State != store.ExportReady {
		return nil, &errs.Error{Kind: errs.KindNotFound, Code: "export_not_ready", Message: "The export is " + x.State + ", not ready."}
	}
	return x.CSV, nil
}

// Wake receives when a new export waits to be built, so the export job can
// run at once rather than at its next tick.
func (s *Service) Wake() <-chan struct{} {
	s.init()
	return s.wake
}

func (s *Service) init() {
	s.once.Do(func() { s.wake = make(chan struct{}, 1) })
}

// nudge wakes the export job.
func (s *Service) nudge() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Sweep deletes events past their organization's retention and drops the
// CSV of exports older than a day. Deleting is idempotent, so every node may
// sweep.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	n, err := s.Store.DeleteExpiredAuditLogEvents(ctx, now, DefaultRetentionDays)
	if err != nil {
		return fmt.Errorf("delete expired audit log events: %w", err)
	}
	if n > 0 {
		s.Log.Info("audit log retention", "deleted", n)
	}
	return s.Store.ExpireAuditLogExports(ctx, now.Add(-exportKeep))
}

// BuildDue builds the pending exports this node claims. Exports are
// claimed once across nodes; a node that dies while building one leaves it
// to another after buildLease.
func (s *Service) BuildDue(ctx context.Context) error {
	now := s.now()
	due, err := s.Store.ClaimDueAuditLogExports(ctx, now, now.Add(buildLease), 4)
	if err != nil {
		return fmt.Errorf("claim audit log exports: %w", err)
	}
	for _, x := range due {
		s.build(ctx, x)
	}
	return nil
}

func (s *Service) build(ctx context.Context, x store.AuditLogExport) {
	csvBytes, err := s.buildCSV(ctx, x)
	x.UpdatedAt = s.now()
	if err != nil {
		if ctx.Err() != nil {
			return // another node (or this one, restarted) takes it over after the lease
		}
		s.Log.Error("build audit log export", "export", x.ID, "err", err)
		x.State, x.Error = store.ExportError, "The export could not be built."
		if e, ok := errs.As(err); ok {
			x.Error = e.Message
		}
	} else {
		x.State, x.CSV = store.ExportReady, csvBytes
	}
	if err := s.Store.FinishAuditLogExport(ctx, x); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Log.Error("finish audit log export", "export", x.ID, "err", err)
	}
}

// csvHeader is the export's columns, documented in docs/events.md.
var csvHeader = []string{"id", "occurred_at", "action", "version", "actor_type", "actor_id", "actor_name", "actor_metadata",
	"targets", "location", "user_agent", "metadata"}

// row is one line of an export, from either source.
type row struct {
	id  string
	at  time.Time
	evt Event
}

// buildCSV merges the organization's audit log events and its
// authentication events, both read in time order, within the range and
// the retention window.
func (s *Service) buildCSV(ctx context.Context, x store.AuditLogExport) ([]byte, error) {
	var f exportFilter
	if err := json.Unmarshal(x.Filter, &f); err != nil {
		return nil, fmt.Errorf("export filter: %w", err)
	}
	days, err := s.Store.GetAuditLogRetention(ctx, x.OrganizationID)
	if err != nil {
		return nil, err
	}
	if days == 0 {
		days = DefaultRetentionDays
	}
	if cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour); f.From.Before(cutoff) {
		f.From = cutoff
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(csvHeader)
	audit := s.auditRows(x.OrganizationID, f)
	auth := s.authRows(x.OrganizationID, f)
	a, aok, err := audit(ctx)
	if err != nil {
		return nil, err
	}
	b, bok, err := auth(ctx)
	if err != nil {
		return nil, err
	}
	n := 0
	for aok || bok {
		var r row
		if aok && (!bok || !b.at.Before(a.at)) {
			r = a
			if a, aok, err = audit(ctx); err != nil {
				return nil, err
			}
		} else {
			r = b
			if b, bok, err = auth(ctx); err != nil {
				return nil, err
			}
		}
		if !f.matches(r.evt) {
			continue
		}
		if n++; n > maxExportRows {
			return nil, errs.BadRequest("export_too_large", fmt.Sprintf("The range holds more than %d events; export a shorter range.", maxExportRows))
		}
		w.Write(csvRecord(r))
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func (f exportFilter) matches(e Event) bool {
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, e.Action) {
		return false
	}
	if len(f.ActorNames) > 0 && !slices.Contains(f.ActorNames, e.Actor.Name) {
		return false
	}
	if len(f.ActorIDs) > 0 && !slices.Contains(f.ActorIDs, e.Actor.ID) {
		return false
	}
	if len(f.Targets) > 0 && !slices.ContainsFunc(e.Targets, func(t Entity) bool { return slices.Contains(f.Targets, t.Type) }) {
		return false
	}
	return true
}

func csvRecord(r row) []string {
	js := func(v any) string {
		if v == nil {
			return ""
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	var actorMeta, meta any
	if len(r.evt.Actor.Metadata) > 0 {
		actorMeta = r.evt.Actor.Metadata
	}
	if len(r.evt.Metadata) > 0 {
		meta = r.evt.Metadata
	}
	version := ""
	if r.evt.Version > 0 {
		version = strconv.Itoa(r.evt.Version)
	}
	return []string{r.id, wire.Time(r.at), r.evt.Action, version, r.evt.Actor.Type, r.evt.Actor.ID, r.evt.Actor.Name,
		js(actorMeta), js(r.evt.Targets), r.evt.Context.Location, r.evt.Context.UserAgent, js(meta)}
}

const pageSize = 500

// auditRows iterates the organization's audit log events in time order.
func (s *Service) auditRows(orgID string, f exportFilter) func(context.Context) (row, bool, error) {
	filter := store.AuditLogEventFilter{OrganizationID: orgID, From: f.From, To: f.To}
	if len(f.Actions) > 0 {
		filter.Actions = f.Actions
	}
	var page []store.AuditLogEvent
	done := false
	return func(ctx context.Context) (row, bool, error) {
		if len(page) == 0 && !done {
			var err error
			if page, err = s.Store.ListAuditLogEvents(ctx, filter, pageSize); err != nil {
				return row{}, false, err
			}
			done = len(page) < pageSize
			if len(page) > 0 {
				last := page[len(page)-1]
				filter.AfterOccurredAt, filter.AfterID = last.OccurredAt, last.ID
			}
		}
		if len(page) == 0 {
			return row{}, false, nil
		}
		e := page[0]
		page = page[1:]
		var evt Event
		if err := json.Unmarshal(e.Body, &evt); err != nil {
			return row{}, false, fmt.Errorf("audit log event %s: %w", e.ID, err)
		}
		return row{id: e.ID, at: e.OccurredAt, evt: evt}, true, nil
	}
}

// authRows iterates the organization's authentication events in the
// outbox, in commit order (which is time order to the millisecond).
func (s *Service) authRows(orgID string, f exportFilter) func(context.Context) (row, bool, error) {
	filter := store.EventFilter{Names: authEventNames, OrganizationID: orgID, RangeStart: f.From, RangeEnd: f.To.Add(-time.Millisecond)} // RangeEnd is inclusive
	var page []store.Event
	done := false
	return func(ctx context.Context) (row, bool, error) {
		if len(page) == 0 && !done {
			var err error
			if page, err = s.Store.ListEvents(ctx, filter, pageSize, false); err != nil {
				return row{}, false, err
			}
			done = len(page) < pageSize
			if len(page) > 0 {
				filter.AfterSeq = page[len(page)-1].Seq
			}
		}
		if len(page) == 0 {
			return row{}, false, nil
		}
		e := page[0]
		page = page[1:]
		return row{id: e.ID, at: e.CreatedAt, evt: FromAuthEvent(e)}, true, nil
	}
}

// FromAuthEvent shows an authentication.* outbox event as an audit log
// event: the user as actor, the connection as target, the status and any
// failure reason as metadata.
func FromAuthEvent(e store.Event) Event {
	var d struct {
		Status    string  `json:"status"`
		IPAddress *string `json:"ip_address"`
		UserAgent *string `json:"user_agent"`
		UserID    *string `json:"user_id"`
		Email     *string `json:"email"`
		SSO       struct {
			ConnectionID *string `json:"connection_id"`
		} `json:"sso"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(e.Data, &d)
	val := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	actorID := val(d.UserID)
	if actorID == "" {
		actorID = val(d.Email)
	}
	if actorID == "" {
		actorID = "unknown"
	}
	out := Event{
		Action: e.Name, OccurredAt: wire.Time(e.CreatedAt),
		Actor:   Entity{ID: actorID, Type: "user", Name: val(d.Email)},
		Context: Context{Location: val(d.IPAddress), UserAgent: val(d.UserAgent)},
		Metadata: map[string]any{
			"status": d.Status,
		},
	}
	if c := val(d.SSO.ConnectionID); c != "" {
		out.Targets = []Entity{{ID: c, Type: "connection"}}
	}
	if d.Error != nil {
		out.Metadata["error_code"], out.Metadata["error_message"] = d.Error.Code, d.Error.Message
	}
	return out
}
