// Package organization manages organizations (a host app's customers), their
// domains, and proving ownership of a domain with a DNS TXT record.
package organization

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Check result codes, recorded on the domain and shown to the admin.
const (
	CheckRecordNotFound = "record_not_found" // the name has no TXT verification record
	CheckTokenMismatch  = "token_mismatch"   // a verification_token= record with another token
	CheckNXDomain       = "nxdomain"
	CheckTimeout        = "dns_timeout"
	CheckServFail       = "dns_servfail"
	CheckDNSError       = "dns_error"
)

// Event names for organizations and domains.
const (
	EventOrganizationCreated = "organization.created"
	EventOrganizationUpdated = "organization.updated"
	EventOrganizationDeleted = "organization.deleted"
	EventDomainCreated       = "organization_domain.created"
	EventDomainUpdated       = "organization_domain.updated"
	EventDomainDeleted       = "organization_domain.deleted"
	EventDomainVerified      = "organization_domain.verified"
	EventDomainFailed        = "organization_domain.verification_failed"
)

// VerificationPeriod is how long a domain may stay pending before it fails.
const VerificationPeriod = 30 * 24 * time.Hour

// Metadata limits, as WorkOS sets them.
const (
	maxMetadataKeys     = 50
	maxMetadataKeyLen   = 40
	maxMetadataValueLen = 600
	maxNameLen          = 255
)

// Service holds the business rules for organizations and domains.
type Service struct {
	Store    store.Store
	Resolver Resolver
	Log      *slog.Logger
	Now      func() time.Time
	// OnDelete runs in the transaction that deletes an organization, before
	// the row goes, so the features that own its connections and
	// directories remove them with their own events (the database would
	// cascade the rows silently).
	OnDelete []func(ctx context.Context, q store.Queries, orgID string) error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Organization is an organization with its domains.
type Organization struct {
	store.Organization
	Domains []store.Domain
}

// JSON renders the organization for the API and event payloads.
func (o Organization) JSON() OrganizationJSON { return ToJSON(o.Organization, o.Domains) }

// Get returns an organization with its domains.
func (s *Service) Get(ctx context.Context, orgID string) (Organization, error) {
	return s.get(ctx, s.Store, orgID)
}

func (s *Service) get(ctx context.Context, q store.Queries, orgID string) (Organization, error) {
	o, err := q.GetOrganization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return Organization{}, errs.NotFound("Organization", orgID)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("get organization: %w", err)
	}
	ds, err := q.ListDomains(ctx, orgID)
	if err != nil {
		return Organization{}, fmt.Errorf("get organization domains: %w", err)
	}
	return Organization{o, ds}, nil
}

// GetByExternalID returns the organization with the host app's ID.
func (s *Service) GetByExternalID(ctx context.Context, ext string) (Organization, error) {
	o, err := s.Store.GetOrganizationByExternalID(ctx, ext)
	if errors.Is(err, store.ErrNotFound) {
		return Organization{}, errs.NotFound("Organization with external_id", ext)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("get organization: %w", err)
	}
	return s.Get(ctx, o.ID)
}

// List returns one page of organizations with their domains.
func (s *Service) List(ctx context.Context, f store.OrganizationFilter, p store.Page) ([]Organization, store.PageInfo, error) {
	for i, d := range f.Domains {
		if n, msg := NormalizeDomain(d); msg == "" {
			f.Domains[i] = n
		}
	}
	os, info, err := s.Store.ListOrganizations(ctx, f, p)
	if err != nil {
		return nil, info, fmt.Errorf("list organizations: %w", err)
	}
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	ds, err := s.Store.ListDomainsFor(ctx, ids)
	if err != nil {
		return nil, info, fmt.Errorf("list organization domains: %w", err)
	}
	out := make([]Organization, len(os))
	for i, o := range os {
		out[i] = Organization{o, ds[o.ID]}
	}
	return out, info, nil
}

