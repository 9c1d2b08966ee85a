package portal

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (h *Handler) directoryRoutes(r api.Router) {
	r.Public("GET /portal/directory-sync", h.page(h.dsyncList))
	r.Public("POST /portal/directory-sync", h.page(h.dsyncCreate))
	r.Public("GET /portal/directory-sync/{id}", h.page(h.dsyncDirectory))
	r.Public("POST /portal/directory-sync/{id}/token", h.page(h.dsyncRotate))
	r.Public("POST /portal/directory-sync/{id}/sync", h.page(h.dsyncSync))
}

// directoryTypes are the choices offered, in the order admins look for them.
var directoryTypes = []struct{ Type, Name string }{
	{"okta scim v2.0", "Okta"}, {"azure scim v2.0", "Microsoft Entra ID (Azure AD)"}, {directory.TypeGoogle, "Google Workspace"},
	{"onelogin scim v2.0", "OneLogin"}, {"jump cloud scim v2.0", "JumpCloud"}, {"pingfederate scim v2.0", "PingFederate"},
	{"rippling scim v2.0", "Rippling"}, {"generic scim v2.0", "Other SCIM 2.0 provider"},
}

func typeName(t string) string {
	for _, d := range directoryTypes {
		if d.Type == t {
			return d.Name
		}
	}
	return t
}

type dsyncListData struct {
	Directories []store.Directory
	Types       []struct{ Type, Name string }
	TypeNames   map[string]string
}

func (h *Handler) dsyncList(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderDsyncList(w, r, s, "", http.StatusOK)
}

