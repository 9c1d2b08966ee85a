package sso

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

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

	// The browser flow and the token exchange are limited per client IP.
	limit := func(reject http.HandlerFunc, h http.HandlerFunc) http.Handler {
		return api.Limited(r.Limits.SSO, api.ByClientIP, reject, h)
	}
	r.Public("GET /sso/authorize", limit(api.WriteRateLimited, h.authorize))
	r.Public("GET /sso/saml/{id}/metadata", api.HandlerFunc(h.spMetadata))
	r.Public("POST /sso/saml/{id}/acs", limit(api.WriteRateLimited, h.acs))
	r.Public("GET /sso/oidc/{id}/callback", limit(api.WriteRateLimited, h.oidcCallback))
	r.Public("POST /sso/token", limit(tokenRateLimited, h.token))
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

// clientIP is the address recorded on authentication events: the peer, or
// the client behind a trusted proxy (GATEHOUSE_TRUSTED_PROXIES).
func clientIP(r *http.Request) string { return api.ClientIP(r) }

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
	h.Svc.SetLoginCookies(w, o)
	switch {
	case o.Page != nil:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+o.PageNonce+"'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusOK)
		w.Write(o.Page)
	case o.Location != "":
		// Always an absolute URL we built (the IdP's, or the redirect_uri
		// with its code): no need for http.Redirect's parsing of it and
		// its HTML body, which cost more than the rest of the response.
		w.Header().Set("Location", o.Location)
		w.WriteHeader(http.StatusFound)
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

// errorPage is shown when the browser cannot be sent back to the host app.
// It must read well at 390 px: long values (a redirect URI) wrap inside
// the card, ordinary words do not break.
// SetLoginCookies sets (or clears) the cookie that binds the login of o to
// the browser that started it. Every handler that starts a login must call
// it: the ACS and the OIDC callback refuse a login without its cookie.
func (s *Service) SetLoginCookies(w http.ResponseWriter, o Outcome) {
	if o.BindSecret != "" {
		http.SetCookie(w, s.loginCookie(o.BindRequestID, o.BindSecret, int(RequestLifetime.Seconds())))
	}
	if o.Unbind != "" {
		http.SetCookie(w, s.loginCookie(o.Unbind, "", -1))
	}
}

// loginCookie is the cookie that binds a login to the browser that started
// it, scoped to the SSO endpoints. The SAML ACS receives a cross-site POST
// from the IdP, which browsers send only SameSite=None cookies with, and
// those must be Secure: so under an https base URL the cookie is
// SameSite=None; Secure. Over plain http (gatehouse dev, an IdP on the
// same site) it is SameSite=Lax, which same-site posts and the OIDC
// callback's top-level GET carry.
func (s *Service) loginCookie(requestID, secret string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: LoginCookieName(requestID), Value: secret, Path: "/sso/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if u, err := url.Parse(s.BaseURL); err == nil {
		c.Path = strings.TrimSuffix(u.Path, "/") + "/sso/"
		if u.Scheme == "https" {
			c.Secure, c.SameSite = true, http.SameSiteNoneMode
		}
	}
	return c
}