// Create makes an organization from a POST /organizations body.
func (s *Service) Create(ctx context.Context, in Input) (Organization, error) {
	now := s.now()
	o := store.Organization{ID: id.New("org"), SSOPolicy: "optional", Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if !in.Name.Set || in.Name.Null || strings.TrimSpace(in.Name.Value) == "" {
		return Organization{}, errs.InvalidField("name", "required", "name is required.")
	}
	wanted, err := s.apply(&o, in)
	if err != nil {
		return Organization{}, err
	}
	var out Organization
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateOrganization(ctx, o); err != nil {
			return s.orgWriteErr(err, o)
		}
		if wanted != nil {
			if _, err := s.setDomains(ctx, q, o.ID, wanted, now, false); err != nil {
				return err
			}
		}
		var err error
		if out, err = s.get(ctx, q, o.ID); err != nil {
			return err
		}
		return events.Append(ctx, q, EventOrganizationCreated, o.ID, out.JSON())
	})
	return out, err
}

// Update changes an organization from a PUT /organizations/{id} body; absent
// fields, empty strings and a null metadata leave data as it is.
func (s *Service) Update(ctx context.Context, orgID string, in Input) (Organization, error) {
	var out Organization
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		cur, err := s.get(ctx, q, orgID)
		if err != nil {
			return err
		}
		o := cur.Organization
		o.Metadata = maps.Clone(o.Metadata)
		if in.Name.Set && !in.Name.Null && strings.TrimSpace(in.Name.Value) == "" {
			return errs.InvalidField("name", "required", "name cannot be empty.")
		}
		wanted, err := s.apply(&o, in)
		if err != nil {
			return err
		}
		now := s.now()
		o.UpdatedAt = now
		if err := q.UpdateOrganization(ctx, o); err != nil {
			return s.orgWriteErr(err, o)
		}
		if wanted != nil {
			if _, err := s.setDomains(ctx, q, o.ID, wanted, now, true); err != nil {
				return err
			}
		}
		if out, err = s.get(ctx, q, o.ID); err != nil {
			return err
		}
		return events.Append(ctx, q, EventOrganizationUpdated, o.ID, out.JSON())
	})
	return out, err
}

// apply copies the set fields of in onto o and returns the wanted domain set
// (nil = leave the domains alone).
func (s *Service) apply(o *store.Organization, in Input) ([]DomainData, error) {
	if in.Name.Set && !in.Name.Null {
		name := strings.TrimSpace(in.Name.Value)
		if len(name) > maxNameLen {
			return nil, errs.InvalidField("name", "too_long", fmt.Sprintf("name must be at most %d characters.", maxNameLen))
		}
		o.Name = name
	}
	if in.ExternalID.Set {
		switch {
		case in.ExternalID.Null:
			o.ExternalID = ""
		case in.ExternalID.Value != "":
			if len(in.ExternalID.Value) > 128 {
				return nil, errs.InvalidField("external_id", "too_long", "external_id must be at most 128 characters.")
			}
			o.ExternalID = in.ExternalID.Value
		}
	}
	if in.StripeCustomerID.Set {
		if in.StripeCustomerID.Null {
			o.StripeCustomerID = ""
		} else if in.StripeCustomerID.Value != "" {
			o.StripeCustomerID = in.StripeCustomerID.Value
		}
	}
	if in.AllowProfilesOutsideOrganization.Set && !in.AllowProfilesOutsideOrganization.Null {
		o.AllowProfilesOutsideOrganization = in.AllowProfilesOutsideOrganization.Value
	}
	if in.Metadata.Set && !in.Metadata.Null {
		for k, v := range in.Metadata.Value {
			if v == nil {
				delete(o.Metadata, k)
				continue
			}
			if len(k) == 0 || len(k) > maxMetadataKeyLen {
				return nil, errs.InvalidField("metadata", "invalid_metadata_key", fmt.Sprintf("Metadata keys must be 1 to %d characters; %q is not.", maxMetadataKeyLen, k))
			}
			if len(*v) > maxMetadataValueLen {
				return nil, errs.InvalidField("metadata", "invalid_metadata_value", fmt.Sprintf("Metadata values must be at most %d characters; the value of %q is longer.", maxMetadataValueLen, k))
			}
			o.Metadata[k] = *v
		}
		if len(o.Metadata) > maxMetadataKeys {
			return nil, errs.InvalidField("metadata", "too_many_metadata_keys", fmt.Sprintf("An organization can have at most %d metadata keys.", maxMetadataKeys))
		}
	}
	var wanted []DomainData
	if in.DomainData.Set && !in.DomainData.Null {
		wanted = append([]DomainData{}, in.DomainData.Value...)
		for i, d := range wanted {
			switch d.State {
			case "":
				wanted[i].State = store.DomainPending
			case store.DomainPending, store.DomainVerified:
			default:
				return nil, errs.InvalidField(fmt.Sprintf("domain_data[%d].state", i), "invalid", "state must be pending or verified.")
			}
		}
	}
	if in.Domains.Set && !in.Domains.Null && len(in.Domains.Value) > 0 && wanted == nil {
		// The deprecated domains field predates verification: the host app
		// vouched for these domains, so they are taken as verified.
		for _, d := range in.Domains.Value {
			wanted = append(wanted, DomainData{Domain: d, State: store.DomainVerified})
		}
	}
	for i := range wanted {
		n, msg := NormalizeDomain(wanted[i].Domain)
		if msg != "" {
			return nil, errs.InvalidField(fmt.Sprintf("domain_data[%d].domain", i), "invalid_domain", msg)
		}
		if IsConsumerDomain(n) {
			return nil, errs.InvalidField(fmt.Sprintf("domain_data[%d].domain", i), "consumer_domain",
				fmt.Sprintf("%s is a public email provider's domain and cannot belong to an organization.", n))
		}
		wanted[i].Domain = n
	}
	return wanted, nil
}

