package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// ErrUserNameTaken is returned when a directory already has the userName.
var ErrUserNameTaken = &errs.Error{Kind: errs.KindConflict, Code: "uniqueness", Message: "A user with this userName already exists in the directory."}

// userEvent is a DirectoryUser in an event payload, optionally with the
// attributes an update changed.
type userEvent struct {
	UserJSON
	PreviousAttributes map[string]any `json:"previous_attributes,omitempty"`
}

type groupEvent struct {
	GroupJSON
	PreviousAttributes map[string]any `json:"previous_attributes,omitempty"`
}

type membershipEvent struct {
	DirectoryID string    `json:"directory_id"`
	User        UserJSON  `json:"user"`
	Group       GroupJSON `json:"group"`
}

// CreateUser stores a new user of d and emits dsync.user.created.
func (s *Service) CreateUser(ctx context.Context, d store.Directory, u store.DirectoryUser) (store.DirectoryUser, error) {
	defer s.changed(d.ID)
	now := s.now()
	u.ID, u.DirectoryID, u.OrganizationID, u.CreatedAt, u.UpdatedAt = id.New("directory_user"), d.ID, d.OrganizationID, now, now
	err := s.inTx(ctx, func(q store.Queries) error {
		if err := q.CreateDirectoryUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return ErrUserNameTaken
			}
			return fmt.Errorf("create directory user: %w", err)
		}
		return events.Append(ctx, q, EventUserCreated, d.OrganizationID, UserToJSON(u))
	})
	return u, err
}

// UpdateUser changes a user with fn inside a transaction that holds the
// row, and emits dsync.user.updated with previous_attributes when anything
// changed. fn gets a copy it may modify.
func (s *Service) UpdateUser(ctx context.Context, dirID, userID string, fn func(cur store.DirectoryUser) (store.DirectoryUser, error)) (store.DirectoryUser, error) {
	defer s.changed(dirID)
	var out store.DirectoryUser
	err := s.inTx(ctx, func(q store.Queries) error {
		cur, err := q.GetDirectoryUser(ctx, dirID, userID, true)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Directory user", userID)
		}
		if err != nil {
			return fmt.Errorf("get directory user: %w", err)
		}
		cp := cur
		cp.Emails = slices.Clone(cur.Emails)
		nu, err := fn(cp)
		if err != nil {
			return err
		}
		nu.ID, nu.DirectoryID, nu.OrganizationID, nu.CreatedAt, nu.UpdatedAt = cur.ID, cur.DirectoryID, cur.OrganizationID, cur.CreatedAt, cur.UpdatedAt
		before, after := UserToJSON(cur), UserToJSON(nu)
		prev := previousAttributes(before, after)
		if len(prev) == 0 {
			out = cur
			return nil
		}
		nu.UpdatedAt = s.now()
		if err := q.UpdateDirectoryUser(ctx, nu); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return ErrUserNameTaken
			}
			return fmt.Errorf("update directory user: %w", err)
		}
		out = nu
		return events.Append(ctx, q, EventUserUpdated, nu.OrganizationID, userEvent{UserToJSON(nu), prev})
	})
	return out, err
}

// DeleteUser removes a user and its memberships, emitting
// dsync.group.user_removed for each group and then dsync.user.deleted.
func (s *Service) DeleteUser(ctx context.Context, dirID, userID string) error {
	defer s.changed(dirID)
	return s.inTx(ctx, func(q store.Queries) error {
		u, err := q.GetDirectoryUser(ctx, dirID, userID, true)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Directory user", userID)
		}
		if err != nil {
			return fmt.Errorf("get directory user: %w", err)
		}
		groups, err := q.UserGroups(ctx, []string{userID})
		if err != nil {
			return fmt.Errorf("user groups: %w", err)
		}
		if err := q.DeleteDirectoryUser(ctx, dirID, userID); err != nil {
			return fmt.Errorf("delete directory user: %w", err)
		}
		uj := UserToJSON(u)
		for _, g := range groups[userID] {
			if err := events.Append(ctx, q, EventGroupUserRemoved, u.OrganizationID, membershipEvent{dirID, uj, GroupToJSON(g)}); err != nil {
				return err
			}
		}
		return events.Append(ctx, q, EventUserDeleted, u.OrganizationID, uj)
	})
}