func (h *Handler) renderDsyncList(w http.ResponseWriter, r *http.Request, s Session, formErr string, status int) error {
	ds, err := h.Directories.DirectoriesFor(r.Context(), s.OrganizationID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, d := range directoryTypes {
		names[d.Type] = d.Name
	}
	return h.render(w, r, status, "dsync", &s, view{Title: "Directory Sync", Nav: "dsync", Error: formErr,
		Data: dsyncListData{Directories: ds, Types: directoryTypes, TypeNames: names}})
}

func (h *Handler) dsyncCreate(w http.ResponseWriter, r *http.Request, s Session) error {
	in := directory.CreateInput{OrganizationID: s.OrganizationID, Type: r.PostFormValue("type"),
		Name: strings.TrimSpace(r.PostFormValue("name")), Domain: strings.TrimSpace(r.PostFormValue("domain"))}
	if in.Name == "" {
		in.Name = typeName(in.Type)
	}
	if in.Type == directory.TypeGoogle {
		in.Google = &directory.GoogleSettings{CredentialsJSON: strings.TrimSpace(uploaded(r, "credentials_file", "credentials_json")),
			AdminEmail: strings.TrimSpace(r.PostFormValue("admin_email"))}
	}
	d, err := h.Directories.Create(r.Context(), in)
	if err != nil {
		if msg, ok := message(err); ok {
			if in.Type == "" {
				msg = "Choose your directory provider."
			}
			return h.renderDsyncList(w, r, s, msg, http.StatusUnprocessableEntity)
		}
		return err
	}
	if directory.IsSCIM(d.Type) {
		// The first token is shown right away, once.
		return h.rotateAndShow(w, r, s, d.ID, "Directory created. Copy the bearer token into your identity provider now: it is shown only once.")
	}
	http.Redirect(w, r, "/portal/directory-sync/"+d.ID+"?done=dir-created", http.StatusSeeOther)
	return nil
}

type dsyncData struct {
	Dir      store.Directory
	TypeName string
	SCIM     bool
	BaseURL  string
	Token    string // a new token, shown once
	Activity directory.Activity
	Requests []scimRequestView
}

type scimRequestView struct {
	store.SCIMRequest
	Short       string // the path under the directory's SCIM base URL
	Explanation string
}

// explainSCIM says in plain words what a failed SCIM request means.
func explainSCIM(rq store.SCIMRequest) string {
	switch {
	case rq.Status < 400:
		return ""
	case rq.Status == http.StatusUnauthorized:
		return "The bearer token was missing, wrong or revoked. Copy the current token into your identity provider's provisioning settings."
	case rq.Status == http.StatusNotFound:
		return "Your identity provider referred to a user or group that is not in this directory (it may have been deleted). It usually recovers on the next push."
	case rq.Status == http.StatusConflict:
		return "A user or group with the same userName or externalId already exists. Remove the duplicate in your identity provider or here."
	case rq.Status == http.StatusTooManyRequests:
		return "Your identity provider sent too many requests at once; it retries automatically."
	case rq.Status >= 500:
		return "Something failed on our side; your identity provider retries automatically. Contact support if it persists."
	}
	return "Your identity provider sent a request we could not accept. Check the attribute mapping in its provisioning settings."
}

func (h *Handler) dsyncDirectory(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderDirectory(w, r, s, "", "", http.StatusOK)
}

func (h *Handler) renderDirectory(w http.ResponseWriter, r *http.Request, s Session, token, notice string, status int) error {
	dirID := r.PathValue("id")
	if h.FlushSCIMLog != nil {
		h.FlushSCIMLog(r.Context())
	}
	d, err := h.Directories.DirectoryFor(r.Context(), s.OrganizationID, dirID)
	if err != nil {
		return err
	}
	a, err := h.Directories.ActivityFor(r.Context(), s.OrganizationID, dirID, 25)
	if err != nil {
		return err
	}
	data := dsyncData{Dir: d, TypeName: typeName(d.Type), SCIM: directory.IsSCIM(d.Type), BaseURL: h.Directories.SCIMBaseURL(d.ID),
		Token: token, Activity: a}
	for _, rq := range a.Requests {
		short := strings.TrimPrefix(rq.Path, "/scim/v2/"+d.ID)
		if short == "" {
			short = "/"
		}
		data.Requests = append(data.Requests, scimRequestView{SCIMRequest: rq, Short: short, Explanation: explainSCIM(rq)})
	}
	v := view{Title: d.Name, Nav: "dsync", Notice: notice, Data: data}
	if notice != "" {
		v.Event = "success"
	}
	return h.render(w, r, status, "dsync_directory", &s, v)
}

func (h *Handler) rotateAndShow(w http.ResponseWriter, r *http.Request, s Session, dirID, notice string) error {
	t, err := h.Directories.RotateTokenFor(r.Context(), s.OrganizationID, dirID)
	if err != nil {
		return err
	}
	r.SetPathValue("id", dirID)
	return h.renderDirectory(w, r, s, t.Secret, notice, http.StatusOK)
}

func (h *Handler) dsyncRotate(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.rotateAndShow(w, r, s, r.PathValue("id"), "New bearer token created; the previous one no longer works. Copy it into your identity provider now: it is shown only once.")
}

func (h *Handler) dsyncSync(w http.ResponseWriter, r *http.Request, s Session) error {
	dirID := r.PathValue("id")
	d, err := h.Directories.DirectoryFor(r.Context(), s.OrganizationID, dirID)
	if err != nil {
		return err
	}
	if d.Type != directory.TypeGoogle || h.SyncNow == nil {
		return errs.BadRequest("not_google", "Only Google Workspace directories are pulled on demand.")
	}
	if _, err := h.SyncNow(r.Context(), dirID); err != nil {
		// A failed pull is recorded on the directory (LastSyncError), which
		// the page shows with the fix.
		if d2, err2 := h.Directories.DirectoryFor(r.Context(), s.OrganizationID, dirID); err2 == nil && d2.LastSyncError != "" {
			return h.renderDirectory(w, r, s, "", "", http.StatusOK)
		}
		return err
	}
	http.Redirect(w, r, "/portal/directory-sync/"+dirID+"?done=sync-started", http.StatusSeeOther)
	return nil
}
