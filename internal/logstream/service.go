// Package logstream is the log-stream feature: an organization's
// authentication and audit-log events pushed to its SIEM (Datadog, Splunk
// HEC, S3, Google Cloud Storage or any HTTPS endpoint). The service keeps
// each stream's configuration (secrets sealed, never echoed), builds its
// sink, sends test events, and hands streams to the delivery engine.
package logstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// AnyOrganization is the organization argument of the management API,
// whose key reaches every organization. The Admin Portal always passes the
// session's organization.
const AnyOrganization = ""

// Service manages log streams.
type Service struct {
	Store  store.Store
	Sealer *secrets.Sealer
	Guard  netguard.Guard
	HTTP   *http.Client // a netguard client; every sink sends through it
	// Replayer moves a stream's delivery cursor back (the delivery
	// engine); nil on a node without one, where replay answers 503.
	Replayer Replayer
	// Nudge, if set, wakes the delivery engine after a change.
	Nudge func()
	Now   func() time.Time
}

// Replayer re-sends a destination's events from a time on.
type Replayer interface {
	Replay(ctx context.Context, kind, destinationID string, since time.Time) error
}

func (s *Service) nudge() {
	if s.Nudge != nil {
		s.Nudge()
	}
}

// LogStream is a stream with its configuration decoded.
type LogStream struct {
	store.LogStream
	values values
}

// CreateInput is the body of POST /log_streams.
type CreateInput struct {
	OrganizationID string                     `json:"organization_id"`
	Type           string                     `json:"type"`
	Config         map[string]json.RawMessage `json:"config"`
}