// GroupChange is what a group update does: new attributes (nil keeps
// them) and membership changes by user ID.
type GroupChange struct {
	Group *store.DirectoryGroup
	// Replace sets the members to exactly Set; otherwise Remove then Add apply.
	Replace bool
	Set     []string
	Add     []string
	Remove  []string
}

// CreateGroup stores a new group with its first members and emits
// dsync.group.created and a user_added per member.
func (s *Service) CreateGroup(ctx context.Context, d store.Directory, g store.DirectoryGroup, members []string) (store.DirectoryGroup, error) {
	defer s.changed(d.ID)
	now := s.now()
	g.ID, g.DirectoryID, g.OrganizationID, g.CreatedAt, g.UpdatedAt = id.New("directory_group"), d.ID, d.OrganizationID, now, now
	if g.IdPID == "" {
		g.IdPID = g.ID
	}
	err := s.inTx(ctx, func(q store.Queries) error {
		if err := q.CreateDirectoryGroup(ctx, g); err != nil {
			return fmt.Errorf("create directory group: %w", err)
		}
		added, err := s.addMembers(ctx, q, g, members)
		if err != nil {
			return err
		}
		if err := events.Append(ctx, q, EventGroupCreated, g.OrganizationID, GroupToJSON(g)); err != nil {
			return err
		}
		return s.membershipEvents(ctx, q, g, added, EventGroupUserAdded)
	})
	return g, err
}

