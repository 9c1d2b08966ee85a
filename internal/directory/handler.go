package directory

import (
	"context"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Puller runs a Google Workspace pull now.
type Puller interface {
	SyncNow(ctx context.Context, dirID string) (any, error)
}

// Handler serves the WorkOS directory API and Gatehouse's directory
// management extensions.
type Handler struct {
	Svc *Service
	// Google runs on-demand pulls (POST /directories/{id}/sync).
	Google Puller
	// FlushLog writes this node's buffered SCIM request log, so a read
	// right after a request sees it.
	FlushLog func(ctx context.Context)
}

// Routes registers the handler's routes.
func (h *Handler) Routes(r api.Router) {
	r.API("POST /directories", h.create)
	r.API("GET /directories", h.list)
	r.API("GET /directories/{id}", h.get)
	r.API("DELETE /directories/{id}", h.delete)
	r.API("POST /directories/{id}/tokens", h.createToken)
	r.API("GET /directories/{id}/tokens", h.listTokens)
	r.API("DELETE /directories/{id}/tokens/{token_id}", h.revokeToken)
	r.API("GET /directories/{id}/scim_requests", h.scimRequests)
	r.API("POST /directories/{id}/sync", h.sync)
	r.API("GET /directory_users", h.listUsers)
	r.API("GET /directory_users/{id}", h.getUser)
	r.API("GET /directory_groups", h.listGroups)
	r.API("GET /directory_groups/{id}", h.getGroup)
}

// DirectoryToJSON renders a directory; counts may be nil.
func (s *Service) DirectoryToJSON(d store.Directory, c *store.DirectoryCounts) DirectoryJSON {
	out := DirectoryJSON{
		Object: "directory", ID: d.ID, OrganizationID: d.OrganizationID, ExternalKey: d.ExternalKey, Type: d.Type,
		State: d.State, Name: d.Name, Domain: wire.StrPtr(d.Domain), CreatedAt: wire.Time(d.CreatedAt), UpdatedAt: wire.Time(d.UpdatedAt),
	}
	if c != nil {
		out.Metadata = &MetadataJSON{Groups: c.Groups}
		out.Metadata.Users.Active, out.Metadata.Users.Inactive = c.ActiveUsers, c.InactiveUsers
	}
	if IsSCIM(d.Type) {
		out.SCIM = &SCIMInfoJSON{BaseURL: s.SCIMBaseURL(d.ID)}
	}
	if d.Type == TypeGoogle {
		g, _ := s.Google(d)
		out.Google = &GoogleInfoJSON{AdminEmail: g.AdminEmail, CustomerID: g.CustomerID, LastSyncAt: wire.TimePtr(d.LastSyncAt),
			LastSyncError: wire.StrPtr(d.LastSyncError), NextSyncAt: wire.TimePtr(d.NextSyncAt)}
	}
	return out
}

func (h *Handler) render(r *http.Request, d store.Directory) (DirectoryJSON, error) {
	c, err := h.Svc.Counts(r.Context(), d.ID)
	if err != nil {
		return DirectoryJSON{}, err
	}
	return h.Svc.DirectoryToJSON(d, &c), nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	d, err := h.Svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	out, err := h.render(r, d)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, out)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ds, info, err := h.Svc.List(r.Context(), store.DirectoryFilter{OrganizationID: q.Get("organization_id"), Search: q.Get("search"), Domain: q.Get("domain")}, p)
	if err != nil {
		return err
	}
	out := make([]DirectoryJSON, 0, len(ds))
	for _, d := range ds {
		j, err := h.render(r, d)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	d, err := h.Svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := h.render(r, d)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

func tokenToJSON(t store.DirectoryToken, secret string) TokenJSON {
	return TokenJSON{Object: "directory_token", ID: t.ID, DirectoryID: t.DirectoryID, Name: t.Name, Token: secret,
		TokenSuffix: t.Suffix, CreatedAt: wire.Time(t.CreatedAt), LastUsedAt: wire.TimePtr(t.LastUsedAt)}
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := h.Svc.CreateToken(r.Context(), r.PathValue("id"), in.Name)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, tokenToJSON(t.DirectoryToken, t.Secret))
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.Svc.Tokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]TokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenToJSON(t, ""))
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, store.PageInfo{}))
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.RevokeToken(r.Context(), r.PathValue("id"), r.PathValue("token_id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

// SCIMRequestJSON is one logged SCIM request.
type SCIMRequestJSON struct {
	Object       string  `json:"object"`
	ID           string  `json:"id"`
	DirectoryID  string  `json:"directory_id"`
	Method       string  `json:"method"`
	Path         string  `json:"path"`
	Status       int     `json:"status"`
	Error        *string `json:"error"`
	LatencyMs    float64 `json:"latency_ms"`
	RequestBody  string  `json:"request_body"`
	ResponseBody string  `json:"response_body"`
	CreatedAt    string  `json:"created_at"`
}

func (h *Handler) scimRequests(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	if h.FlushLog != nil {
		h.FlushLog(r.Context())
	}
	rs, info, err := h.Svc.SCIMRequests(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	out := make([]SCIMRequestJSON, 0, len(rs))
	for _, x := range rs {
		out = append(out, SCIMRequestJSON{Object: "scim_request", ID: x.ID, DirectoryID: x.DirectoryID, Method: x.Method, Path: x.Path,
			Status: x.Status, Error: wire.StrPtr(x.Error), LatencyMs: float64(x.LatencyMicro) / 1000, RequestBody: x.RequestBody,
			ResponseBody: x.ResponseBody, CreatedAt: wire.Time(x.CreatedAt)})
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) sync(w http.ResponseWriter, r *http.Request) error {
	d, err := h.Svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if d.Type != TypeGoogle || h.Google == nil {
		return errs.BadRequest("directory_not_pulled", "Only gsuite directory directories are pulled; SCIM directories are pushed by the IdP.")
	}
	res, err := h.Google.SyncNow(r.Context(), d.ID)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, res)
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.DirectoryUserFilter{DirectoryID: q.Get("directory"), GroupID: q.Get("group"), Email: q.Get("email"), IdPID: q.Get("idp_id")}
	us, gs, info, err := h.Svc.ListUsers(r.Context(), f, p)
	if err != nil {
		return err
	}
	out := make([]UserWithGroupsJSON, 0, len(us))
	for _, u := range us {
		out = append(out, UserWithGroupsToJSON(u, gs[u.ID]))
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, gs, err := h.Svc.GetUser(r.Context(), "", r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, UserWithGroupsToJSON(u, gs))
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	gs, info, err := h.Svc.ListGroups(r.Context(), store.DirectoryGroupFilter{DirectoryID: q.Get("directory"), UserID: q.Get("user")}, p)
	if err != nil {
		return err
	}
	out := make([]GroupJSON, 0, len(gs))
	for _, g := range gs {
		out = append(out, GroupToJSON(g))
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.Svc.GetGroup(r.Context(), "", r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, GroupToJSON(g))
}
