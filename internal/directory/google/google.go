// Package google pulls users, groups and memberships from Google Workspace
// (the "gsuite directory" type, which has no SCIM) through the Admin SDK
// Directory API with a service account and domain-wide delegation, and
// turns the differences into the same records and dsync.* events as SCIM.
package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Scopes are what the service account must be granted by domain-wide
// delegation (read-only).
var Scopes = []string{
	"https://www.googleapis.com/auth/admin.directory.user.readonly",
	"https://www.googleapis.com/auth/admin.directory.group.readonly",
	"https://www.googleapis.com/auth/admin.directory.group.member.readonly",
}

// Syncer pulls Google Workspace directories on a schedule and on demand.
type Syncer struct {
	Svc *directory.Service
	// BaseURL replaces https://admin.googleapis.com/ (tests, proxies).
	BaseURL string
	// Guard vets every call's target: the token URL is whatever the
	// customer's service-account key names. The zero Guard refuses
	// loopback, link-local and private targets.
	Guard netguard.Guard
	Log   *slog.Logger
	// Interval is the time between scheduled pulls of one directory.
	Interval time.Duration

	clientOnce sync.Once
	hc         *http.Client
}

// httpClient is the one client of every call: Guard's, with timeouts.
func (s *Syncer) httpClient() *http.Client {
	s.clientOnce.Do(func() { s.hc = s.Guard.Client(callTimeout) })
	return s.hc
}

// classify turns a failed pull into the directory's new state and an
// error for the caller, in plain language, with Google's HTTP status but
// never Google's (or whoever the key file names) answer body.
func (s *Syncer) classify(d store.Directory, err error) (string, error) {
	delegation := "grant the service account domain-wide delegation for " + strings.Join(Scopes, ", ") + " and check the admin email"
	var ce *CallError
	switch {
	case errs.IsKind(err, errs.KindBadRequest):
		return store.DirectoryInvalidCredentials, err
	case errors.Is(err, netguard.ErrForbiddenTarget):
		return store.DirectoryInvalidCredentials, &errs.Error{Kind: errs.KindBadRequest, Code: "forbidden_target", Err: err,
			Message: "The service account key's token_uri (or the Google API address) is a loopback, link-local or private address, " +
				"which Gatehouse does not call: upload the key file exactly as Google issued it."}
	case errors.As(err, &ce) && ce.Op == tokenOp && ce.Status >= 400 && ce.Status < 500:
		return store.DirectoryInvalidCredentials, &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_credentials", Err: err,
			Message: fmt.Sprintf("Google refused the service account's token request (%s): %s.", ce.answer(), delegation)}
	case errors.As(err, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusForbidden):
		return store.DirectoryInvalidCredentials, &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_credentials", Err: err,
			Message: fmt.Sprintf("Google refused access (%s to %s): %s.", ce.answer(), ce.Op, delegation)}
	}
	return d.State, errs.Unavailable("google_unavailable", "Google Workspace could not be read: "+err.Error(), err)
}

// errMessage is what the directory shows as its last sync error.
func errMessage(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// Result counts what a pull changed.
type Result struct {
	Object         string `json:"object"`
	DirectoryID    string `json:"directory_id"`
	UsersCreated   int    `json:"users_created"`
	UsersUpdated   int    `json:"users_updated"`
	UsersDeleted   int    `json:"users_deleted"`
	GroupsCreated  int    `json:"groups_created"`
	GroupsUpdated  int    `json:"groups_updated"`
	GroupsDeleted  int    `json:"groups_deleted"`
	UsersSeen      int    `json:"users_seen"`
	GroupsSeen     int    `json:"groups_seen"`
	MembershipsSet int    `json:"memberships"`
}

// SyncNow pulls one directory now (POST /directories/{id}/sync).
func (s *Syncer) SyncNow(ctx context.Context, dirID string) (any, error) {
	d, err := s.Svc.Get(ctx, dirID)
	if err != nil {
		return nil, err
	}
	return s.Sync(ctx, d)
}

// CheckEvery is how often SyncDue should run: often enough to start each
// pull close to its due time.
func (s *Syncer) CheckEvery() time.Duration { return min(s.Interval, time.Minute) }

// SyncDue pulls the directories whose pull is due. Each pull is claimed by
// moving the directory's next_sync_at with a conditional update, so with
// several nodes on one database each pull runs once. A failed pull is
// logged and kept for the next round; only a failed claim is an error.
func (s *Syncer) SyncDue(ctx context.Context) error {
	now := time.Now()
	due, err := s.Svc.Store.ClaimDueDirectorySyncs(ctx, now, now.Add(s.Interval), 10)
	if err != nil {
		return fmt.Errorf("google workspace: claim pulls: %w", err)
	}
	for _, d := range due {
		if _, err := s.Sync(ctx, d); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "google workspace: pull failed", "directory_id", d.ID, "err", err)
		}
	}
	return nil
}