func (s *Service) orgWriteErr(err error, o store.Organization) error {
	if errors.Is(err, store.ErrConflict) && o.ExternalID != "" {
		return errs.Conflict("external_id_already_used", fmt.Sprintf("An organization with external_id %q already exists.", o.ExternalID))
	}
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFound("Organization", o.ID)
	}
	return fmt.Errorf("write organization: %w", err)
}

// setDomains makes the organization's domains exactly wanted: existing ones
// keep their ID and verification, new ones are added, others removed.
func (s *Service) setDomains(ctx context.Context, q store.Queries, orgID string, wanted []DomainData, now time.Time, emit bool) ([]store.Domain, error) {
	cur, err := q.ListDomains(ctx, orgID)
	if err != nil {
		return nil, err
	}
	byName := map[string]store.Domain{}
	for _, d := range cur {
		byName[d.Domain] = d
	}
	keep := map[string]bool{}
	for _, w := range wanted {
		if keep[w.Domain] {
			continue
		}
		keep[w.Domain] = true
		d, exists := byName[w.Domain]
		if !exists {
			d = s.newDomain(orgID, w.Domain, now)
		}
		if w.State == store.DomainVerified && d.State != store.DomainVerified {
			d.State, d.VerificationStrategy, d.NextCheckAt, d.UpdatedAt = store.DomainVerified, "manual", time.Time{}, now
		}
		if exists && d == byName[w.Domain] {
			continue
		}
		if err := s.checkClaim(ctx, q, d); err != nil {
			return nil, err
		}
		write, name := q.UpdateDomain, EventDomainUpdated
		if !exists {
			write, name = q.CreateDomain, EventDomainCreated
		}
		if err := write(ctx, d); err != nil {
			return nil, s.domainWriteErr(err, d.Domain)
		}
		if emit {
			if err := events.Append(ctx, q, name, orgID, DomainToJSON(d)); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range cur {
		if keep[d.Domain] {
			continue
		}
		if err := q.DeleteDomain(ctx, d.ID); err != nil {
			return nil, fmt.Errorf("delete domain: %w", err)
		}
		if emit {
			if err := events.Append(ctx, q, EventDomainDeleted, orgID, DomainToJSON(d)); err != nil {
				return nil, err
			}
		}
	}
	return q.ListDomains(ctx, orgID)
}

// checkClaim refuses a domain that another organization has verified.
func (s *Service) checkClaim(ctx context.Context, q store.Queries, d store.Domain) error {
	other, err := q.VerifiedDomain(ctx, d.Domain)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check domain owner: %w", err)
	}
	if other.OrganizationID != d.OrganizationID {
		return errs.Conflict("domain_already_exists", fmt.Sprintf("%s is already verified by another organization.", d.Domain))
	}
	return nil
}

func (s *Service) domainWriteErr(err error, domain string) error {
	if errors.Is(err, store.ErrConflict) {
		return errs.Conflict("domain_already_exists", fmt.Sprintf("%s is already a domain of this organization, or verified by another.", domain))
	}
	return fmt.Errorf("write domain: %w", err)
}

func (s *Service) newDomain(orgID, domain string, now time.Time) store.Domain {
	return store.Domain{
		ID: id.New("org_domain"), OrganizationID: orgID, Domain: domain, State: store.DomainPending,
		VerificationStrategy: "dns", VerificationToken: rand.Text(),
		VerificationPrefix: "gatehouse-domain-verification-" + strings.ToLower(rand.Text()[:6]),
		NextCheckAt:        now.Add(time.Minute), CreatedAt: now, UpdatedAt: now,
	}
}

// Delete removes an organization and, through the database, its domains.
func (s *Service) Delete(ctx context.Context, orgID string) error {
	return s.Store.InTx(ctx, func(q store.Queries) error {
		cur, err := s.get(ctx, q, orgID)
		if err != nil {
			return err
		}
		for _, hook := range s.OnDelete {
			if err := hook(ctx, q, orgID); err != nil {
				return err
			}
		}
		if err := q.DeleteOrganization(ctx, orgID); err != nil {
			return fmt.Errorf("delete organization: %w", err)
		}
		return events.Append(ctx, q, EventOrganizationDeleted, orgID, cur.JSON())
	})
}

// SetSSOPolicy stores an organization's SSO policy; callers check the
// policy's preconditions (see internal/sso).
func (s *Service) SetSSOPolicy(ctx context.Context, q store.Queries, orgID, policy string) (Organization, error) {
	cur, err := s.get(ctx, q, orgID)
	if err != nil {
		return Organization{}, err
	}
	cur.SSOPolicy, cur.UpdatedAt = policy, s.now()
	if err := q.UpdateOrganization(ctx, cur.Organization); err != nil {
		return Organization{}, fmt.Errorf("set sso policy: %w", err)
	}
	return cur, events.Append(ctx, q, EventOrganizationUpdated, orgID, cur.JSON())
}

// CreateDomain adds a pending domain to an organization.
func (s *Service) CreateDomain(ctx context.Context, orgID, raw string) (store.Domain, error) {
	if orgID == "" {
		return store.Domain{}, errs.InvalidField("organization_id", "required", "organization_id is required.")
	}
	domain, msg := NormalizeDomain(raw)
	if msg != "" {
		return store.Domain{}, errs.InvalidField("domain", "invalid_domain", msg)
	}
	if IsConsumerDomain(domain) {
		return store.Domain{}, errs.InvalidField("domain", "consumer_domain",
			fmt.Sprintf("%s is a public email provider's domain and cannot belong to an organization.", domain))
	}
	var d store.Domain
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if _, err := s.get(ctx, q, orgID); err != nil {
			return err
		}
		d = s.newDomain(orgID, domain, s.now())
		if err := s.checkClaim(ctx, q, d); err != nil {
			return err
		}
		if err := q.CreateDomain(ctx, d); err != nil {
			return s.domainWriteErr(err, domain)
		}
		return events.Append(ctx, q, EventDomainCreated, orgID, DomainToJSON(d))
	})
	return d, err
}

