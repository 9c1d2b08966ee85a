package portal

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (h *Handler) certificateRoutes(r api.Router) {
	r.Public("GET /portal/certificates", h.page(h.certificates))
	r.Public("POST /portal/certificates/{conn}", h.page(h.addCertificate))
	r.Public("POST /portal/certificates/{conn}/{fingerprint}/delete", h.page(h.deleteCertificate))
}

// certView is a certificate with its expiry band: expired, 7, 14, 30 (days
// or fewer left) or ok, and when it last verified a sign-in.
type certView struct {
	store.Certificate
	DaysLeft int
	Band     string
	// Verified says when the certificate last verified a sign-in; Latest
	// marks the one that verified the connection's latest sign-in.
	Verified string
	Latest   bool
}

// verifiedText says in words when a certificate last verified a sign-in.
// Gatehouse records it to within a minute.
func verifiedText(at, now time.Time) string {
	if at.IsZero() {
		return "Not yet used by a sign-in"
	}
	d := now.Sub(at)
	switch {
	case d < 2*time.Minute:
		return "Verified a sign-in just now"
	case d < time.Hour:
		return fmt.Sprintf("Verified a sign-in %d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "Verified a sign-in an hour ago"
	case d < 48*time.Hour:
		return fmt.Sprintf("Verified a sign-in %d hours ago", int(d/time.Hour))
	}
	return "Last verified a sign-in on " + at.UTC().Format("2 Jan 2006")
}

type connCerts struct {
	sso.Connection
	Certs []certView
}

func certBand(notAfter, now time.Time) (int, string) {
	days := int(math.Floor(notAfter.Sub(now).Hours() / 24))
	switch {
	case !now.Before(notAfter):
		return days, "expired"
	case days < 7:
		return days, "7"
	case days < 14:
		return days, "14"
	case days < 30:
		return days, "30"
	}
	return days, "ok"
}

func (h *Handler) certificates(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderCertificates(w, r, s, "", http.StatusOK)
}

func (h *Handler) renderCertificates(w http.ResponseWriter, r *http.Request, s Session, formErr string, status int) error {
	cs, err := h.SSO.ConnectionsFor(r.Context(), s.OrganizationID)
	if err != nil {
		return err
	}
	now := time.Now()
	var out []connCerts
	for _, c := range cs {
		if c.Protocol != store.ProtocolSAML {
			continue
		}
		cc := connCerts{Connection: c}
		latest := -1
		for i, x := range c.Certificates {
			d, b := certBand(x.NotAfter, now)
			cc.Certs = append(cc.Certs, certView{Certificate: x, DaysLeft: d, Band: b, Verified: verifiedText(x.LastVerifiedAt, now)})
			if !x.LastVerifiedAt.IsZero() && (latest < 0 || x.LastVerifiedAt.After(c.Certificates[latest].LastVerifiedAt)) {
				latest = i
			}
		}
		if latest >= 0 && len(cc.Certs) > 1 {
			cc.Certs[latest].Latest = true
		}
		out = append(out, cc)
	}
	return h.render(w, r, status, "certificates", &s, view{Title: "SAML certificates", Nav: "certificates", Error: formErr, Data: out})
}

// uploaded is the text of a form's file field, else its text field.
func uploaded(r *http.Request, fileField, textField string) string {
	if f, _, err := r.FormFile(fileField); err == nil {
		defer f.Close()
		b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
		if len(strings.TrimSpace(string(b))) > 0 {
			return string(b)
		}
	}
	return r.PostFormValue(textField)
}

func (h *Handler) addCertificate(w http.ResponseWriter, r *http.Request, s Session) error {
	connID := r.PathValue("conn")
	text := strings.TrimSpace(uploaded(r, "file", "certificate"))
	var err error
	switch {
	case text == "":
		err = errs.InvalidField("certificate", "required", "Paste the new certificate (PEM) or the new metadata XML, or choose a file.")
	case strings.Contains(text, "EntityDescriptor"):
		_, err = h.SSO.UpdateFor(r.Context(), s.OrganizationID, connID, sso.ConnectionInput{SAML: &sso.SAMLInput{IdPMetadataXML: &text}})
	default:
		_, err = h.SSO.AddCertificateFor(r.Context(), s.OrganizationID, connID, text)
	}
	if err != nil {
		if msg, ok := message(err); ok && !errs.IsKind(err, errs.KindNotFound) {
			return h.renderCertificates(w, r, s, msg, http.StatusUnprocessableEntity)
		}
		return err
	}
	http.Redirect(w, r, "/portal/certificates?done=cert-added#"+connID, http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteCertificate(w http.ResponseWriter, r *http.Request, s Session) error {
	connID := r.PathValue("conn")
	if err := h.SSO.DeleteCertificateFor(r.Context(), s.OrganizationID, connID, r.PathValue("fingerprint")); err != nil {
		if msg, ok := message(err); ok && !errs.IsKind(err, errs.KindNotFound) {
			return h.renderCertificates(w, r, s, msg, http.StatusBadRequest)
		}
		return err
	}
	http.Redirect(w, r, "/portal/certificates?done=cert-removed#"+connID, http.StatusSeeOther)
	return nil
}
