package organization

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Handler serves the WorkOS organizations and organization_domains API.
type Handler struct {
	Svc *Service
}

// Routes registers the handler's routes.
func (h *Handler) Routes(r api.Router) {
	r.API("GET /organizations", h.list)
	r.API("POST /organizations", h.create)
	r.API("GET /organizations/{id}", h.get)
	r.API("GET /organizations/external_id/{external_id}", h.getByExternalID)
	r.API("PUT /organizations/{id}", h.update)
	r.API("DELETE /organizations/{id}", h.delete)
	r.API("POST /organization_domains", h.createDomain)
	r.API("GET /organization_domains/{id}", h.getDomain)
	r.API("POST /organization_domains/{id}/verify", h.verifyDomain)
	r.API("DELETE /organization_domains/{id}", h.deleteDomain)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	orgs, info, err := h.Svc.List(r.Context(), store.OrganizationFilter{Domains: api.QueryArray(q, "domains"), Search: q.Get("search")}, p)
	if err != nil {
		return err
	}
	out := make([]OrganizationJSON, len(orgs))
	for i, o := range orgs {
		out[i] = o.JSON()
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in Input
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	o, err := h.Svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, o.JSON())
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	o, err := h.Svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, o.JSON())
}

func (h *Handler) getByExternalID(w http.ResponseWriter, r *http.Request) error {
	o, err := h.Svc.GetByExternalID(r.Context(), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, o.JSON())
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	var in Input
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	o, err := h.Svc.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, o.JSON())
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

func (h *Handler) createDomain(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OrganizationID string `json:"organization_id"`
		Domain         string `json:"domain"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Domain) == "" {
		return errs.InvalidField("domain", "required", "domain is required.")
	}
	d, err := h.Svc.CreateDomain(r.Context(), in.OrganizationID, in.Domain)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, DomainToJSON(d))
}

func (h *Handler) getDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.Svc.GetDomain(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, DomainToJSON(d))
}

func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.Svc.Verify(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, DomainToJSON(d))
}

func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.DeleteDomain(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}