// browser reads the login cookies the request carries.
func browser(r *http.Request) Browser {
	return func(requestID string) string {
		if c, err := r.Cookie(LoginCookieName(requestID)); err == nil {
			return c.Value
		}
		return ""
	}
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%233b4cca'/%3E%3Cpath d='M21 11.5a7 7 0 1 0 1.5 6.5H16' fill='none' stroke='white' stroke-width='3' stroke-linecap='round'/%3E%3C/svg%3E">
<style>
:root{--ink:#1b2330;--muted:#5f6b7a;--line:#dfe3ea;--bg:#f3f5f9;--accent:#3b4cca;--fix-bg:#eef1fd}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:560px;margin:48px auto;padding:0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:28px;box-shadow:0 1px 3px rgba(20,30,60,.06);overflow-wrap:anywhere}
.eyebrow{margin:0 0 6px;color:#a01c1c;font-size:13px;font-weight:600;letter-spacing:.03em;text-transform:uppercase}
h1{font-size:21px;line-height:1.3;margin:0 0 12px;overflow-wrap:normal}
p{margin:0 0 14px}
.detail{font-weight:500}
.muted{color:var(--muted)}
.fix{background:var(--fix-bg);border-radius:8px;padding:14px 16px;margin:18px 0}
.fix h2{font-size:13px;margin:0 0 4px;text-transform:uppercase;letter-spacing:.04em;color:var(--accent)}
.fix p{margin:0}
code{background:var(--bg);padding:1px 5px;border-radius:4px;font-size:13px}
small{color:var(--muted)}
@media (max-width:480px){main{margin:24px auto}.card{padding:20px}}
</style></head>
<body><main><div class="card">
<p class="eyebrow">Sign-in failed</p>
<h1>{{.Title}}</h1>
{{with .Detail}}<p class="detail">{{.}}</p>{{end}}
{{with .Explanation}}<p class="muted">{{.}}</p>{{end}}
{{with .Fix}}<div class="fix"><h2>How to fix</h2><p>{{.}}</p></div>{{end}}
<small>Error code: <code>{{.Code}}</code></small>
</div></main></body></html>
`))

// errorPageData is what errorPage shows.
type errorPageData struct {
	Title, Detail, Explanation, Fix, Code string
}

// sentence makes a failure's detail read as a sentence on the page: a
// capital first letter (unless it starts with an identifier such as
// redirect_uri) and a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	first, _, _ := strings.Cut(s, " ")
	if !strings.ContainsAny(first, "_\"") {
		r, n := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func writeErrorPage(w http.ResponseWriter, r *http.Request, status int, o Outcome) {
	d := errorPageData{Title: "The sign-in could not be completed", Code: o.ErrorCode}
	msg := d.Title
	if o.Err != nil {
		reason := o.Err.Reason()
		msg = o.Err.Message()
		d = errorPageData{Title: reason.Title, Detail: sentence(o.Err.Detail), Explanation: reason.Explanation, Fix: reason.Fix, Code: string(o.Err.Code)}
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		var buf bytes.Buffer
		if err := errorPage.Execute(&buf, d); err != nil {
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'")
		w.WriteHeader(status)
		w.Write(buf.Bytes())
		return
	}
	out := map[string]string{"error": o.ErrorCode, "error_description": msg, "code": d.Code, "message": msg}
	if d.Fix != "" {
		out["fix"] = d.Fix
	}
	api.WriteJSON(w, status, out)
}

// maxACSBody bounds the ACS form: the SAMLResponse limit plus room for
// RelayState and encoding.
const maxACSBody = 1 << 20

func (h *Handler) acs(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxACSBody)
	samlResponse, relayState, err := acsForm(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		f := failure.New(failure.MalformedResponse, err)
		if errors.As(err, &tooBig) {
			f = failure.Newf(failure.ResponseTooLarge, "the form exceeds %d bytes", maxACSBody)
		}
		h.Svc.RecordACSFailure(r.Context(), r.PathValue("id"), clientIP(r), r.UserAgent(), f)
		writeErrorPage(w, r, http.StatusBadRequest, Outcome{ErrorCode: "invalid_request", Err: f})
		return
	}
	o := h.Svc.ACS(r.Context(), r.PathValue("id"), samlResponse, relayState, clientIP(r), r.UserAgent(), browser(r))
	h.finish(w, r, o)
}

func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.Svc.OIDCCallback(r.Context(), r.PathValue("id"), r.URL.Query(), clientIP(r), r.UserAgent(), browser(r))
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

// tokenRateLimited is the token endpoint's 429, in OAuth's error format.
func tokenRateLimited(w http.ResponseWriter, r *http.Request) {
	oauthJSON(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Too many requests: retry after the number of seconds in the Retry-After header.")
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
