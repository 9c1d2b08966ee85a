package auditlog

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Handler serves the WorkOS audit logs API.
type Handler struct {
	Svc *Service
}

// Routes registers the audit log routes.
func (h *Handler) Routes(r api.Router) {
	r.API("POST /audit_logs/events", h.createEvent)
	r.API("POST /audit_logs/exports", h.createExport)
	r.API("GET /audit_logs/exports/{id}", h.getExport)
	r.Public("GET /audit_logs/exports/{id}/download", api.HandlerFunc(h.download))
	r.API("GET /audit_logs/actions", h.listActions)
	r.API("GET /audit_logs/actions/{name}/schemas", h.listSchemas)
	r.API("POST /audit_logs/actions/{name}/schemas", h.createSchema)
	// GET /organizations/{id}/audit_logs_retention and …/audit_log_configuration
	// share one pattern: net/http refuses two GET patterns with a wildcard
	// second segment beside GET /organizations/external_id/{external_id}.
	r.API("GET /organizations/{id}/{resource}", h.getOrganizationResource)
	r.API("PUT /organizations/{id}/audit_logs_retention", h.setRetention)
}

func (h *Handler) getOrganizationResource(w http.ResponseWriter, r *http.Request) error {
	switch r.PathValue("resource") {
	case "audit_logs_retention":
		return h.getRetention(w, r)
	case "audit_log_configuration":
		return h.configuration(w, r)
	}
	return &errs.Error{Kind: errs.KindNotFound, Code: "route_not_found", Message: "No route for GET " + r.URL.Path + "."}
}

func (h *Handler) createEvent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OrganizationID string          `json:"organization_id"`
		Event          json.RawMessage `json:"event"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := h.Svc.CreateEvent(r.Context(), in.OrganizationID, in.Event); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (h *Handler) createExport(w http.ResponseWriter, r *http.Request) error {
	var in ExportInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	x, err := h.Svc.CreateExport(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, x)
}

func (h *Handler) getExport(w http.ResponseWriter, r *http.Request) error {
	x, err := h.Svc.GetExport(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, x)
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	b, err := h.Svc.Download(r.Context(), r.PathValue("id"), q.Get("expires"), q.Get("signature"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.csv"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

func (h *Handler) listActions(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	acts, info, err := h.Svc.ListActions(r.Context(), p)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(acts, info))
}

func (h *Handler) listSchemas(w http.ResponseWriter, r *http.Request) error {
	all, err := h.Svc.ListSchemas(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(all, store.PageInfo{}))
}

func (h *Handler) createSchema(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	if err := api.DecodeJSON(r, &raw); err != nil {
		return err
	}
	sc, err := h.Svc.CreateSchema(r.Context(), r.PathValue("name"), raw)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, sc)
}

type retentionJSON struct {
	RetentionPeriodInDays int `json:"retention_period_in_days"`
}

func (h *Handler) getRetention(w http.ResponseWriter, r *http.Request) error {
	days, err := h.Svc.Retention(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, retentionJSON{days})
}

func (h *Handler) setRetention(w http.ResponseWriter, r *http.Request) error {
	var in retentionJSON
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	days, err := h.Svc.SetRetention(r.Context(), r.PathValue("id"), in.RetentionPeriodInDays)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, retentionJSON{days})
}

func (h *Handler) configuration(w http.ResponseWriter, r *http.Request) error {
	c, err := h.Svc.Configuration(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}
