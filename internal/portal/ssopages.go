package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (h *Handler) ssoRoutes(r api.Router) {
	r.Public("GET /portal/sso", h.page(h.ssoList))
	r.Public("POST /portal/sso", h.page(h.ssoCreate))
	r.Public("POST /portal/sso/policy", h.page(h.ssoPolicy))
	r.Public("GET /portal/sso/{id}", h.page(h.ssoConnection))
	r.Public("POST /portal/sso/{id}", h.page(h.ssoUpdate))
	r.Public("POST /portal/sso/{id}/state", h.page(h.ssoState))
	r.Public("GET /portal/sso/{id}/test", h.page(h.ssoTest))
	r.Public("GET "+sso.PortalTestCallbackPath, h.page(h.ssoTestCallback))
}

type ssoListData struct {
	Connections []sso.Connection
	Presets     []sso.Preset
	PresetNames map[string]string
	Suggest     string
	Policy      string
	// Missing says why SSO cannot be required yet ("" = it can).
	Missing []string
}

func (h *Handler) ssoList(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderSSOList(w, r, s, "", http.StatusOK)
}

func (h *Handler) renderSSOList(w http.ResponseWriter, r *http.Request, s Session, formErr string, status int) error {
	o, err := h.Orgs.Get(r.Context(), s.OrganizationID)
	if err != nil {
		return err
	}
	cs, err := h.SSO.ConnectionsFor(r.Context(), s.OrganizationID)
	if err != nil {
		return err
	}
	d := ssoListData{Connections: cs, Policy: o.SSOPolicy, PresetNames: map[string]string{}}
	for _, p := range sso.Presets {
		d.Presets = append(d.Presets, p)
		d.PresetNames[p.Type] = p.DisplayName
	}
	sort.Slice(d.Presets, func(i, j int) bool { return d.Presets[i].DisplayName < d.Presets[j].DisplayName })
	if io := s.Opts.IntentOptions; io != nil && io.SSO != nil {
		d.Suggest = io.SSO.ProviderType
	}
	active, verified := false, false
	for _, c := range cs {
		active = active || c.State == store.ConnectionActive
	}
	for _, dm := range o.Domains {
		verified = verified || dm.State == store.DomainVerified
	}
	if !active {
		d.Missing = append(d.Missing, "an active SSO connection")
	}
	if !verified {
		d.Missing = append(d.Missing, "a verified domain")
	}
	return h.render(w, r, status, "sso", &s, view{Title: "Single sign-on", Nav: "sso", Org: o, Error: formErr, Data: d})
}

func (h *Handler) ssoCreate(w http.ResponseWriter, r *http.Request, s Session) error {
	in := sso.ConnectionInput{OrganizationID: s.OrganizationID, ConnectionType: r.PostFormValue("connection_type")}
	if name := strings.TrimSpace(r.PostFormValue("name")); name != "" {
		in.Name = &name
	}
	c, err := h.SSO.Create(r.Context(), in)
	if err != nil {
		if msg, ok := message(err); ok {
			if in.ConnectionType == "" {
				msg = "Choose your identity provider."
			}
			return h.renderSSOList(w, r, s, msg, http.StatusUnprocessableEntity)
		}
		return err
	}
	http.Redirect(w, r, "/portal/sso/"+c.ID+"?done=conn-created", http.StatusSeeOther)
	return nil
}

func (h *Handler) ssoPolicy(w http.ResponseWriter, r *http.Request, s Session) error {
	if _, err := h.SSO.SetPolicy(r.Context(), s.OrganizationID, r.PostFormValue("policy")); err != nil {
		if msg, ok := message(err); ok {
			return h.renderSSOList(w, r, s, msg, http.StatusUnprocessableEntity)
		}
		return err
	}
	http.Redirect(w, r, "/portal/sso?done=policy-saved", http.StatusSeeOther)
	return nil
}