// pullLease bounds how long a pull may hold its directory; a node that
// dies mid-pull frees the directory when the lease runs out.
const pullLease = 15 * time.Minute

// pullTimeout bounds one pull, inside its lease.
const pullTimeout = 10 * time.Minute

// ErrPullRunning answers an on-demand pull while another one runs.
var ErrPullRunning = errs.Conflict("sync_in_progress", "A pull of this directory is already running; try again when it ends.")

// Sync pulls d and applies the differences, holding the directory's pull
// lease so that no other pull (on-demand or scheduled, on any node) runs
// over it at the same time. A 401/403 from Google marks the directory
// invalid_credentials with a message the admin can act on.
func (s *Syncer) Sync(ctx context.Context, d store.Directory) (Result, error) {
	now := time.Now()
	ok, err := s.Svc.Store.LeaseDirectorySync(ctx, d.ID, now, now.Add(pullLease))
	if err != nil {
		return Result{}, fmt.Errorf("lease directory %s: %w", d.ID, err)
	}
	if !ok {
		return Result{}, ErrPullRunning
	}
	defer s.Svc.Store.ReleaseDirectorySync(context.WithoutCancel(ctx), d.ID)
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	res, err := s.sync(pctx, d)
	state, msg := store.DirectoryLinked, ""
	if err != nil {
		state, err = s.classify(d, err)
		msg = errMessage(err)
	}
	if rerr := s.Svc.RecordSync(context.WithoutCancel(ctx), d.ID, msg, state); rerr != nil {
		return res, errors.Join(err, rerr)
	}
	return res, err
}

// volatile are Google user fields that change without a profile change
// and would otherwise turn every pull into dsync.user.updated events.
var volatile = []string{"etag", "lastLoginTime", "thumbnailPhotoEtag", "thumbnailPhotoUrl"}

func (s *Syncer) sync(ctx context.Context, d store.Directory) (Result, error) {
	res := Result{Object: "directory_sync_result", DirectoryID: d.ID}
	g, err := s.Svc.Google(d)
	if err != nil {
		return res, err
	}
	c, err := s.client(g)
	if err != nil {
		return res, err
	}
	customer := g.CustomerID
	if customer == "" {
		customer = "my_customer"
	}

	q := url.Values{"customer": {customer}, "maxResults": {"500"}, "projection": {"full"}}
	users, err := list(ctx, c, "users", q, "users", "list users", decodeUser)
	if err != nil {
		return res, err
	}
	q = url.Values{"customer": {customer}, "maxResults": {"200"}}
	groups, err := list(ctx, c, "groups", q, "groups", "list groups", decode[group])
	if err != nil {
		return res, err
	}
	direct := map[string][]member{}
	for _, gr := range groups {
		q := url.Values{"maxResults": {"200"}}
		ms, err := list(ctx, c, "groups/"+url.PathEscape(gr.ID)+"/members", q, "members", "list members of "+gr.Email, decode[member])
		if err != nil {
			return res, err
		}
		direct[gr.ID] = ms
	}
	res.UsersSeen, res.GroupsSeen = len(users), len(groups)

	userIDs, err := s.Svc.Store.AllDirectoryUserIDs(ctx, d.ID)
	if err != nil {
		return res, fmt.Errorf("read users: %w", err)
	}
	seenUsers := map[string]bool{}
	for _, gu := range users {
		u, err := toUser(gu)
		if err != nil {
			return res, err
		}
		seenUsers[u.IdPID] = true
		if id, ok := userIDs[u.IdPID]; ok {
			before, err := s.Svc.Store.GetDirectoryUser(ctx, d.ID, id, false)
			if err != nil {
				return res, fmt.Errorf("read user: %w", err)
			}
			after, err := s.Svc.UpdateUser(ctx, d.ID, id, func(store.DirectoryUser) (store.DirectoryUser, error) { return u, nil })
			if err != nil {
				return res, err
			}
			if !after.UpdatedAt.Equal(before.UpdatedAt) {
				res.UsersUpdated++
			}
			continue
		}
		created, err := s.Svc.CreateUser(ctx, d, u)
		if err != nil {
			return res, err
		}
		userIDs[u.IdPID] = created.ID
		res.UsersCreated++
	}

	groupIDs, err := s.Svc.Store.AllDirectoryGroupIDs(ctx, d.ID)
	if err != nil {
		return res, fmt.Errorf("read groups: %w", err)
	}
	seenGroups := map[string]bool{}
	for _, gr := range groups {
		members := flatten(gr.ID, direct, map[string]bool{})
		var ids []string
		for _, m := range members {
			if id, ok := userIDs[m]; ok {
				ids = append(ids, id)
			}
		}
		res.MembershipsSet += len(ids)
		ng, err := toGroup(gr)
		if err != nil {
			return res, err
		}
		seenGroups[ng.IdPID] = true
		if id, ok := groupIDs[ng.IdPID]; ok {
			before, err := s.Svc.Store.GetDirectoryGroup(ctx, d.ID, id, false)
			if err != nil {
				return res, fmt.Errorf("read group: %w", err)
			}
			after, err := s.Svc.UpdateGroup(ctx, d.ID, id, func(store.DirectoryGroup) (directory.GroupChange, error) {
				return directory.GroupChange{Group: &ng, Replace: true, Set: ids}, nil
			})
			if err != nil {
				return res, err
			}
			if !after.UpdatedAt.Equal(before.UpdatedAt) {
				res.GroupsUpdated++
			}
			continue
		}
		if _, err := s.Svc.CreateGroup(ctx, d, ng, ids); err != nil {
			return res, err
		}
		res.GroupsCreated++
	}
	for idp, id := range groupIDs {
		if !seenGroups[idp] {
			if err := s.Svc.DeleteGroup(ctx, d.ID, id); err != nil {
				return res, err
			}
			res.GroupsDeleted++
		}
	}
	for idp, id := range userIDs {
		if !seenUsers[idp] {
			if err := s.Svc.DeleteUser(ctx, d.ID, id); err != nil {
				return res, err
			}
			res.UsersDeleted++
		}
	}
	return res, nil
}

