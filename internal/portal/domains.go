package portal

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (h *Handler) domainRoutes(r api.Router) {
	r.Public("GET /portal/domains", h.page(h.domains))
	r.Public("POST /portal/domains", h.page(h.addDomain))
	r.Public("POST /portal/domains/{id}/verify", h.page(h.verifyDomain))
	r.Public("POST /portal/domains/{id}/delete", h.page(h.deleteDomain))
}

// domainView is one domain with what the admin must do about it.
type domainView struct {
	store.Domain
	Record      string // the TXT value
	ReasonTitle string
}

type domainsData struct {
	Domains []domainView
	Suggest string
}

// checkTitles names each failed check in a few words; the domain's
// LastCheckMessage says what to do.
var checkTitles = map[string]string{
	organization.CheckRecordNotFound:        "Record not found",
	organization.CheckTokenMismatch:         "Wrong record value",
	organization.CheckNXDomain:              "The domain does not exist in DNS",
	organization.CheckTimeout:               "DNS did not answer in time",
	organization.CheckServFail:              "DNS error",
	organization.CheckDNSError:              "DNS error",
	"domain_verified_by_other_organization": "Verified by another organization",
	"domain_verification_period_expired":    "Not verified within 30 days",
}

func (h *Handler) domains(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderDomains(w, r, s, "", http.StatusOK)
}

func (h *Handler) renderDomains(w http.ResponseWriter, r *http.Request, s Session, formErr string, status int) error {
	o, err := h.Orgs.Get(r.Context(), s.OrganizationID)
	if err != nil {
		return err
	}
	data := domainsData{}
	if io := s.Opts.IntentOptions; io != nil && io.DomainVerification != nil {
		data.Suggest = io.DomainVerification.DomainName
	}
	for _, d := range o.Domains {
		if d.Domain == data.Suggest {
			data.Suggest = ""
		}
		data.Domains = append(data.Domains, domainView{Domain: d, Record: "verification_token=" + d.VerificationToken,
			ReasonTitle: checkTitles[d.LastCheckError]})
	}
	return h.render(w, r, status, "domains", &s, view{Title: "Domain verification", Nav: "domains", Org: o, Error: formErr, Data: data})
}

func (h *Handler) addDomain(w http.ResponseWriter, r *http.Request, s Session) error {
	if _, err := h.Orgs.CreateDomain(r.Context(), s.OrganizationID, r.PostFormValue("domain")); err != nil {
		if msg, ok := message(err); ok {
			return h.renderDomains(w, r, s, msg, http.StatusUnprocessableEntity)
		}
		return err
	}
	http.Redirect(w, r, "/portal/domains?done=domain-added", http.StatusSeeOther)
	return nil
}

func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request, s Session) error {
	d, err := h.Orgs.VerifyFor(r.Context(), s.OrganizationID, r.PathValue("id"))
	if err != nil {
		if msg, ok := message(err); ok {
			return h.renderDomains(w, r, s, msg, http.StatusBadRequest)
		}
		return err
	}
	to := "/portal/domains#" + d.ID
	if d.State == store.DomainVerified {
		to = "/portal/domains?done=domain-verified#" + d.ID
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request, s Session) error {
	if err := h.Orgs.DeleteDomainFor(r.Context(), s.OrganizationID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/portal/domains?done=domain-removed", http.StatusSeeOther)
	return nil
}
