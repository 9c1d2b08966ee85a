package sso

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Handler serves the SSO API and browser endpoints.
type Handler struct {
	Svc *Service
}

// Routes registers SSO's routes.
func (h *Handler) Routes(r api.Router) {
	r.API("GET /connections", h.list)
	r.API("POST /connections", h.create)
	r.API("GET /connections/{id}", h.get)
	r.API("PUT /connections/{id}", h.update)
	r.API("DELETE /connections/{id}", h.delete)
	r.API("POST /connections/{id}/certificates", h.addCert)
	r.API("DELETE /connections/{id}/certificates/{fingerprint}", h.deleteCert)
	r.API("POST /connections/{id}/sp_keys/rotate", h.rotateSPKeys)
	r.API("GET /connection_presets", h.presets)
	r.API("PUT /organizations/{id}/sso_policy", h.setPolicy)
	r.API("GET /sso/policy", h.policy)
	r.API("POST /redirect_uris", h.addRedirect)
	r.API("GET /redirect_uris", h.listRedirects)
	r.API("DELETE /redirect_uris/{id}", h.deleteRedirect)

	r.Public("GET /sso/authorize", http.HandlerFunc(h.authorize))
	r.Public("GET /sso/saml/{id}/metadata", api.HandlerFunc(h.spMetadata))
	r.Public("POST /sso/saml/{id}/acs", http.HandlerFunc(h.acs))
	r.Public("GET /sso/oidc/{id}/callback", http.HandlerFunc(h.oidcCallback))
	r.Public("POST /sso/token", http.HandlerFunc(h.token))
	r.Public("GET /sso/profile", http.HandlerFunc(h.profile))
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r, store.Desc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cs, info, err := h.Svc.List(r.Context(), store.ConnectionFilter{
		OrganizationID: q.Get("organization_id"), Type: q.Get("connection_type"), Domain: q.Get("domain"), Search: q.Get("search"),
	}, p)
	if err != nil {
		return err
	}
	out := make([]ConnectionJSON, len(cs))
	for i, c := range cs {
		out[i] = h.Svc.JSON(c)
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, info))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in ConnectionInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := h.Svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, h.Svc.JSON(c))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	c, err := h.Svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, h.Svc.JSON(c))
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	var in ConnectionInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := h.Svc.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, h.Svc.JSON(c))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

func (h *Handler) addCert(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Certificate string `json:"certificate"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Certificate) == "" {
		return errs.InvalidField("certificate", "required", "certificate is required (PEM).")
	}
	rec, _, err := h.Svc.AddCertificate(r.Context(), r.PathValue("id"), in.Certificate)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, CertToJSON(rec))
}

func (h *Handler) deleteCert(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.DeleteCertificate(r.Context(), r.PathValue("id"), r.PathValue("fingerprint")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

func (h *Handler) rotateSPKeys(w http.ResponseWriter, r *http.Request) error {
	c, err := h.Svc.RotateSPKeys(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, h.Svc.JSON(c))
}

func (h *Handler) presets(w http.ResponseWriter, r *http.Request) error {
	out := []Preset{}
	for _, t := range presetTypes() {
		out = append(out, Presets[t])
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, store.PageInfo{}))
}

func (h *Handler) setPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Policy string `json:"policy"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	out, err := h.Svc.SetPolicy(r.Context(), r.PathValue("id"), in.Policy)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) policy(w http.ResponseWriter, r *http.Request) error {
	out, err := h.Svc.PolicyForEmail(r.Context(), r.URL.Query().Get("email"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) addRedirect(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		URI     string `json:"uri"`
		Default bool   `json:"default"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	out, err := h.Svc.AddRedirectURI(r.Context(), in.URI, in.Default)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, out)
}

func (h *Handler) listRedirects(w http.ResponseWriter, r *http.Request) error {
	out, err := h.Svc.ListRedirectURIs(r.Context())
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(out, store.PageInfo{}))
}

func (h *Handler) deleteRedirect(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.DeleteRedirectURI(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}

// clientIP is the request's peer address. Forwarded headers are not
// trusted: Gatehouse does not know its proxies.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := h.Svc.Authorize(r.Context(), AuthorizeParams{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), ResponseType: q.Get("response_type"),
		State: q.Get("state"), Connection: q.Get("connection"), Organization: q.Get("organization"),
		Provider: q.Get("provider"), Domain: q.Get("domain"), DomainHint: q.Get("domain_hint"), LoginHint: q.Get("login_hint"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		Prompt: q.Get("prompt"), ProviderScopes: api.QueryArray(q, "provider_scopes"),
		IPAddress: clientIP(r), UserAgent: r.UserAgent(),
	})
	h.finish(w, r, o)
}

// finish sends the browser on: to Location, to the redirect_uri with an
// error, or to an error page (HTML for browsers, JSON otherwise).
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, o Outcome) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case o.Page != nil:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+o.PageNonce+"'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusOK)
		w.Write(o.Page)
	case o.Location != "":
		http.Redirect(w, r, o.Location, http.StatusFound)
	case o.RedirectURI != "":
		http.Redirect(w, r, o.ErrorLocation(), http.StatusFound)
	default:
		status := http.StatusBadRequest
		if o.Err != nil && o.Err.Code == failure.InternalError {
			status = http.StatusInternalServerError
		} else if o.Err != nil && o.Err.Code == failure.ConnectionInvalid {
			status = http.StatusNotFound
		}
		writeErrorPage(w, r, status, o)
	}
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Sign-in failed</h1><p>{{.Message}}</p>{{if .Explanation}}<p>{{.Explanation}}</p>{{end}}
{{if .Fix}}<p><strong>How to fix:</strong> {{.Fix}}</p>{{end}}<p>Error code: <code>{{.Code}}</code></p></body></html>
`))

func writeErrorPage(w http.ResponseWriter, r *http.Request, status int, o Outcome) {
	code, msg := o.ErrorCode, "The sign-in could not be completed."
	var reason failure.Reason
	if o.Err != nil {
		msg, reason = o.Err.Message(), failure.Catalogue[o.Err.Code]
		code = string(o.Err.Code)
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.WriteHeader(status)
		errorPage.Execute(w, map[string]string{"Message": msg, "Explanation": reason.Explanation, "Fix": reason.Fix, "Code": code})
		return
	}
	api.WriteJSON(w, status, map[string]string{"error": o.ErrorCode, "error_description": msg, "code": code, "message": msg})
}

// maxACSBody bounds the ACS form: the SAMLResponse limit plus room for
// RelayState and encoding.
const maxACSBody = 1 << 20

func (h *Handler) acs(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxACSBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		f := failure.New(failure.MalformedResponse, err)
		if errors.As(err, &tooBig) {
			f = failure.Newf(failure.ResponseTooLarge, "the form exceeds %d bytes", maxACSBody)
		}
		h.Svc.RecordACSFailure(r.Context(), r.PathValue("id"), clientIP(r), r.UserAgent(), f)
		writeErrorPage(w, r, http.StatusBadRequest, Outcome{ErrorCode: "invalid_request", Err: f})
		return
	}
	o := h.Svc.ACS(r.Context(), r.PathValue("id"), r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState"), clientIP(r), r.UserAgent())
	h.finish(w, r, o)
}

func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.Svc.OIDCCallback(r.Context(), r.PathValue("id"), r.URL.Query(), clientIP(r), r.UserAgent())
	h.finish(w, r, o)
}

