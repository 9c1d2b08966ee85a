package store

import (
	"context"
	"time"
)

// WebhookEndpoint is a URL that receives signed events (we_…).
type WebhookEndpoint struct {
	ID           string
	URL          string
	SealedSecret string // the signing secret, sealed (internal/secrets)
	Status       string // "enabled" | "disabled"
	Events       []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// WebhookDelivery is one delivery attempt of one event to an endpoint.
type WebhookDelivery struct {
	ID          string // webhook_delivery_…; sorts by attempt time
	EndpointID  string
	EventID     string
	EventName   string
	AttemptedAt time.Time
	Success     bool
	Status      int   // the endpoint's HTTP status; 0 if none
	LatencyMS   int64 // time to the answer (or the failure)
	ErrorCode   string
	Message     string // what went wrong, in plain words; empty on success
	Response    string // the start of the answer's body
}

// Webhooks stores webhook endpoints and their delivery log.
type Webhooks interface {
	// CreateWebhookEndpoint stores e; ErrConflict if its URL is taken.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	// UpdateWebhookEndpoint saves URL, status and events; ErrConflict if
	// the new URL is taken.
	UpdateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	GetWebhookEndpoint(ctx context.Context, id string) (WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, p Page) ([]WebhookEndpoint, PageInfo, error)
	// AddWebhookDeliveries records attempts, in one statement per call.
	AddWebhookDeliveries(ctx context.Context, ds []WebhookDelivery) error
	// ListWebhookDeliveries pages through an endpoint's attempts.
	ListWebhookDeliveries(ctx context.Context, endpointID string, p Page) ([]WebhookDelivery, PageInfo, error)
	DeleteWebhookDeliveriesBefore(ctx context.Context, t time.Time) error
}