// UpdateInput is the body of PUT /log_streams/{id}: every part optional.
// Config keys merge into the stored configuration; null removes an
// optional key; a masked secret sent back unchanged keeps the secret.
type UpdateInput struct {
	Type   *string                    `json:"type"`
	State  *string                    `json:"state"`
	Config map[string]json.RawMessage `json:"config"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func secretLabel(streamID string) string { return streamID + "/log_stream_config" }

// decode opens a stored stream's configuration.
func (s *Service) decode(ls store.LogStream) (LogStream, error) {
	v := values{}
	var public map[string]json.RawMessage
	if err := json.Unmarshal(ls.Config, &public); err != nil {
		return LogStream{}, fmt.Errorf("log stream %s config: %w", ls.ID, err)
	}
	secret := map[string]json.RawMessage{}
	if ls.SecretsSealed != "" {
		pt, err := s.Sealer.Open(ls.SecretsSealed, secretLabel(ls.ID))
		if err != nil {
			return LogStream{}, fmt.Errorf("log stream %s secrets: %w", ls.ID, err)
		}
		if err := json.Unmarshal(pt, &secret); err != nil {
			return LogStream{}, fmt.Errorf("log stream %s secrets: %w", ls.ID, err)
		}
	}
	for _, m := range []map[string]json.RawMessage{public, secret} {
		for k, raw := range m {
			f, ok := fieldOf(ls.Type, k)
			if !ok {
				continue
			}
			val, ferr := decodeValue(f, raw)
			if ferr != nil {
				return LogStream{}, fmt.Errorf("log stream %s config.%s: %s", ls.ID, k, ferr.Message)
			}
			v[k] = val
		}
	}
	return LogStream{LogStream: ls, values: v}, nil
}

// encode stores v on ls: public settings as JSON, secrets sealed.
func (s *Service) encode(ls *store.LogStream, v values) error {
	public, secret := split(ls.Type, v)
	b, err := json.Marshal(public)
	if err != nil {
		return err
	}
	ls.Config, ls.SecretsSealed = b, ""
	if len(secret) > 0 {
		sb, err := json.Marshal(secret)
		if err != nil {
			return err
		}
		ls.SecretsSealed = s.Sealer.Seal(sb, secretLabel(ls.ID))
	}
	return nil
}

// merge applies config input onto v (a copy is returned).
func merge(typ string, v values, in map[string]json.RawMessage) (values, []errs.FieldError) {
	out := values{}
	for k, val := range v {
		out[k] = val
	}
	var bad []errs.FieldError
	for k, raw := range in {
		f, ok := fieldOf(typ, k)
		if !ok {
			bad = append(bad, errs.FieldError{Field: "config." + k, Code: "unknown_field",
				Message: fmt.Sprintf("config.%s is not a setting of %s streams (they have %s).", k, typ, fieldNames(typ))})
			continue
		}
		if string(raw) == "null" {
			delete(out, k)
			continue
		}
		val, ferr := decodeValue(f, raw)
		if ferr != nil {
			bad = append(bad, *ferr)
			continue
		}
		// A secret sent back as shown (masked) keeps the stored value, so a
		// form can round-trip a stream without knowing its secrets.
		if f.secret {
			if h, ok := val.(map[string]string); ok {
				keepMaskedHeaders(v.headers(k), h)
			} else if old, ok := v[k]; ok && masked(typ, values{k: old})[k] == val {
				continue
			}
		}
		out[k] = val
	}
	return out, bad
}

// keepMaskedHeaders puts back the stored value of every header in h whose
// value is still the mask shown for it.
func keepMaskedHeaders(old, h map[string]string) {
	for name, hv := range h {
		if ov, ok := old[name]; ok && Mask(ov) == hv {
			h[name] = ov
		}
	}
}

func fieldNames(typ string) string {
	var names []string
	for _, f := range fields[typ] {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// Create adds a stream, active at once.
func (s *Service) Create(ctx context.Context, in CreateInput) (LogStream, error) {
	if in.OrganizationID == "" {
		return LogStream{}, errs.InvalidField("organization_id", "required", "organization_id is required.")
	}
	if !slices.Contains(Types, in.Type) {
		return LogStream{}, errs.InvalidField("type", "invalid", fmt.Sprintf("type must be one of %s.", strings.Join(Types, ", ")))
	}
	v, bad := merge(in.Type, values{}, in.Config)
	bad = append(bad, validate(in.Type, v, s.Guard)...)
	if len(bad) > 0 {
		return LogStream{}, errs.Invalid(bad...)
	}
	now := s.now()
	ls := store.LogStream{ID: id.New("als"), OrganizationID: in.OrganizationID, Type: in.Type, State: store.LogStreamActive,
		CreatedAt: now, UpdatedAt: now}
	if err := s.encode(&ls, v); err != nil {
		return LogStream{}, err
	}
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetOrganization(ctx, in.OrganizationID); errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization", in.OrganizationID)
		} else if err != nil {
			return err
		}
		if err := q.CreateLogStream(ctx, ls); err != nil {
			return err
		}
		return q.PutConsumer(ctx, consumer(ls, now))
	})
	if err != nil {
		return LogStream{}, err
	}
	s.nudge()
	return LogStream{LogStream: ls, values: v}, nil
}

// Get returns a stream of orgID (AnyOrganization for the management API).
func (s *Service) Get(ctx context.Context, orgID, streamID string) (LogStream, error) {
	return s.get(ctx, s.Store, orgID, streamID)
}

func (s *Service) get(ctx context.Context, q store.Queries, orgID, streamID string) (LogStream, error) {
	ls, err := q.GetLogStream(ctx, orgID, streamID)
	if errors.Is(err, store.ErrNotFound) {
		return LogStream{}, errs.NotFound("LogStream", streamID)
	}
	if err != nil {
		return LogStream{}, err
	}
	return s.decode(ls)
}

// List returns one page of orgID's streams (AnyOrganization: all).
func (s *Service) List(ctx context.Context, orgID string, p store.Page) ([]LogStream, store.PageInfo, error) {
	rows, info, err := s.Store.ListLogStreams(ctx, orgID, p)
	if err != nil {
		return nil, info, err
	}
	out := make([]LogStream, len(rows))
	for i, r := range rows {
		if out[i], err = s.decode(r); err != nil {
			return nil, info, err
		}
	}
	return out, info, nil
}

// First returns the organization's oldest stream, or ok false: WorkOS's
// audit_log_configuration.log_stream shows one stream.
func (s *Service) First(ctx context.Context, orgID string) (ls LogStream, ok bool, err error) {
	rows, _, err := s.Store.ListLogStreams(ctx, orgID, store.Page{Limit: 1, Order: store.Asc})
	if err != nil || len(rows) == 0 {
		return LogStream{}, false, err
	}
	ls, err = s.decode(rows[0])
	return ls, err == nil, err
}

// Update changes a stream's configuration or state. Setting the state to
// active, or changing the configuration of a stream in error, resumes
// delivery at once (also of a stream parked after failing long) from where
// it stopped; inactive pauses it, keeping its place. The last error stays
// for the record.
func (s *Service) Update(ctx context.Context, orgID, streamID string, in UpdateInput) (LogStream, error) {
	var out LogStream
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		cur, err := s.get(ctx, q, orgID, streamID)
		if err != nil {
			return err
		}
		if in.Type != nil && *in.Type != cur.Type {
			return errs.InvalidField("type", "immutable", "A stream's type cannot change; create a new stream instead.")
		}
		v, bad := merge(cur.Type, cur.values, in.Config)
		bad = append(bad, validate(cur.Type, v, s.Guard)...)
		if len(bad) > 0 {
			return errs.Invalid(bad...)
		}
		ls := cur.LogStream
		if in.State != nil {
			switch *in.State {
			case store.LogStreamActive, store.LogStreamInactive:
				ls.State = *in.State
			default:
				return errs.InvalidField("state", "invalid", "state must be active or inactive (error is set by Gatehouse).")
			}
		} else if len(in.Config) > 0 && ls.State == store.LogStreamError {
			ls.State = store.LogStreamActive
		}
		if err := s.encode(&ls, v); err != nil {
			return err
		}
		ls.UpdatedAt = s.now()
		if err := q.UpdateLogStream(ctx, ls); err != nil {
			return err
		}
		// PutConsumer also writes the state: keep the engine's (a parked
		// stream stays parked) unless this update resumes or pauses it.
		c := consumer(ls, ls.UpdatedAt)
		if old, err := q.GetConsumer(ctx, Kind, ls.ID); err == nil {
			c.State = old.State
		}
		if err := q.PutConsumer(ctx, c); err != nil {
			return err
		}
		if in.State != nil || cur.State != ls.State {
			state := store.ConsumerActive
			if ls.State == store.LogStreamInactive {
				state = store.ConsumerDisabled
			}
			if err := q.SetConsumerState(ctx, Kind, ls.ID, state, ls.UpdatedAt); err != nil {
				return err
			}
		}
		out = LogStream{LogStream: ls, values: v}
		return nil
	})
	if err == nil {
		s.nudge()
	}
	return out, err
}

// Delete removes a stream and its place in the outbox.
func (s *Service) Delete(ctx context.Context, orgID, streamID string) error {
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteLogStream(ctx, orgID, streamID); err != nil {
			return err
		}
		if err := q.DeleteConsumer(ctx, Kind, streamID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFound("LogStream", streamID)
	}
	return err
}

// Sink builds the sink that delivers to the stream.
func (s *Service) Sink(ls LogStream) (delivery.Sink, error) {
	return newSink(ls.Type, ls.values, s.HTTP)
}

// TestResult is the answer to "send a test event".
type TestResult struct {
	Success bool   `json:"success"`
	Status  int    `json:"status"`         // the destination's HTTP status, 0 if none
	Message string `json:"message"`        // what happened and, on failure, the fix
	Code    string `json:"code,omitempty"` // the failure code (docs/events.md)
	Fix     string `json:"fix,omitempty"`  // the fix alone
}

// Test sends one test event to the stream now, whatever its state, and
// says whether the destination took it; on failure the message says why
// and what to do.
func (s *Service) Test(ctx context.Context, orgID, streamID string) (TestResult, error) {
	ls, err := s.Get(ctx, orgID, streamID)
	if err != nil {
		return TestResult{}, err
	}
	sink, err := s.Sink(ls)
	if err != nil {
		return TestResult{}, err
	}
	ev := sinks.TestEvent(id.New("event"), ls.ID, ls.OrganizationID, s.now())
	err = sink.Send(ctx, []delivery.Event{ev})
	if err == nil {
		return TestResult{Success: true, Status: http.StatusOK, Message: fmt.Sprintf("The test event %s was delivered.", ev.ID)}, nil
	}
	f, ok := sinks.AsFailure(err)
	if !ok {
		return TestResult{}, err
	}
	msg, fix := withoutAnswer(f.Message), f.Fix
	if fix == sinks.Catalogue[sinks.Rejected].Fix {
		fix = rejectedFix
	}
	return TestResult{Status: f.Status, Code: f.Code, Fix: fix, Message: msg + " " + fix}, nil
}

// answerQuote starts the destination's own answer that sinks.Quote adds
// to a failure's message.
const answerQuote = " It answered: "

// rejectedFix replaces the catalogue's fix for "rejected", which points at
// the quoted answer that is no longer shown.
const rejectedFix = "Check the log stream's configuration against the destination's settings, and the destination's own logs for why it refused the request."

// withoutAnswer drops a destination's quoted answer from a failure
// message: a third party's answer body is never shown to a caller (it
// could hold anything, such as an internal service's reply; see
// docs/security.md). The message keeps the plain reason and the HTTP status.
func withoutAnswer(msg string) string {
	if i := strings.Index(msg, answerQuote); i >= 0 {
		return strings.TrimSpace(msg[:i])
	}
	return msg
}

// Replay re-sends the stream's events from since on.
func (s *Service) Replay(ctx context.Context, orgID, streamID string, since time.Time) error {
	if _, err := s.Get(ctx, orgID, streamID); err != nil {
		return err
	}
	if since.After(s.now()) {
		return errs.InvalidField("since", "invalid", "since is in the future.")
	}
	if s.Replayer == nil {
		return errs.Unavailable("replay_unavailable", "Replay needs the delivery engine, which this node does not run.", nil)
	}
	return s.Replayer.Replay(ctx, Kind, streamID, since)
}
