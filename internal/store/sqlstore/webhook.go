package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const webhookCols = `id, url, sealed_secret, status, events, created_at, updated_at`

func scanWebhook(s rowScanner) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var evs string
	var created, updated int64
	if err := s.Scan(&e.ID, &e.URL, &e.SealedSecret, &e.Status, &evs, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(evs), &e.Events); err != nil {
		return e, fmt.Errorf("webhook endpoint %s events: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return e, nil
}

// CreateWebhookEndpoint implements store.Webhooks.
func (q *queries) CreateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return q.exec(ctx, false, `INSERT INTO webhook_endpoints (`+webhookCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.URL, e.SealedSecret, e.Status, namesJSON(e.Events), store.Millis(e.CreatedAt), store.Millis(e.UpdatedAt))
}

// UpdateWebhookEndpoint implements store.Webhooks.
func (q *queries) UpdateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return q.exec(ctx, true, `UPDATE webhook_endpoints SET url = $1, status = $2, events = $3, updated_at = $4 WHERE id = $5`,
		e.URL, e.Status, namesJSON(e.Events), store.Millis(e.UpdatedAt), e.ID)
}

// DeleteWebhookEndpoint implements store.Webhooks.
func (q *queries) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return q.exec(ctx, true, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
}

// GetWebhookEndpoint implements store.Webhooks.
func (q *queries) GetWebhookEndpoint(ctx context.Context, id string) (store.WebhookEndpoint, error) {
	e, err := scanWebhook(q.r.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE id = $1`, id))
	return e, notFound(err)
}

// ListWebhookEndpoints implements store.Webhooks.
func (q *queries) ListWebhookEndpoints(ctx context.Context, p store.Page) ([]store.WebhookEndpoint, store.PageInfo, error) {
	return listPage(ctx, q.r, `SELECT `+webhookCols+` FROM webhook_endpoints`, "id", where{}, p,
		func(r *sql.Rows) (store.WebhookEndpoint, error) { return scanWebhook(r) },
		func(e store.WebhookEndpoint) string { return e.ID })
}

const webhookDeliveryCols = `id, endpoint_id, event_id, event_name, attempted_at, success, status, latency_ms, error_code, message, response`

// AddWebhookDeliveries implements store.Webhooks.
func (q *queries) AddWebhookDeliveries(ctx context.Context, ds []store.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	var sb strings.Builder
	args := make([]any, 0, len(ds)*11)
	// On SQLite the placeholders are plain "?": the driver looks up every
	// named parameter ($N) by a linear scan of the statement's names, which
	// made binding a batch of 50 attempts (550 parameters) quadratic and as
	// costly as sending the 50 events (see docs/benchmarks.md).
	_, anonymous := q.d.(SQLite)
	sb.WriteString(`INSERT INTO webhook_deliveries (` + webhookDeliveryCols + `) VALUES `)
	for i, d := range ds {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j := range 11 {
			if j > 0 {
				sb.WriteString(", ")
			}
			if anonymous {
				sb.WriteString("?")
			} else {
				fmt.Fprintf(&sb, "$%d", len(args)+j+1)
			}
		}
		sb.WriteString(")")
		args = append(args, d.ID, d.EndpointID, d.EventID, d.EventName, store.Millis(d.AttemptedAt), d.Success, d.Status,
			d.LatencyMS, d.ErrorCode, d.Message, d.Response)
	}
	return q.exec(ctx, false, sb.String(), args...)
}

func scanWebhookDelivery(s rowScanner) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var at int64
	err := s.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventName, &at, &d.Success, &d.Status, &d.LatencyMS,
		&d.ErrorCode, &d.Message, &d.Response)
	d.AttemptedAt = store.FromMillis(at)
	return d, err
}

// ListWebhookDeliveries implements store.Webhooks.
func (q *queries) ListWebhookDeliveries(ctx context.Context, endpointID string, p store.Page) ([]store.WebhookDelivery, store.PageInfo, error) {
	var w where
	w.add("endpoint_id = ?", endpointID)
	return listPage(ctx, q.r, `SELECT `+webhookDeliveryCols+` FROM webhook_deliveries`, "id", w, p,
		func(r *sql.Rows) (store.WebhookDelivery, error) { return scanWebhookDelivery(r) },
		func(d store.WebhookDelivery) string { return d.ID })
}

// DeleteWebhookDeliveriesBefore implements store.Webhooks.
func (q *queries) DeleteWebhookDeliveriesBefore(ctx context.Context, t time.Time) error {
	return q.exec(ctx, false, `DELETE FROM webhook_deliveries WHERE attempted_at < $1`, store.Millis(t))
}
