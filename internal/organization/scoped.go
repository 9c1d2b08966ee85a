package organization

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DomainFor returns a domain of the organization; another organization's
// domain is not found.
func (s *Service) DomainFor(ctx context.Context, orgID, domainID string) (store.Domain, error) {
	d, err := s.GetDomain(ctx, domainID)
	if err == nil && d.OrganizationID != orgID {
		return store.Domain{}, errs.NotFound("Organization Domain", domainID)
	}
	return d, err
}

// VerifyFor checks a domain of the organization now.
func (s *Service) VerifyFor(ctx context.Context, orgID, domainID string) (store.Domain, error) {
	if _, err := s.DomainFor(ctx, orgID, domainID); err != nil {
		return store.Domain{}, err
	}
	return s.Verify(ctx, domainID)
}

// DeleteDomainFor removes a domain of the organization.
func (s *Service) DeleteDomainFor(ctx context.Context, orgID, domainID string) error {
	if _, err := s.DomainFor(ctx, orgID, domainID); err != nil {
		return err
	}
	return s.DeleteDomain(ctx, domainID)
}
