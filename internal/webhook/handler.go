package webhook

import (
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Handler serves /webhook_endpoints.
type Handler struct {
	Svc *Service
}

// Routes registers the webhook endpoints API.
func (h *Handler) Routes(r api.Router) {
	r.API("GET /webhook_endpoints", h.list)
	r.API("POST /webhook_endpoints", h.create)
	r.API("GET /webhook_endpoints/{id}", h.get)
	r.API("PATCH /webhook_endpoints/{id}", h.update)
	r.API("DELETE /webhook_endpoints/{id}", h.delete)
	r.API("GET /webhook_endpoints/{id}/deliveries", h.deliveries)
}

// EndpointJSON is WorkOS's WebhookEndpoint, plus Gatehouse's delivery state.
type EndpointJSON struct {
	Object      string       `json:"object"`
	ID          string       `json:"id"`
	EndpointURL string       `json:"endpoint_url"`
	Secret      string       `json:"secret"`
	Status      string       `json:"status"`
	Events      []string     `json:"events"`
	CreatedAt   string       `json:"created_at"`
	UpdatedAt   string       `json:"updated_at"`
	Delivery    DeliveryJSON `json:"delivery"`
}

// DeliveryJSON is an endpoint's delivery state (a Gatehouse extension).
type DeliveryJSON struct {
	State         string                `json:"state"` // active | disabled | parked
	Attempts      int                   `json:"failed_attempts"`
	NextAttemptAt *string               `json:"next_attempt_at"`
	FailingSince  *string               `json:"failing_since"`
	ParkedAt      *string               `json:"parked_at"`
	LastSuccessAt *string               `json:"last_success_at"`
	LastError     *delivery.FailureJSON `json:"last_error"`
}

// JSON renders an endpoint.
func (e Endpoint) JSON() EndpointJSON {
	c := e.Consumer
	d := DeliveryJSON{State: c.State, Attempts: c.Attempts, NextAttemptAt: wire.TimePtr(c.NextAttemptAt),
		FailingSince: wire.TimePtr(c.FailingSince), ParkedAt: wire.TimePtr(c.ParkedAt), LastSuccessAt: wire.TimePtr(c.LastSuccessAt)}
	if c.LastErrorCode != "" {
		d.LastError = &delivery.FailureJSON{Code: c.LastErrorCode, Message: c.LastErrorMessage}
	}
	evs := e.Events
	if evs == nil {
		evs = []string{}
	}
	return EndpointJSON{Object: "webhook_endpoint", ID: e.ID, EndpointURL: e.URL, Secret: e.Secret, Status: e.Status,
		Events: evs, CreatedAt: wire.Time(e.CreatedAt), UpdatedAt: wire.Time(e.UpdatedAt), Delivery: d}
}

// DeliveryAttemptJSON is one delivery attempt (GET /webhook_endpoints/{id}/deliveries).
type DeliveryAttemptJSON struct {
	Object      string  `json:"object"`
	ID          string  `json:"id"`
	EndpointID  string  `json:"webhook_endpoint_id"`
	EventID     string  `json:"event_id"`
	Event       string  `json:"event"`
	AttemptedAt string  `json:"attempted_at"`
	Success     bool    `json:"success"`
	Status      *int    `json:"status"`
	LatencyMS   int64   `json:"latency_ms"`
	ErrorCode   *string `json:"error_code"`
	Message     *string `json:"message"`
	Response    string  `json:"response"`
}

func attemptJSON(d store.WebhookDelivery) DeliveryAttemptJSON {
	out := DeliveryAttemptJSON{Object: "webhook_delivery", ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, Event: d.EventName,
		AttemptedAt: wire.Time(d.AttemptedAt), Success: d.Success, LatencyMS: d.LatencyMS, ErrorCode: wire.StrPtr(d.ErrorCode),
		Message: wire.StrPtr(d.Message), Response: d.Response}
	if d.Status != 0 {
		out.Status = &d.Status
	}
	return out
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	es, info, err := h.Svc.List(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]EndpointJSON, len(es))
	for i, e := range es {
		out[i] = e.JSON()
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	e, err := h.Svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, e.JSON())
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	e, err := h.Svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, e.JSON())
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	var in UpdateInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	e, err := h.Svc.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, e.JSON())
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deliveries(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	ds, info, err := h.Svc.Deliveries(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	out := make([]DeliveryAttemptJSON, len(ds))
	for i, d := range ds {
		out[i] = attemptJSON(d)
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}
