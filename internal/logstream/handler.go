package logstream

import (
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Handler serves the /log_streams management API (a Gatehouse extension:
// WorkOS manages streams only in its dashboard). The API key reaches every
// organization, so it calls the service with AnyOrganization.
type Handler struct {
	Svc *Service
}

// Routes registers the handler's routes.
func (h *Handler) Routes(r api.Router) {
	r.API("POST /log_streams", h.create)
	r.API("GET /log_streams", h.list)
	r.API("GET /log_streams/{id}", h.get)
	r.API("PUT /log_streams/{id}", h.update)
	r.API("DELETE /log_streams/{id}", h.delete)
	r.API("POST /log_streams/{id}/test", h.test)
	r.API("POST /log_streams/{id}/replay", h.replay)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	ls, err := h.Svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, ls.JSON())
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	streams, info, err := h.Svc.List(r.Context(), r.URL.Query().Get("organization_id"), p)
	if err != nil {
		return err
	}
	out := make([]JSON, len(streams))
	for i, ls := range streams {
		out[i] = ls.JSON()
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	ls, err := h.Svc.Get(r.Context(), AnyOrganization, r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, ls.JSON())
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	var in UpdateInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	ls, err := h.Svc.Update(r.Context(), AnyOrganization, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, ls.JSON())
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Delete(r.Context(), AnyOrganization, r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

func (h *Handler) test(w http.ResponseWriter, r *http.Request) error {
	res, err := h.Svc.Test(r.Context(), AnyOrganization, r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, res)
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Since string `json:"since"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Since == "" {
		return errs.InvalidField("since", "required", "since is required: an RFC 3339 timestamp, e.g. 2026-01-15T12:00:00.000Z.")
	}
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		return errs.InvalidField("since", "invalid", "since must be an RFC 3339 timestamp, e.g. 2026-01-15T12:00:00.000Z.")
	}
	if err := h.Svc.Replay(r.Context(), AnyOrganization, r.PathValue("id"), since); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, map[string]any{"object": "log_stream_replay", "log_stream_id": r.PathValue("id"), "since": wire.Time(since)})
}
