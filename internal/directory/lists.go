package directory

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ListUsers returns one page of directory users matching f, each with its
// groups (keyed by user ID), for GET /directory_users.
func (s *Service) ListUsers(ctx context.Context, f store.DirectoryUserFilter, p store.Page) ([]store.DirectoryUser, map[string][]store.DirectoryGroup, store.PageInfo, error) {
	us, info, err := s.Store.ListDirectoryUsers(ctx, f, p)
	if err != nil {
		return nil, nil, info, fmt.Errorf("directory users: %w", err)
	}
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	gs, err := s.Store.UserGroups(ctx, ids)
	if err != nil {
		return nil, nil, info, fmt.Errorf("groups of directory users: %w", err)
	}
	return us, gs, info, nil
}

// ListGroups returns one page of directory groups matching f, for GET
// /directory_groups.
func (s *Service) ListGroups(ctx context.Context, f store.DirectoryGroupFilter, p store.Page) ([]store.DirectoryGroup, store.PageInfo, error) {
	gs, info, err := s.Store.ListDirectoryGroups(ctx, f, p)
	if err != nil {
		return nil, info, fmt.Errorf("directory groups: %w", err)
	}
	return gs, info, nil
}

// SCIMRequests returns one page of a directory's SCIM request log; an
// unknown directory is not found.
func (s *Service) SCIMRequests(ctx context.Context, dirID string, p store.Page) ([]store.SCIMRequest, store.PageInfo, error) {
	if _, err := s.Get(ctx, dirID); err != nil {
		return nil, store.PageInfo{}, err
	}
	rs, info, err := s.Store.ListSCIMRequests(ctx, dirID, p)
	if err != nil {
		return nil, info, fmt.Errorf("scim requests: %w", err)
	}
	return rs, info, nil
}