// addMembers adds users (which must be in the group's directory) and
// returns those that were not members yet.
func (s *Service) addMembers(ctx context.Context, q store.Queries, g store.DirectoryGroup, ids []string) ([]store.DirectoryUser, error) {
	ids = uniq(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	users, err := q.GetDirectoryUsers(ctx, g.DirectoryID, ids)
	if err != nil {
		return nil, fmt.Errorf("get members: %w", err)
	}
	if len(users) != len(ids) {
		found := map[string]bool{}
		for _, u := range users {
			found[u.ID] = true
		}
		for _, x := range ids {
			if !found[x] {
				return nil, &errs.Error{Kind: errs.KindBadRequest, Code: "invalidValue",
					Message: fmt.Sprintf("Member %q is not a user of this directory.", x)}
			}
		}
	}
	ids, err = q.AddMembers(ctx, g.DirectoryID, g.ID, ids, s.now())
	if err != nil {
		return nil, fmt.Errorf("add members: %w", err)
	}
	isNew := make(map[string]bool, len(ids))
	for _, x := range ids {
		isNew[x] = true
	}
	var added []store.DirectoryUser
	for _, u := range users {
		if isNew[u.ID] {
			added = append(added, u)
		}
	}
	return added, nil
}

func (s *Service) membershipEvents(ctx context.Context, q store.Queries, g store.DirectoryGroup, users []store.DirectoryUser, name string) error {
	gj := GroupToJSON(g)
	for _, u := range users {
		if err := events.Append(ctx, q, name, g.OrganizationID, membershipEvent{g.DirectoryID, UserToJSON(u), gj}); err != nil {
			return err
		}
	}
	return nil
}

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, x := range ids {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// UpdateGroup applies fn's change to a group in one transaction that holds
// the group row; it emits dsync.group.updated (with previous_attributes)
// when the attributes changed, and user_added/user_removed per membership
// that changed. Adds are inserts that ignore existing rows, so concurrent
// updates never lose a member.
func (s *Service) UpdateGroup(ctx context.Context, dirID, groupID string, fn func(cur store.DirectoryGroup) (GroupChange, error)) (store.DirectoryGroup, error) {
	defer s.changed(dirID)
	var out store.DirectoryGroup
	err := s.inTx(ctx, func(q store.Queries) error {
		cur, err := q.GetDirectoryGroup(ctx, dirID, groupID, true)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Directory group", groupID)
		}
		if err != nil {
			return fmt.Errorf("get directory group: %w", err)
		}
		ch, err := fn(cur)
		if err != nil {
			return err
		}
		g := cur
		var prev map[string]any
		if ch.Group != nil {
			ng := *ch.Group
			ng.ID, ng.DirectoryID, ng.OrganizationID, ng.CreatedAt, ng.UpdatedAt = cur.ID, cur.DirectoryID, cur.OrganizationID, cur.CreatedAt, cur.UpdatedAt
			if ng.IdPID == "" {
				ng.IdPID = cur.ID
			}
			prev = previousAttributes(GroupToJSON(cur), GroupToJSON(ng))
			if len(prev) > 0 {
				ng.UpdatedAt = s.now()
				if err := q.UpdateDirectoryGroup(ctx, ng); err != nil {
					return fmt.Errorf("update directory group: %w", err)
				}
				g = ng
			}
		}
		remove, add := ch.Remove, ch.Add
		if ch.Replace {
			members, err := q.GroupMembers(ctx, []string{g.ID})
			if err != nil {
				return fmt.Errorf("group members: %w", err)
			}
			want := map[string]bool{}
			for _, x := range ch.Set {
				want[x] = true
			}
			remove = nil
			for _, m := range members {
				if !want[m.UserID] {
					remove = append(remove, m.UserID)
				}
			}
			add = ch.Set
		}
		var removed []store.DirectoryUser
		if rm := uniq(remove); len(rm) > 0 {
			users, err := q.GetDirectoryUsers(ctx, dirID, rm)
			if err != nil {
				return fmt.Errorf("get members: %w", err)
			}
			for _, u := range users {
				ok, err := q.RemoveMember(ctx, g.ID, u.ID)
				if err != nil {
					return fmt.Errorf("remove member: %w", err)
				}
				if ok {
					removed = append(removed, u)
				}
			}
		}
		added, err := s.addMembers(ctx, q, g, add)
		if err != nil {
			return err
		}
		out = g
		if len(prev) > 0 {
			if err := events.Append(ctx, q, EventGroupUpdated, g.OrganizationID, groupEvent{GroupToJSON(g), prev}); err != nil {
				return err
			}
		}
		if err := s.membershipEvents(ctx, q, g, removed, EventGroupUserRemoved); err != nil {
			return err
		}
		return s.membershipEvents(ctx, q, g, added, EventGroupUserAdded)
	})
	return out, err
}

// DeleteGroup removes a group (its memberships go with it) and emits
// dsync.group.deleted.
func (s *Service) DeleteGroup(ctx context.Context, dirID, groupID string) error {
	defer s.changed(dirID)
	return s.inTx(ctx, func(q store.Queries) error {
		g, err := q.GetDirectoryGroup(ctx, dirID, groupID, true)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Directory group", groupID)
		}
		if err != nil {
			return fmt.Errorf("get directory group: %w", err)
		}
		if err := q.DeleteDirectoryGroup(ctx, dirID, groupID); err != nil {
			return fmt.Errorf("delete directory group: %w", err)
		}
		return events.Append(ctx, q, EventGroupDeleted, g.OrganizationID, GroupToJSON(g))
	})
}

// GetUser returns a user with its groups (directory "" = any directory).
func (s *Service) GetUser(ctx context.Context, dirID, userID string) (store.DirectoryUser, []store.DirectoryGroup, error) {
	u, err := s.Store.GetDirectoryUser(ctx, dirID, userID, false)
	if errors.Is(err, store.ErrNotFound) {
		return u, nil, errs.NotFound("Directory user", userID)
	}
	if err != nil {
		return u, nil, fmt.Errorf("get directory user: %w", err)
	}
	gs, err := s.Store.UserGroups(ctx, []string{u.ID})
	if err != nil {
		return u, nil, fmt.Errorf("user groups: %w", err)
	}
	return u, gs[u.ID], nil
}

// GetGroup returns a group (directory "" = any directory).
func (s *Service) GetGroup(ctx context.Context, dirID, groupID string) (store.DirectoryGroup, error) {
	g, err := s.Store.GetDirectoryGroup(ctx, dirID, groupID, false)
	if errors.Is(err, store.ErrNotFound) {
		return g, errs.NotFound("Directory group", groupID)
	}
	if err != nil {
		return g, fmt.Errorf("get directory group: %w", err)
	}
	return g, nil
}