// flatten returns the user IDs in a group, through nested groups, as
// WorkOS reports Google group membership (a user in a nested group is a
// member of its parents). seen guards against cycles.
func flatten(groupID string, direct map[string][]member, seen map[string]bool) []string {
	if seen[groupID] {
		return nil
	}
	seen[groupID] = true
	var out []string
	have := map[string]bool{}
	for _, m := range direct[groupID] {
		var ids []string
		switch m.Type {
		case "GROUP":
			ids = flatten(m.ID, direct, seen)
		case "USER", "":
			ids = []string{m.ID}
		}
		for _, id := range ids {
			if !have[id] {
				have[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// toUser maps a Google user to a directory user; its attributes are the
// user as Google sent it, less the volatile fields.
func toUser(gu user) (store.DirectoryUser, error) {
	m := gu.raw
	for _, k := range volatile {
		delete(m, k)
	}
	u := store.DirectoryUser{IdPID: gu.ID, ExternalID: gu.ID, UserName: gu.PrimaryEmail, Email: gu.PrimaryEmail, State: store.UserActive}
	if gu.Suspended || gu.Archived {
		u.State = store.UserInactive
	}
	if gu.Name != nil {
		u.FirstName, u.LastName, u.DisplayName = gu.Name.GivenName, gu.Name.FamilyName, gu.Name.FullName
	}
	u.Emails = append(u.Emails, store.UserEmail{Value: gu.PrimaryEmail, Type: "work", Primary: true})
	for _, e := range gu.Emails {
		if e.Address == "" || strings.EqualFold(e.Address, gu.PrimaryEmail) {
			continue
		}
		u.Emails = append(u.Emails, store.UserEmail{Value: e.Address, Type: e.Type})
	}
	custom := map[string]any{}
	if len(gu.Organizations) > 0 {
		o := gu.Organizations[0]
		for _, f := range []struct{ v, to string }{{o.Title, "title"}, {o.Department, "department"}, {o.CostCenter, "cost_center"}, {o.Name, "organization"}} {
			if f.v != "" {
				custom[f.to] = f.v
			}
		}
		u.JobTitle = o.Title
	}
	for _, x := range gu.ExternalIDs {
		if x.Type == "organization" && x.Value != "" {
			custom["employee_number"] = x.Value
		}
	}
	for _, x := range gu.Relations {
		if x.Type == "manager" && x.Value != "" {
			custom["manager_email"] = x.Value
		}
	}
	var err error
	if u.CustomAttributes, err = json.Marshal(custom); err != nil {
		return u, err
	}
	u.Attributes, err = json.Marshal(m)
	return u, err
}

// toGroup maps a Google group to a directory group.
func toGroup(gg group) (store.DirectoryGroup, error) {
	raw, err := json.Marshal(map[string]any{"id": gg.ID, "email": gg.Email, "name": gg.Name, "description": gg.Description})
	if err != nil {
		return store.DirectoryGroup{}, err
	}
	name := gg.Name
	if name == "" {
		name = gg.Email
	}
	return store.DirectoryGroup{IdPID: gg.ID, ExternalID: gg.ID, DisplayName: name, Attributes: raw}, nil
}