// GetDomain returns one domain.
func (s *Service) GetDomain(ctx context.Context, domainID string) (store.Domain, error) {
	d, err := s.Store.GetDomain(ctx, domainID)
	if errors.Is(err, store.ErrNotFound) {
		return d, errs.NotFound("Organization Domain", domainID)
	}
	return d, err
}

// DeleteDomain removes one domain.
func (s *Service) DeleteDomain(ctx context.Context, domainID string) error {
	return s.Store.InTx(ctx, func(q store.Queries) error {
		d, err := q.GetDomain(ctx, domainID)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization Domain", domainID)
		}
		if err != nil {
			return err
		}
		if err := q.DeleteDomain(ctx, domainID); err != nil {
			return fmt.Errorf("delete domain: %w", err)
		}
		return events.Append(ctx, q, EventDomainDeleted, d.OrganizationID, DomainToJSON(d))
	})
}

// Verify checks the domain's TXT record now and returns the domain in its
// new state; a failed check is not an error (its reason is on the domain).
func (s *Service) Verify(ctx context.Context, domainID string) (store.Domain, error) {
	d, err := s.GetDomain(ctx, domainID)
	if err != nil {
		return d, err
	}
	if d.State == store.DomainVerified {
		return d, errs.BadRequest("domain_already_verified", fmt.Sprintf("%s is already verified.", d.Domain))
	}
	return s.check(ctx, d)
}