type ssoConnData struct {
	Conn     sso.Connection
	Preset   sso.Preset
	Steps    []string
	ACSURL   string
	EntityID string
	Metadata string
	Redirect string
	Complete bool
	Missing  string
	Last     *sso.SignIn
	Profile  *sso.Profile
}

func (h *Handler) ssoConnection(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderSSOConn(w, r, s, "", http.StatusOK, nil)
}

func (h *Handler) renderSSOConn(w http.ResponseWriter, r *http.Request, s Session, formErr string, status int, prof *sso.Profile) error {
	c, err := h.SSO.GetFor(r.Context(), s.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := ssoConnData{Conn: c, Preset: sso.Presets[c.Type], ACSURL: h.SSO.ACSURL(c.ID), EntityID: h.SSO.SPEntityID(c.ID),
		Metadata: h.SSO.SPEntityID(c.ID), Redirect: h.SSO.OIDCRedirectURI(c.ID), Profile: prof}
	d.Complete, d.Missing = sso.Complete(c.Connection, c.Certificates, time.Now())
	for _, st := range d.Preset.SetupSteps {
		d.Steps = append(d.Steps, strings.NewReplacer("{acs_url}", "the ACS URL", "{sp_entity_id}", "the SP entity ID",
			"{sp_metadata_url}", "the metadata URL", "{redirect_uri}", "the redirect URI", "Gatehouse", h.brand(nil).Name).Replace(st))
	}
	if si, ok, err := h.SSO.LastSignIn(r.Context(), s.OrganizationID, c.ID, time.Time{}); err != nil {
		return err
	} else if ok {
		d.Last = &si
	}
	return h.render(w, r, status, "sso_connection", &s, view{Title: c.Name, Nav: "sso", Error: formErr, Data: d})
}

func (h *Handler) ssoUpdate(w http.ResponseWriter, r *http.Request, s Session) error {
	connID := r.PathValue("id")
	c, err := h.SSO.GetFor(r.Context(), s.OrganizationID, connID)
	if err != nil {
		return err
	}
	in := sso.ConnectionInput{}
	opt := func(k string) *string {
		v := strings.TrimSpace(r.PostFormValue(k))
		if v == "" {
			return nil
		}
		return &v
	}
	if c.Protocol == store.ProtocolSAML {
		in.SAML = &sso.SAMLInput{}
		switch r.PostFormValue("source") {
		case "url":
			in.SAML.IdPMetadataURL = opt("metadata_url")
			if in.SAML.IdPMetadataURL == nil {
				return h.renderSSOConn(w, r, s, "Enter your identity provider's metadata URL.", http.StatusUnprocessableEntity, nil)
			}
		case "fields":
			in.SAML.IdPEntityID, in.SAML.IdPSSOURL = opt("idp_entity_id"), opt("idp_sso_url")
			if pem := strings.TrimSpace(r.PostFormValue("certificate")); pem != "" {
				in.SAML.IdPCertificates = []string{pem}
			}
		default:
			xml := strings.TrimSpace(uploaded(r, "metadata_file", "metadata_xml"))
			if xml == "" {
				return h.renderSSOConn(w, r, s, "Choose your identity provider's metadata file or paste its XML.", http.StatusUnprocessableEntity, nil)
			}
			in.SAML.IdPMetadataXML = &xml
		}
	} else {
		in.OIDC = &sso.OIDCInput{Issuer: opt("issuer"), ClientID: opt("client_id"), ClientSecret: opt("client_secret")}
	}
	if _, err := h.SSO.UpdateFor(r.Context(), s.OrganizationID, connID, in); err != nil {
		if msg, ok := message(err); ok && !errs.IsKind(err, errs.KindNotFound) {
			return h.renderSSOConn(w, r, s, msg, http.StatusUnprocessableEntity, nil)
		}
		return err
	}
	http.Redirect(w, r, "/portal/sso/"+connID+"?done=conn-saved", http.StatusSeeOther)
	return nil
}

func (h *Handler) ssoState(w http.ResponseWriter, r *http.Request, s Session) error {
	connID, state := r.PathValue("id"), r.PostFormValue("state")
	if _, err := h.SSO.UpdateFor(r.Context(), s.OrganizationID, connID, sso.ConnectionInput{State: &state}); err != nil {
		if msg, ok := message(err); ok && !errs.IsKind(err, errs.KindNotFound) {
			return h.renderSSOConn(w, r, s, msg, http.StatusUnprocessableEntity, nil)
		}
		return err
	}
	done := "conn-activated"
	if state == store.ConnectionInactive {
		done = "conn-deactivated"
	}
	http.Redirect(w, r, "/portal/sso/"+connID+"?done="+done, http.StatusSeeOther)
	return nil
}

// testState binds a test sign-in to the session and connection that
// started it: an HMAC of the session secret, so no other browser can
// complete it into this portal.
func testState(s Session, connID string) string {
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("sso-test:" + connID))
	return connID + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:22]
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) ssoTest(w http.ResponseWriter, r *http.Request, s Session) error {
	connID := r.PathValue("id")
	o, err := h.SSO.StartTestSignIn(r.Context(), s.OrganizationID, connID, testState(s, connID), clientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	// The IdP's answer must come back to this browser (login CSRF check).
	if o.BindSecret != "" {
		http.SetCookie(w, sso.LoginCookie(h.Svc.BaseURL, o.BindRequestID, o.BindSecret, int(sso.RequestLifetime.Seconds())))
	}
	switch {
	case o.Page != nil:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+o.PageNonce+"'; form-action *; frame-ancestors 'none'")
		_, err := w.Write(o.Page)
		return err
	case o.Location != "":
		http.Redirect(w, r, o.Location, http.StatusFound)
		return nil
	}
	// Refused before reaching the IdP (for example an inactive connection).
	return h.renderTestResult(w, r, s, connID, nil, o.Err)
}

