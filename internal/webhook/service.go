// Package webhook is WorkOS's webhook endpoints: the management API
// (/webhook_endpoints), a delivery sink that POSTs each event signed with
// WorkOS-Signature, and a log of delivery attempts per endpoint. Delivery
// itself (cursor, lease, retries, parking) is internal/delivery's.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Kind is the delivery kind of webhook endpoints.
const Kind = "webhook"

// Endpoint statuses.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
)

// Service manages webhook endpoints and opens their sinks.
type Service struct {
	Store  store.Store
	Sealer *secrets.Sealer
	Guard  netguard.Guard
	// HTTP sends deliveries; it must come from Guard.Client and must not
	// follow redirects (see NewHTTPClient).
	HTTP *http.Client
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
	// Nudge, if set, wakes the delivery engine after a change.
	Nudge func()
}

// NewHTTPClient returns the client deliveries use: through guard, with the
// given timeout, never following a redirect (a 3xx is a failed delivery
// the admin should fix, and a redirected POST would become a GET).
func NewHTTPClient(guard netguard.Guard, timeout time.Duration) *http.Client {
	c := guard.Client(timeout)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Endpoint is an endpoint with its opened secret and its delivery state.
type Endpoint struct {
	store.WebhookEndpoint
	Secret   string
	Consumer store.Consumer
}

// CreateInput is the body of POST /webhook_endpoints.
type CreateInput struct {
	EndpointURL string   `json:"endpoint_url"`
	Events      []string `json:"events"`
}

// UpdateInput is the body of PATCH /webhook_endpoints/{id}; nil = unchanged.
type UpdateInput struct {
	EndpointURL *string  `json:"endpoint_url"`
	Status      *string  `json:"status"`
	Events      []string `json:"events"`
}

var eventNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

func (s *Service) checkURL(raw string) error {
	if raw == "" {
		return errs.InvalidField("endpoint_url", "required", "endpoint_url is required.")
	}
	u, err := s.Guard.CheckURL(raw)
	if err != nil {
		return &errs.Error{Kind: errs.KindInvalid, Code: "invalid_url", Message: "endpoint_url is not allowed: " + err.Error(),
			Fields: []errs.FieldError{{Field: "endpoint_url", Code: "invalid_url"}}}
	}
	if u.Scheme != "https" && !s.Guard.AllowPrivate {
		return &errs.Error{Kind: errs.KindInvalid, Code: "invalid_url", Message: "endpoint_url must be an https URL.",
			Fields: []errs.FieldError{{Field: "endpoint_url", Code: "invalid_url"}}}
	}
	return nil
}

func checkEvents(evs []string) error {
	if len(evs) == 0 {
		return errs.InvalidField("events", "required", "events must list at least one event name, e.g. dsync.user.created.")
	}
	if len(evs) > 200 {
		return errs.InvalidField("events", "too_many", "events may list at most 200 names.")
	}
	for _, e := range evs {
		if len(e) > 100 || !eventNameRE.MatchString(e) {
			return errs.InvalidField("events", "invalid", fmt.Sprintf("%q is not an event name (e.g. dsync.user.created).", e))
		}
	}
	return nil
}

func sealLabel(endpointID string) string { return endpointID + "/secret" }

func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create registers an endpoint with a new secret; it receives the events
// appended from now on.
func (s *Service) Create(ctx context.Context, in CreateInput) (Endpoint, error) {
	if err := s.checkURL(in.EndpointURL); err != nil {
		return Endpoint{}, err
	}
	if err := checkEvents(in.Events); err != nil {
		return Endpoint{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	e := Endpoint{WebhookEndpoint: store.WebhookEndpoint{ID: id.New("we"), URL: in.EndpointURL, Status: StatusEnabled,
		Events: in.Events, CreatedAt: now, UpdatedAt: now}, Secret: newSecret()}
	e.SealedSecret = s.Sealer.Seal([]byte(e.Secret), sealLabel(e.ID))
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateWebhookEndpoint(ctx, e.WebhookEndpoint); err != nil {
			return err
		}
		return q.PutConsumer(ctx, store.Consumer{Kind: Kind, DestinationID: e.ID, EventNames: e.Events,
			State: store.ConsumerActive, CreatedAt: now, UpdatedAt: now})
	})
	if errors.Is(err, store.ErrConflict) {
		return Endpoint{}, errs.Conflict("duplicate_endpoint", "A webhook endpoint with this endpoint_url already exists.")
	}
	if err != nil {
		return Endpoint{}, err
	}
	return s.Get(ctx, e.ID)
}

// Get returns an endpoint with its secret and delivery state.
func (s *Service) Get(ctx context.Context, endpointID string) (Endpoint, error) {
	e, err := s.Store.GetWebhookEndpoint(ctx, endpointID)
	if errors.Is(err, store.ErrNotFound) {
		return Endpoint{}, errs.NotFound("Webhook endpoint", endpointID)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return s.open(ctx, e)
}

func (s *Service) open(ctx context.Context, e store.WebhookEndpoint) (Endpoint, error) {
	secret, err := s.Sealer.Open(e.SealedSecret, sealLabel(e.ID))
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook endpoint %s secret: %w", e.ID, err)
	}
	c, err := s.Store.GetConsumer(ctx, Kind, e.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Endpoint{}, err
	}
	return Endpoint{WebhookEndpoint: e, Secret: string(secret), Consumer: c}, nil
}

// List pages through the endpoints.
func (s *Service) List(ctx context.Context, p store.Page) ([]Endpoint, store.PageInfo, error) {
	es, info, err := s.Store.ListWebhookEndpoints(ctx, p)
	if err != nil {
		return nil, info, err
	}
	out := make([]Endpoint, 0, len(es))
	for _, e := range es {
		o, err := s.open(ctx, e)
		if err != nil {
			return nil, info, err
		}
		out = append(out, o)
	}
	return out, info, nil
}

// Update changes an endpoint's URL, events or status. Enabling an endpoint
// (status "enabled", also when it is already enabled) resumes a parked one
// from where it stopped; disabling keeps its place.
func (s *Service) Update(ctx context.Context, endpointID string, in UpdateInput) (Endpoint, error) {
	if in.EndpointURL != nil {
		if err := s.checkURL(*in.EndpointURL); err != nil {
			return Endpoint{}, err
		}
	}
	if in.Events != nil {
		if err := checkEvents(in.Events); err != nil {
			return Endpoint{}, err
		}
	}
	if in.Status != nil && *in.Status != StatusEnabled && *in.Status != StatusDisabled {
		return Endpoint{}, errs.InvalidField("status", "invalid", `status must be "enabled" or "disabled".`)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		e, err := q.GetWebhookEndpoint(ctx, endpointID)
		if err != nil {
			return err
		}
		c, err := q.GetConsumer(ctx, Kind, endpointID)
		if err != nil {
			return err
		}
		if in.EndpointURL != nil {
			e.URL = *in.EndpointURL
		}
		if in.Events != nil {
			e.Events = in.Events
		}
		if in.Status != nil {
			e.Status = *in.Status
		}
		e.UpdatedAt = now
		if err := q.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		if err := q.PutConsumer(ctx, store.Consumer{Kind: Kind, DestinationID: e.ID, EventNames: e.Events,
			State: c.State, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		switch {
		case in.Status == nil:
			return nil
		case *in.Status == StatusEnabled:
			return q.SetConsumerState(ctx, Kind, e.ID, store.ConsumerActive, now)
		default:
			return q.SetConsumerState(ctx, Kind, e.ID, store.ConsumerDisabled, now)
		}
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Endpoint{}, errs.NotFound("Webhook endpoint", endpointID)
	case errors.Is(err, store.ErrConflict):
		return Endpoint{}, errs.Conflict("duplicate_endpoint", "A webhook endpoint with this endpoint_url already exists.")
	case err != nil:
		return Endpoint{}, err
	}
	if s.Nudge != nil {
		s.Nudge()
	}
	return s.Get(ctx, endpointID)
}

// Delete removes an endpoint, its place in the outbox and its delivery log.
func (s *Service) Delete(ctx context.Context, endpointID string) error {
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteWebhookEndpoint(ctx, endpointID); err != nil {
			return err
		}
		if err := q.DeleteConsumer(ctx, Kind, endpointID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFound("Webhook endpoint", endpointID)
	}
	return err
}

// Deliveries pages through an endpoint's delivery attempts.
func (s *Service) Deliveries(ctx context.Context, endpointID string, p store.Page) ([]store.WebhookDelivery, store.PageInfo, error) {
	if _, err := s.Store.GetWebhookEndpoint(ctx, endpointID); errors.Is(err, store.ErrNotFound) {
		return nil, store.PageInfo{}, errs.NotFound("Webhook endpoint", endpointID)
	} else if err != nil {
		return nil, store.PageInfo{}, err
	}
	return s.Store.ListWebhookDeliveries(ctx, endpointID, p)
}

// PruneDeliveries forgets delivery attempts older than keep.
func (s *Service) PruneDeliveries(ctx context.Context, keep time.Duration) error {
	return s.Store.DeleteWebhookDeliveriesBefore(ctx, s.now().Add(-keep))
}

// Kind returns the delivery kind to register with the engine.
func (s *Service) Kind() delivery.Kind {
	return delivery.Kind{Name: Kind, Open: s.openSink}
}

func (s *Service) openSink(ctx context.Context, c store.Consumer) (delivery.Sink, error) {
	e, err := s.Store.GetWebhookEndpoint(ctx, c.DestinationID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint %s: %w", c.DestinationID, err)
	}
	secret, err := s.Sealer.Open(e.SealedSecret, sealLabel(e.ID))
	if err != nil {
		return nil, &delivery.Failure{Code: "secret_unreadable", Message: "The endpoint's signing secret cannot be opened with this node's key.",
			Fix: "Give every node the same GATEHOUSE_SECRET_KEY.", Err: err}
	}
	return &sink{endpoint: e, secret: string(secret), http: s.HTTP, now: s.now}, nil
}