// check looks up the record for d and records the outcome.
func (s *Service) check(ctx context.Context, d store.Domain) (store.Domain, error) {
	code, msg := s.lookup(ctx, d)
	var out store.Domain
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		cur, err := q.GetDomain(ctx, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization Domain", d.ID)
		}
		if err != nil {
			return err
		}
		if cur.State == store.DomainVerified {
			out = cur
			return nil
		}
		now := s.now()
		cur.LastCheckedAt, cur.UpdatedAt = now, now
		cur.LastCheckError, cur.LastCheckMessage = code, msg
		if code == "" {
			other, err := q.VerifiedDomain(ctx, cur.Domain)
			if err == nil && other.OrganizationID != cur.OrganizationID {
				return s.fail(ctx, q, &cur, "domain_verified_by_other_organization",
					"Another organization has already verified this domain.", &out)
			}
			cur.State, cur.NextCheckAt = store.DomainVerified, time.Time{}
			if err := q.UpdateDomain(ctx, cur); err != nil {
				return s.domainWriteErr(err, cur.Domain)
			}
			out = cur
			return events.Append(ctx, q, EventDomainVerified, cur.OrganizationID, DomainToJSON(cur))
		}
		if now.Sub(cur.CreatedAt) >= VerificationPeriod {
			return s.fail(ctx, q, &cur, "domain_verification_period_expired",
				"The domain was not verified within 30 days; add it again to get a new token.", &out)
		}
		cur.NextCheckAt = now.Add(recheckDelay(now.Sub(cur.CreatedAt)))
		if err := q.UpdateDomain(ctx, cur); err != nil {
			return fmt.Errorf("record domain check: %w", err)
		}
		out = cur
		return nil
	})
	return out, err
}

func (s *Service) fail(ctx context.Context, q store.Queries, d *store.Domain, reason, msg string, out *store.Domain) error {
	d.State, d.NextCheckAt, d.LastCheckError, d.LastCheckMessage = store.DomainFailed, time.Time{}, reason, msg
	if err := q.UpdateDomain(ctx, *d); err != nil {
		return fmt.Errorf("fail domain: %w", err)
	}
	*out = *d
	return events.Append(ctx, q, EventDomainFailed, d.OrganizationID, map[string]any{
		"reason": reason, "organization_domain": DomainToJSON(*d),
	})
}

// recheckDelay spaces background checks out as a domain ages: an admin who
// just added the record sees it verified within minutes, and a forgotten
// domain costs a lookup every few hours.
func recheckDelay(age time.Duration) time.Duration {
	switch {
	case age < time.Hour:
		return 2 * time.Minute
	case age < 24*time.Hour:
		return 30 * time.Minute
	default:
		return 6 * time.Hour
	}
}

// lookup asks DNS and returns "" when the record is there, else a code and
// a plain-language message with the fix.
func (s *Service) lookup(ctx context.Context, d store.Domain) (string, string) {
	want := "verification_token=" + d.VerificationToken
	res := s.Resolver.LookupTXT(ctx, d.Domain)
	if res.Code != "" {
		return res.Code, res.Message
	}
	var others []string
	for _, r := range res.Records {
		r = strings.TrimSpace(r)
		if r == want {
			return "", ""
		}
		if strings.HasPrefix(r, "verification_token=") {
			others = append(others, r)
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		return CheckTokenMismatch, fmt.Sprintf("Found %s at %s, but this domain's record is %s. Replace the old record.",
			strings.Join(others, ", "), d.Domain, want)
	}
	return CheckRecordNotFound, fmt.Sprintf("No TXT record %s at %s yet. Add it at your DNS provider; changes can take a few minutes to appear.", want, d.Domain)
}

// RunDueChecks re-checks pending domains whose time has come and fails
// those past the verification period. It claims each domain so several
// nodes can run it at once.
func (s *Service) RunDueChecks(ctx context.Context) (int, error) {
	now := s.now()
	claimed, err := s.Store.ClaimDueDomains(ctx, now, now.Add(5*time.Minute), 50)
	if err != nil {
		return 0, fmt.Errorf("claim due domains: %w", err)
	}
	for _, d := range claimed {
		if _, err := s.check(ctx, d); err != nil {
			s.Log.ErrorContext(ctx, "domain re-check", "domain_id", d.ID, "err", err)
		}
	}
	return len(claimed), nil
}
