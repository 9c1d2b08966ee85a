package store

import (
	"context"
	"time"
)

// Organization is a host app's customer.
type Organization struct {
	ID                               string
	Name                             string
	ExternalID                       string // empty = none
	StripeCustomerID                 string
	Metadata                         map[string]string
	AllowProfilesOutsideOrganization bool
	SSOPolicy                        string // "optional" | "required"
	CreatedAt                        time.Time
	UpdatedAt                        time.Time
}

// OrganizationFilter narrows ListOrganizations.
type OrganizationFilter struct {
	Domains []string // any of these domains
	Search  string   // case-insensitive substring of the name
}

// Organizations stores organizations.
type Organizations interface {
	// CreateOrganization inserts o; ErrConflict if its ID or external ID
	// is taken.
	CreateOrganization(ctx context.Context, o Organization) error
	// UpdateOrganization writes o but its CreatedAt; ErrNotFound if it does
	// not exist, ErrConflict if its external ID is taken.
	UpdateOrganization(ctx context.Context, o Organization) error
	// DeleteOrganization deletes an organization with its domains,
	// connections and directories; ErrNotFound if it does not exist.
	DeleteOrganization(ctx context.Context, id string) error
	GetOrganization(ctx context.Context, id string) (Organization, error)
	// GetOrganizationByExternalID finds the organization whose external ID
	// is exactly externalID; ErrNotFound if none.
	GetOrganizationByExternalID(ctx context.Context, externalID string) (Organization, error)
	// ListOrganizations returns one page, ordered by ID.
	ListOrganizations(ctx context.Context, f OrganizationFilter, p Page) ([]Organization, PageInfo, error)
}

// Domain states, as WorkOS names them.
const (
	DomainPending  = "pending"
	DomainVerified = "verified"
	DomainFailed   = "failed"
)

// Domain is an organization's domain and its verification.
type Domain struct {
	ID                   string
	OrganizationID       string
	Domain               string
	State                string
	VerificationStrategy string // "dns" | "manual"
	VerificationToken    string
	VerificationPrefix   string
	LastCheckedAt        time.Time // zero = never
	LastCheckError       string    // typed code of the last failed check, e.g. "record_not_found"
	LastCheckMessage     string
	NextCheckAt          time.Time // zero = no scheduled check
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Domains stores organization domains.
type Domains interface {
	// CreateDomain inserts d; ErrConflict if the organization already has
	// the domain, or if d is verified and another organization verified it.
	CreateDomain(ctx context.Context, d Domain) error
	// UpdateDomain writes d; ErrConflict if it becomes verified while
	// another organization holds the domain verified.
	// UpdateDomain writes d's state, strategy and check fields; ErrNotFound
	// if it does not exist.
	UpdateDomain(ctx context.Context, d Domain) error
	DeleteDomain(ctx context.Context, id string) error
	GetDomain(ctx context.Context, id string) (Domain, error)
	// ListDomains returns an organization's domains, oldest first.
	ListDomains(ctx context.Context, organizationID string) ([]Domain, error)
	// ListDomainsFor returns the domains of many organizations at once.
	ListDomainsFor(ctx context.Context, organizationIDs []string) (map[string][]Domain, error)
	// VerifiedDomain returns the verified domain record for a domain name;
	// ErrNotFound if no organization verified it.
	VerifiedDomain(ctx context.Context, domain string) (Domain, error)
	// ClaimDueDomains returns up to limit pending domains whose NextCheckAt
	// has come (most overdue first) and moves their NextCheckAt to next, so
	// that each check is claimed by exactly one node.
	ClaimDueDomains(ctx context.Context, now, next time.Time, limit int) ([]Domain, error)
}