func (h *Handler) spMetadata(w http.ResponseWriter, r *http.Request) error {
	b, err := h.Svc.SPMetadata(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, err = w.Write(b)
	return err
}

// tokenParams reads POST /sso/token in every style the SDKs use: query
// (GO7 adds ?code=), form (GO4/GO6, Node) and JSON (GO7).
func tokenParams(r *http.Request) (TokenParams, error) {
	vals := url.Values{}
	for k, v := range r.URL.Query() {
		vals[k] = v
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return TokenParams{}, err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := strings.TrimSpace(string(body))
	switch {
	case mt == "application/json" || strings.HasPrefix(trimmed, "{"):
		var m map[string]any
		if trimmed != "" {
			if err := json.Unmarshal([]byte(trimmed), &m); err != nil {
				return TokenParams{}, err
			}
		}
		for k, v := range m {
			if s, ok := v.(string); ok && s != "" {
				vals.Set(k, s)
			}
		}
	case trimmed != "":
		form, err := url.ParseQuery(trimmed)
		if err != nil {
			return TokenParams{}, err
		}
		for k, v := range form {
			if len(v) > 0 && v[0] != "" {
				vals[k] = v
			}
		}
	}
	p := TokenParams{ClientID: vals.Get("client_id"), ClientSecret: vals.Get("client_secret"), GrantType: vals.Get("grant_type"),
		Code: vals.Get("code"), CodeVerifier: vals.Get("code_verifier")}
	p.BearerKeys = bearers(r)
	return p, nil
}

// bearers returns every "Authorization: Bearer" value.
func bearers(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Authorization") {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			out = append(out, strings.TrimSpace(h[7:]))
		}
	}
	return out
}

func oauthJSON(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	p, err := tokenParams(r)
	if err != nil {
		oauthJSON(w, http.StatusBadRequest, "invalid_request", "The request body could not be read as a form or JSON.")
		return
	}
	res, err := h.Svc.Token(r.Context(), p)
	var oe *OAuthError
	switch {
	case errors.As(err, &oe):
		oauthJSON(w, oe.Status, oe.Code, oe.Description)
	case err != nil:
		api.WriteError(w, r, err)
	default:
		w.Header().Set("Cache-Control", "no-store")
		api.WriteJSON(w, http.StatusOK, res)
	}
}

func (h *Handler) profile(w http.ResponseWriter, r *http.Request) {
	prof, err := h.Svc.ProfileFor(r.Context(), bearers(r))
	switch {
	case errors.Is(err, ErrNoAccessToken):
		msg := "Send the access token from POST /sso/token as 'Authorization: Bearer …'."
		api.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized", "error_description": msg, "message": "Unauthorized: " + msg})
	case err != nil:
		api.WriteError(w, r, err)
	default:
		api.WriteJSON(w, http.StatusOK, prof)
	}
}
