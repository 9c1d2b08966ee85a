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
	"strings"
	"time"

	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Scopes are what the service account must be granted by domain-wide
// delegation (read-only).
var Scopes = []string{
	admin.AdminDirectoryUserReadonlyScope,
	admin.AdminDirectoryGroupReadonlyScope,
	admin.AdminDirectoryGroupMemberReadonlyScope,
}

// Syncer pulls Google Workspace directories on a schedule and on demand.
type Syncer struct {
	Svc *directory.Service
	// BaseURL replaces https://admin.googleapis.com/ (tests, proxies).
	BaseURL string
	// HTTPClient makes the token and API calls; nil = http.DefaultClient.
	HTTPClient *http.Client
	Log        *slog.Logger
	// Interval is the time between scheduled pulls of one directory.
	Interval time.Duration
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

// service builds an Admin SDK client that acts as the admin through the
// service account's domain-wide delegation.
func (s *Syncer) service(ctx context.Context, g directory.GoogleSettings) (*admin.Service, error) {
	cfg, err := googleoauth.JWTConfigFromJSON([]byte(g.CredentialsJSON), Scopes...)
	if err != nil {
		return nil, &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_credentials",
			Message: "The Google service account key is not valid JSON key material.", Err: err}
	}
	cfg.Subject = g.AdminEmail
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	opts := []option.ClientOption{option.WithHTTPClient(oauth2.NewClient(ctx, cfg.TokenSource(ctx)))}
	if s.BaseURL != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(s.BaseURL, "/")+"/"))
	}
	svc, err := admin.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google admin client: %w", err)
	}
	return svc, nil
}

// pullLease bounds how long a pull may hold its directory; a node that
// dies mid-pull frees the directory when the lease runs out.
const pullLease = 15 * time.Minute

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
	res, err := s.sync(ctx, d)
	state, msg := store.DirectoryLinked, ""
	if err != nil {
		msg = err.Error()
		var ge *googleapi.Error
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &ge) && (ge.Code == http.StatusForbidden || ge.Code == http.StatusUnauthorized),
			errors.As(err, &re), errs.IsKind(err, errs.KindBadRequest):
			state = store.DirectoryInvalidCredentials
			msg = "Google refused access: grant the service account domain-wide delegation for " + strings.Join(Scopes, ", ") +
				" and check the admin email. (" + err.Error() + ")"
			err = &errs.Error{Kind: errs.KindBadRequest, Code: "invalid_credentials", Message: msg, Err: err}
		default:
			state = d.State
			err = errs.Unavailable("google_unavailable", "Google Workspace could not be read: "+err.Error(), err)
		}
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
	svc, err := s.service(ctx, g)
	if err != nil {
		return res, err
	}
	customer := g.CustomerID
	if customer == "" {
		customer = "my_customer"
	}

	var users []*admin.User
	if err := svc.Users.List().Customer(customer).MaxResults(500).Projection("full").Pages(ctx, func(p *admin.Users) error {
		users = append(users, p.Users...)
		return nil
	}); err != nil {
		return res, fmt.Errorf("list users: %w", err)
	}
	var groups []*admin.Group
	if err := svc.Groups.List().Customer(customer).MaxResults(200).Pages(ctx, func(p *admin.Groups) error {
		groups = append(groups, p.Groups...)
		return nil
	}); err != nil {
		return res, fmt.Errorf("list groups: %w", err)
	}
	direct := map[string][]*admin.Member{}
	for _, gr := range groups {
		if err := svc.Members.List(gr.Id).MaxResults(200).Pages(ctx, func(p *admin.Members) error {
			direct[gr.Id] = append(direct[gr.Id], p.Members...)
			return nil
		}); err != nil {
			return res, fmt.Errorf("list members of %s: %w", gr.Email, err)
		}
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
		members := flatten(gr.Id, direct, map[string]bool{})
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
func flatten(groupID string, direct map[string][]*admin.Member, seen map[string]bool) []string {
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
			ids = flatten(m.Id, direct, seen)
		case "USER", "":
			ids = []string{m.Id}
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

// toUser maps a Google user to a directory user.
func toUser(gu *admin.User) (store.DirectoryUser, error) {
	raw, err := json.Marshal(gu)
	if err != nil {
		return store.DirectoryUser{}, fmt.Errorf("encode google user: %w", err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	for _, k := range volatile {
		delete(m, k)
	}
	u := store.DirectoryUser{IdPID: gu.Id, ExternalID: gu.Id, UserName: gu.PrimaryEmail, Email: gu.PrimaryEmail, State: store.UserActive}
	if gu.Suspended || gu.Archived {
		u.State = store.UserInactive
	}
	if gu.Name != nil {
		u.FirstName, u.LastName, u.DisplayName = gu.Name.GivenName, gu.Name.FamilyName, gu.Name.FullName
	}
	u.Emails = append(u.Emails, store.UserEmail{Value: gu.PrimaryEmail, Type: "work", Primary: true})
	if list, ok := m["emails"].([]any); ok {
		for _, e := range list {
			eo, _ := e.(map[string]any)
			addr, _ := eo["address"].(string)
			if addr == "" || strings.EqualFold(addr, gu.PrimaryEmail) {
				continue
			}
			typ, _ := eo["type"].(string)
			u.Emails = append(u.Emails, store.UserEmail{Value: addr, Type: typ})
		}
	}
	custom := map[string]any{}
	if orgs, ok := m["organizations"].([]any); ok && len(orgs) > 0 {
		o, _ := orgs[0].(map[string]any)
		for _, f := range []struct{ from, to string }{{"title", "title"}, {"department", "department"}, {"costCenter", "cost_center"}, {"name", "organization"}} {
			if v, _ := o[f.from].(string); v != "" {
				custom[f.to] = v
			}
		}
		u.JobTitle, _ = o["title"].(string)
	}
	if ids, ok := m["externalIds"].([]any); ok {
		for _, x := range ids {
			xo, _ := x.(map[string]any)
			if xo["type"] == "organization" {
				if v, _ := xo["value"].(string); v != "" {
					custom["employee_number"] = v
				}
			}
		}
	}
	if rel, ok := m["relations"].([]any); ok {
		for _, x := range rel {
			xo, _ := x.(map[string]any)
			if xo["type"] == "manager" {
				if v, _ := xo["value"].(string); v != "" {
					custom["manager_email"] = v
				}
			}
		}
	}
	if u.CustomAttributes, err = json.Marshal(custom); err != nil {
		return u, err
	}
	u.Attributes, err = json.Marshal(m)
	return u, err
}

// toGroup maps a Google group to a directory group.
func toGroup(gg *admin.Group) (store.DirectoryGroup, error) {
	raw, err := json.Marshal(map[string]any{"id": gg.Id, "email": gg.Email, "name": gg.Name, "description": gg.Description})
	if err != nil {
		return store.DirectoryGroup{}, err
	}
	name := gg.Name
	if name == "" {
		name = gg.Email
	}
	return store.DirectoryGroup{IdPID: gg.Id, ExternalID: gg.Id, DisplayName: name, Attributes: raw}, nil
}