type testResultData struct {
	ConnID  string
	Profile *sso.Profile
	Reason  failure.Reason
	Code    string
	Detail  string
}

func (h *Handler) ssoTestCallback(w http.ResponseWriter, r *http.Request, s Session) error {
	q := r.URL.Query()
	connID, _, _ := strings.Cut(q.Get("state"), ".")
	if !hmac.Equal([]byte(q.Get("state")), []byte(testState(s, connID))) {
		return errs.NotFound("Test sign-in", "state")
	}
	if code := q.Get("code"); code != "" {
		p, err := h.SSO.TestSignInProfile(r.Context(), s.OrganizationID, code)
		if err != nil {
			return err
		}
		return h.renderTestResult(w, r, s, connID, &p, nil)
	}
	// A refusal: its typed reason is on the connection's latest
	// authentication.sso_failed event.
	f := failure.Newf(failure.InternalError, "%s", q.Get("error_description"))
	if si, ok, err := h.SSO.LastSignIn(r.Context(), s.OrganizationID, connID, time.Now().Add(-15*time.Minute)); err != nil {
		return err
	} else if ok && si.Status == "failed" {
		f = failure.Newf(si.Code, "")
	}
	return h.renderTestResult(w, r, s, connID, nil, f)
}

func (h *Handler) renderTestResult(w http.ResponseWriter, r *http.Request, s Session, connID string, p *sso.Profile, f *failure.Error) error {
	d := testResultData{ConnID: connID, Profile: p}
	if f != nil {
		d.Reason, d.Code, d.Detail = failure.Catalogue[f.Code], string(f.Code), f.Detail
		if d.Reason.Title == "" {
			d.Reason.Title = "The test sign-in failed"
		}
	}
	title := "Test sign-in succeeded"
	if p == nil {
		title = "Test sign-in failed"
	}
	return h.render(w, r, http.StatusOK, "sso_test", &s, view{Title: title, Nav: "sso", Data: d})
}
