package logstream

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/auditlog"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Kind is the delivery kind of log streams.
const Kind = "log_stream"

// StreamedEvents are the events a log stream carries: every
// authentication.* name of the WorkOS catalogue (Gatehouse emits the
// authentication.sso_* ones today) and the audit log's events. A stream
// carries only its own organization's events.
var StreamedEvents = []string{
	"authentication.sso_started", "authentication.sso_succeeded", "authentication.sso_failed", "authentication.sso_timed_out",
	"authentication.email_verification_failed", "authentication.email_verification_succeeded",
	"authentication.magic_auth_failed", "authentication.magic_auth_succeeded",
	"authentication.mfa_failed", "authentication.mfa_succeeded",
	"authentication.oauth_failed", "authentication.oauth_succeeded",
	"authentication.passkey_failed", "authentication.passkey_succeeded",
	"authentication.password_failed", "authentication.password_succeeded",
	"authentication.radar_risk_detected", "authentication.reauthentication_succeeded",
	auditlog.EventRecorded, // the organization's audit log, as the host app records it
}

// consumer is the stream's place in the outbox.
func consumer(ls store.LogStream, now time.Time) store.Consumer {
	state := store.ConsumerActive
	if ls.State == store.LogStreamInactive {
		state = store.ConsumerDisabled
	}
	return store.Consumer{Kind: Kind, DestinationID: ls.ID, OrganizationID: ls.OrganizationID, EventNames: StreamedEvents,
		State: state, CreatedAt: now, UpdatedAt: now}
}

// Kind returns the delivery kind to register with the engine.
func (s *Service) Kind() delivery.Kind {
	return delivery.Kind{Name: Kind, Open: s.openSink}
}

// openSink builds the sink of a claimed stream, wrapped so that each
// outcome shows on the stream (state, last_error, last_synced_at).
func (s *Service) openSink(ctx context.Context, c store.Consumer) (delivery.Sink, error) {
	ls, err := s.Get(ctx, c.OrganizationID, c.DestinationID)
	if err != nil {
		return nil, &delivery.Failure{Code: sinks.InvalidConfig, Message: "The log stream cannot be read.",
			Fix: "Check that every node has the same GATEHOUSE_SECRET_KEY; recreate the stream if it persists.", Err: err}
	}
	sink, err := s.Sink(ls)
	if err != nil {
		return nil, &delivery.Failure{Code: sinks.InvalidConfig, Message: "The log stream's configuration cannot be used.",
			Fix: "Update the stream's configuration and send a test event.", Err: err}
	}
	return &recording{Sink: sink, svc: s, stream: ls.LogStream}, nil
}

// recording notes each delivery's outcome on the stream: a failure puts it
// in state error with the failure's message and fix (the engine retries
// with backoff, and parks it after a long failure); the next success makes
// it active again. Successes are written at most every syncEvery.
type recording struct {
	delivery.Sink
	svc    *Service
	stream store.LogStream
}

const syncEvery = 5 * time.Second

func (r *recording) Send(ctx context.Context, batch []delivery.Event) error {
	err := r.Sink.Send(ctx, batch)
	now := r.svc.now()
	wctx := context.WithoutCancel(ctx)
	if err != nil {
		f, ok := sinks.AsFailure(err)
		if !ok {
			f = &delivery.Failure{Code: sinks.NetworkError, Message: "The delivery failed.", Retryable: true, Err: err}
			err = f
		}
		if rerr := r.svc.Store.RecordLogStreamDelivery(wctx, r.stream.ID, now, f.Code, f.Message+" "+f.Fix); rerr == nil {
			r.stream.State = store.LogStreamError
		}
		return err
	}
	if r.stream.State == store.LogStreamError || now.Sub(r.stream.LastSyncedAt) >= syncEvery {
		if rerr := r.svc.Store.RecordLogStreamDelivery(wctx, r.stream.ID, now, "", ""); rerr == nil {
			r.stream.State, r.stream.LastSyncedAt = store.LogStreamActive, now
		}
	}
	return nil
}

// DeleteForOrganization removes the organization's streams' places in the
// outbox (the streams go with the organization's row); it runs in the
// transaction that deletes the organization.
func (s *Service) DeleteForOrganization(ctx context.Context, q store.Queries, orgID string) error {
	for after := ""; ; {
		page, info, err := q.ListLogStreams(ctx, orgID, store.Page{Limit: 100, Order: store.Asc, After: after})
		if err != nil {
			return err
		}
		for _, ls := range page {
			if err := q.DeleteConsumer(ctx, Kind, ls.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("log stream %s consumer: %w", ls.ID, err)
			}
		}
		if info.After == "" {
			return nil
		}
		after = info.After
	}
}
