package directory

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DirectoryFor returns a directory of the organization; another
// organization's directory is not found.
func (s *Service) DirectoryFor(ctx context.Context, orgID, dirID string) (store.Directory, error) {
	d, err := s.Get(ctx, dirID)
	if err == nil && d.OrganizationID != orgID {
		return store.Directory{}, errs.NotFound("Directory", dirID)
	}
	return d, err
}

// DirectoriesFor returns an organization's directories, oldest first.
func (s *Service) DirectoriesFor(ctx context.Context, orgID string) ([]store.Directory, error) {
	ds, _, err := s.List(ctx, store.DirectoryFilter{OrganizationID: orgID}, store.Page{Limit: 100, Order: store.Asc})
	return ds, err
}

// Activity is what the Admin Portal shows of a directory: counts, the
// latest users and groups, and the recent SCIM requests.
type Activity struct {
	Counts   store.DirectoryCounts
	Users    []store.DirectoryUser
	Groups   []store.DirectoryGroup
	Requests []store.SCIMRequest
	Tokens   []store.DirectoryToken
}

// ActivityFor returns the activity of a directory of the organization.
func (s *Service) ActivityFor(ctx context.Context, orgID, dirID string, limit int) (Activity, error) {
	var a Activity
	if _, err := s.DirectoryFor(ctx, orgID, dirID); err != nil {
		return a, err
	}
	var err error
	if a.Counts, err = s.Counts(ctx, dirID); err != nil {
		return a, err
	}
	if a.Users, _, err = s.Store.ListDirectoryUsers(ctx, store.DirectoryUserFilter{DirectoryID: dirID}, store.Page{Limit: limit, Order: store.Desc}); err != nil {
		return a, fmt.Errorf("directory users: %w", err)
	}
	if a.Groups, _, err = s.Store.ListDirectoryGroups(ctx, store.DirectoryGroupFilter{DirectoryID: dirID}, store.Page{Limit: limit, Order: store.Desc}); err != nil {
		return a, fmt.Errorf("directory groups: %w", err)
	}
	if a.Requests, _, err = s.Store.ListSCIMRequests(ctx, dirID, store.Page{Limit: limit, Order: store.Desc}); err != nil {
		return a, fmt.Errorf("scim requests: %w", err)
	}
	if a.Tokens, err = s.Tokens(ctx, dirID); err != nil {
		return a, err
	}
	return a, nil
}

// RotateTokenFor makes a new SCIM token for a directory of the
// organization and revokes the older ones.
func (s *Service) RotateTokenFor(ctx context.Context, orgID, dirID string) (CreatedToken, error) {
	if _, err := s.DirectoryFor(ctx, orgID, dirID); err != nil {
		return CreatedToken{}, err
	}
	old, err := s.Tokens(ctx, dirID)
	if err != nil {
		return CreatedToken{}, err
	}
	t, err := s.CreateToken(ctx, dirID, "Admin Portal")
	if err != nil {
		return t, err
	}
	for _, o := range old {
		if err := s.RevokeToken(ctx, dirID, o.ID); err != nil && !errs.IsKind(err, errs.KindNotFound) {
			return t, err
		}
	}
	return t, nil
}
