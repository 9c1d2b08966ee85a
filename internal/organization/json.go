package organization

import (
	"bytes"
	"encoding/json"
	"github.com/gatehouse-dev/gatehouse/internal/wire"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// OrganizationJSON is WorkOS's Organization object.
type OrganizationJSON struct {
	Object                           string            `json:"object"`
	ID                               string            `json:"id"`
	Name                             string            `json:"name"`
	AllowProfilesOutsideOrganization bool              `json:"allow_profiles_outside_organization"`
	Domains                          []DomainJSON      `json:"domains"`
	Metadata                         map[string]string `json:"metadata"`
	ExternalID                       *string           `json:"external_id"`
	StripeCustomerID                 string            `json:"stripe_customer_id,omitempty"`
	CreatedAt                        string            `json:"created_at"`
	UpdatedAt                        string            `json:"updated_at"`
}

// DomainJSON is WorkOS's OrganizationDomain object, plus the result of the
// last DNS check (a Gatehouse extension).
type DomainJSON struct {
	Object               string      `json:"object"`
	ID                   string      `json:"id"`
	OrganizationID       string      `json:"organization_id"`
	Domain               string      `json:"domain"`
	State                string      `json:"state"`
	VerificationStrategy string      `json:"verification_strategy"`
	VerificationToken    string      `json:"verification_token,omitempty"`
	VerificationPrefix   string      `json:"verification_prefix,omitempty"`
	LastCheckedAt        *string     `json:"last_checked_at,omitempty"`
	VerificationError    *CheckError `json:"verification_error,omitempty"`
	CreatedAt            string      `json:"created_at"`
	UpdatedAt            string      `json:"updated_at"`
}

// CheckError says why the last DNS check did not verify a domain.
type CheckError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ToJSON renders an organization with its domains.
func ToJSON(o store.Organization, ds []store.Domain) OrganizationJSON {
	out := OrganizationJSON{
		Object: "organization", ID: o.ID, Name: o.Name, AllowProfilesOutsideOrganization: o.AllowProfilesOutsideOrganization,
		Domains: make([]DomainJSON, 0, len(ds)), Metadata: o.Metadata, ExternalID: wire.StrPtr(o.ExternalID),
		StripeCustomerID: o.StripeCustomerID, CreatedAt: wire.Time(o.CreatedAt), UpdatedAt: wire.Time(o.UpdatedAt),
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	for _, d := range ds {
		out.Domains = append(out.Domains, DomainToJSON(d))
	}
	return out
}

// DomainToJSON renders a domain.
func DomainToJSON(d store.Domain) DomainJSON {
	out := DomainJSON{
		Object: "organization_domain", ID: d.ID, OrganizationID: d.OrganizationID, Domain: d.Domain, State: d.State,
		VerificationStrategy: d.VerificationStrategy, VerificationToken: d.VerificationToken, VerificationPrefix: d.VerificationPrefix,
		LastCheckedAt: wire.TimePtr(d.LastCheckedAt), CreatedAt: wire.Time(d.CreatedAt), UpdatedAt: wire.Time(d.UpdatedAt),
	}
	if d.LastCheckError != "" && d.State != store.DomainVerified {
		out.VerificationError = &CheckError{Code: d.LastCheckError, Message: d.LastCheckMessage}
	}
	return out
}

// Optional is a JSON field that tells "absent" from "null" from a value, so
// updates can leave, clear or set it.
type Optional[T any] struct {
	Set   bool // present in the body (possibly null)
	Null  bool
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// DomainData is one entry of an organization's domain_data.
type DomainData struct {
	Domain string `json:"domain"`
	State  string `json:"state"`
}

// Input is the body of POST and PUT /organizations. Old SDKs send empty
// strings and nulls for fields they mean to leave alone; see Service.
type Input struct {
	Name                             Optional[string]             `json:"name"`
	DomainData                       Optional[[]DomainData]       `json:"domain_data"`
	Domains                          Optional[[]string]           `json:"domains"`
	AllowProfilesOutsideOrganization Optional[bool]               `json:"allow_profiles_outside_organization"`
	ExternalID                       Optional[string]             `json:"external_id"`
	StripeCustomerID                 Optional[string]             `json:"stripe_customer_id"`
	Metadata                         Optional[map[string]*string] `json:"metadata"`
}
