// Package directory is Directory Sync: directories and their SCIM tokens,
// the users, groups and memberships that IdPs provision (through the SCIM
// server in the scim subpackage, or pulled from Google Workspace by the
// google subpackage), the dsync.* events every change emits, and the
// WorkOS /directories, /directory_users and /directory_groups API.
package directory

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/groupcommit"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Event names for Directory Sync.
const (
	EventActivated        = "dsync.activated"
	EventDeleted          = "dsync.deleted"
	EventTokenCreated     = "dsync.token.created"
	EventTokenRevoked     = "dsync.token.revoked"
	EventUserCreated      = "dsync.user.created"
	EventUserUpdated      = "dsync.user.updated"
	EventUserDeleted      = "dsync.user.deleted"
	EventGroupCreated     = "dsync.group.created"
	EventGroupUpdated     = "dsync.group.updated"
	EventGroupDeleted     = "dsync.group.deleted"
	EventGroupUserAdded   = "dsync.group.user_added"
	EventGroupUserRemoved = "dsync.group.user_removed"
)

// TypeGoogle is the directory type that Gatehouse pulls rather than
// receives by SCIM.
const TypeGoogle = "gsuite directory"

// SCIMTypes are the directory types that provision over SCIM 2.0.
var SCIMTypes = []string{
	"okta scim v2.0", "azure scim v2.0", "generic scim v2.0", "onelogin scim v2.0",
	"jump cloud scim v2.0", "pingfederate scim v2.0", "rippling scim v2.0",
}

// Service holds Directory Sync's rules. Every write runs in one transaction
// with the events it emits.
type Service struct {
	Store   store.Store
	Sealer  *secrets.Sealer
	BaseURL string // public URL; SCIM base URLs hang off it
	Log     *slog.Logger
	Now     func() time.Time

	// Commit groups concurrent SCIM writes into shared transactions; nil
	// gives each its own.
	Commit *groupcommit.Committer

	mu       sync.Mutex        // guards changes and tokens
	changes  map[string]uint64 // see Changes
	tokens   tokenCache
	tokenGen uint64 // bumped by forgetTokens
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// SCIMBaseURL is where an IdP sends SCIM requests for directory id.
func (s *Service) SCIMBaseURL(id string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/scim/v2/" + id
}

// IsSCIM reports whether directories of type t receive SCIM.
func IsSCIM(t string) bool { return slices.Contains(SCIMTypes, t) }

// GoogleSettings is what a Google Workspace directory needs to pull; it is
// sealed at rest because CredentialsJSON holds a private key.
type GoogleSettings struct {
	CredentialsJSON string `json:"credentials_json"`
	AdminEmail      string `json:"admin_email"`
	CustomerID      string `json:"customer_id,omitempty"`
}

// CreateInput is the body of POST /directories.
type CreateInput struct {
	OrganizationID string          `json:"organization_id"`
	Type           string          `json:"type"`
	Name           string          `json:"name"`
	Domain         string          `json:"domain"`
	Google         *GoogleSettings `json:"google"`
}

// Create makes a directory.
func (s *Service) Create(ctx context.Context, in CreateInput) (store.Directory, error) {
	if in.OrganizationID == "" {
		return store.Directory{}, errs.InvalidField("organization_id", "required", "organization_id is required.")
	}
	if !IsSCIM(in.Type) && in.Type != TypeGoogle {
		return store.Directory{}, errs.InvalidField("type", "invalid",
			fmt.Sprintf("type must be one of %s or %q.", strings.Join(quoteAll(SCIMTypes), ", "), TypeGoogle))
	}
	now := s.now()
	d := store.Directory{
		ID: id.New("directory"), OrganizationID: in.OrganizationID, Type: in.Type, Name: strings.TrimSpace(in.Name),
		State: store.DirectoryUnlinked, Domain: strings.ToLower(strings.TrimSpace(in.Domain)), ExternalKey: secrets.Token(12),
		CreatedAt: now, UpdatedAt: now,
	}
	if d.Name == "" {
		d.Name = in.Type
	}
	if in.Type == TypeGoogle {
		if err := s.setGoogle(&d, in.Google); err != nil {
			return d, err
		}
		d.NextSyncAt = now
	} else if in.Google != nil {
		return d, errs.InvalidField("google", "invalid", "google settings apply to gsuite directory only.")
	}
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetOrganization(ctx, in.OrganizationID); errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization", in.OrganizationID)
		} else if err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		if err := q.CreateDirectory(ctx, d); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		return nil
	})
	return d, err
}

func (s *Service) setGoogle(d *store.Directory, g *GoogleSettings) error {
	if g == nil || g.CredentialsJSON == "" || g.AdminEmail == "" {
		return errs.InvalidField("google", "required",
			"google.credentials_json (a service account key with domain-wide delegation) and google.admin_email are required.")
	}
	b, err := jsonMarshal(g)
	if err != nil {
		return err
	}
	d.Google = s.Sealer.Seal(b, d.ID+"/google")
	return nil
}

// Google opens a directory's sealed Google Workspace settings.
func (s *Service) Google(d store.Directory) (GoogleSettings, error) {
	var g GoogleSettings
	if d.Google == "" {
		return g, errors.New("directory has no google settings")
	}
	b, err := s.Sealer.Open(d.Google, d.ID+"/google")
	if err != nil {
		return g, fmt.Errorf("open google settings of %s: %w", d.ID, err)
	}
	return g, jsonUnmarshal(b, &g)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Get returns a directory.
func (s *Service) Get(ctx context.Context, dirID string) (store.Directory, error) {
	return s.get(ctx, s.Store, dirID)
}

func (s *Service) get(ctx context.Context, q store.Queries, dirID string) (store.Directory, error) {
	d, err := q.GetDirectory(ctx, dirID)
	if errors.Is(err, store.ErrNotFound) {
		return d, errs.NotFound("Directory", dirID)
	}
	if err != nil {
		return d, fmt.Errorf("get directory: %w", err)
	}
	return d, nil
}

// List returns one page of directories.
func (s *Service) List(ctx context.Context, f store.DirectoryFilter, p store.Page) ([]store.Directory, store.PageInfo, error) {
	ds, info, err := s.Store.ListDirectories(ctx, f, p)
	if err != nil {
		return nil, info, fmt.Errorf("list directories: %w", err)
	}
	return ds, info, nil
}

// Counts returns a directory's user and group totals.
func (s *Service) Counts(ctx context.Context, dirID string) (store.DirectoryCounts, error) {
	c, err := s.Store.CountDirectory(ctx, dirID)
	if err != nil {
		return c, fmt.Errorf("count directory: %w", err)
	}
	return c, nil
}

// Delete removes a directory with its tokens, users and groups and emits
// dsync.deleted.
func (s *Service) Delete(ctx context.Context, dirID string) error {
	return s.Store.InTx(ctx, func(q store.Queries) error { return s.deleteIn(ctx, q, dirID) })
}

func (s *Service) deleteIn(ctx context.Context, q store.Queries, dirID string) error {
	defer s.forgetTokens(dirID)
	d, err := s.get(ctx, q, dirID)
	if err != nil {
		return err
	}
	if err := q.DeleteDirectory(ctx, dirID); err != nil {
		return fmt.Errorf("delete directory: %w", err)
	}
	d.UpdatedAt = s.now()
	return events.Append(ctx, q, EventDeleted, d.OrganizationID, directoryEvent(d, "deleting"))
}

// DeleteForOrganization removes every directory of an organization that is
// being deleted, each with its dsync.deleted event; it runs in the
// organization's delete transaction (organization.Service.OnDelete).
func (s *Service) DeleteForOrganization(ctx context.Context, q store.Queries, orgID string) error {
	for {
		dirs, _, err := q.ListDirectories(ctx, store.DirectoryFilter{OrganizationID: orgID}, store.Page{Limit: 100})
		if err != nil {
			return fmt.Errorf("list directories of %s: %w", orgID, err)
		}
		if len(dirs) == 0 {
			return nil
		}
		for _, d := range dirs {
			if err := s.deleteIn(ctx, q, d.ID); err != nil {
				return err
			}
		}
	}
}

func directoryEvent(d store.Directory, state string) directoryEventJSON {
	out := directoryEventJSON{
		Object: "directory", ID: d.ID, OrganizationID: d.OrganizationID, Type: d.Type, State: state, Name: d.Name,
		ExternalKey: d.ExternalKey, CreatedAt: wire.Time(d.CreatedAt), UpdatedAt: wire.Time(d.UpdatedAt),
	}
	if state == "active" {
		out.Domains = []string{}
		if d.Domain != "" {
			out.Domains = []string{d.Domain}
		}
	}
	return out
}

// Activate marks the directory linked after its first successful SCIM call
// or pull, emitting dsync.activated exactly once.
func (s *Service) Activate(ctx context.Context, dirID string) error {
	defer s.forgetTokens(dirID)
	return s.Store.InTx(ctx, func(q store.Queries) error {
		now := s.now()
		done, err := q.ActivateDirectory(ctx, dirID, now)
		if err != nil || !done {
			return err
		}
		d, err := s.get(ctx, q, dirID)
		if err != nil {
			return err
		}
		return events.Append(ctx, q, EventActivated, d.OrganizationID, directoryEvent(d, "active"))
	})
}

// CreatedToken is a new token; Secret is shown once and never stored.
type CreatedToken struct {
	store.DirectoryToken
	Secret string
}

// CreateToken makes a SCIM bearer token. Older tokens stay valid until
// revoked, so an IdP can be moved to the new one without downtime.
func (s *Service) CreateToken(ctx context.Context, dirID, name string) (CreatedToken, error) {
	secret := "scim_" + secrets.Token(32)
	t := store.DirectoryToken{
		ID: id.New("directory_token"), DirectoryID: dirID, Name: strings.TrimSpace(name), Hash: secrets.Hash(secret),
		Suffix: secret[len(secret)-4:], CreatedAt: s.now(),
	}
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		d, err := s.get(ctx, q, dirID)
		if err != nil {
			return err
		}
		if !IsSCIM(d.Type) {
			return errs.BadRequest("directory_not_scim", "Only SCIM directories have bearer tokens.")
		}
		if err := q.CreateDirectoryToken(ctx, t); err != nil {
			return fmt.Errorf("create directory token: %w", err)
		}
		return events.Append(ctx, q, EventTokenCreated, d.OrganizationID, tokenEvent(d, t))
	})
	return CreatedToken{t, secret}, err
}

func tokenEvent(d store.Directory, t store.DirectoryToken) tokenEventJSON {
	return tokenEventJSON{Object: "directory_token", ID: t.ID, DirectoryID: d.ID, OrganizationID: d.OrganizationID,
		TokenSuffix: t.Suffix, CreatedAt: wire.Time(t.CreatedAt)}
}

// RevokeToken deletes a token; requests with it fail from now on.
func (s *Service) RevokeToken(ctx context.Context, dirID, tokenID string) error {
	defer s.forgetTokens(dirID)
	return s.Store.InTx(ctx, func(q store.Queries) error {
		d, err := s.get(ctx, q, dirID)
		if err != nil {
			return err
		}
		t, err := q.DeleteDirectoryToken(ctx, dirID, tokenID)
		if errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Directory token", tokenID)
		}
		if err != nil {
			return fmt.Errorf("revoke directory token: %w", err)
		}
		return events.Append(ctx, q, EventTokenRevoked, d.OrganizationID, tokenEvent(d, t))
	})
}

// Tokens lists a directory's live tokens (without secrets).
func (s *Service) Tokens(ctx context.Context, dirID string) ([]store.DirectoryToken, error) {
	if _, err := s.Get(ctx, dirID); err != nil {
		return nil, err
	}
	ts, err := s.Store.ListDirectoryTokens(ctx, dirID)
	if err != nil {
		return nil, fmt.Errorf("list directory tokens: %w", err)
	}
	return ts, nil
}

// Authenticate returns the directory that a SCIM bearer token opens; the
// token must belong to dirID. Any mismatch is the same 401, so a token
// never reveals which directories exist.
func (s *Service) Authenticate(ctx context.Context, dirID, secret string) (store.Directory, error) {
	unauth := errs.Unauthorized("The bearer token is not valid for this directory.")
	hash := [32]byte(secrets.Hash(secret))
	now := s.now()
	e, gen, ok := s.cachedToken(hash, now)
	if !ok {
		t, d, err := s.Store.DirectoryByTokenHash(ctx, hash[:])
		if errors.Is(err, store.ErrNotFound) {
			return store.Directory{}, unauth
		}
		if err != nil {
			return store.Directory{}, fmt.Errorf("look up directory token: %w", err)
		}
		e = cachedToken{tok: t, dir: d, at: now}
	}
	if e.tok.DirectoryID != dirID {
		return store.Directory{}, unauth
	}
	// Remember use at minute precision: a write per request would halve
	// SQLite's provisioning throughput for a value shown to humans.
	if now.Sub(e.tok.LastUsedAt) > time.Minute {
		if err := s.Store.TouchDirectoryToken(ctx, e.tok.ID, now); err != nil {
			s.Log.WarnContext(ctx, "touch directory token", "err", err)
		}
		e.tok.LastUsedAt = now
	}
	if !ok || e.tok.LastUsedAt == now {
		s.cacheToken(hash, e, gen)
	}
	return e.dir, nil
}

// RecordSync stores the outcome of a Google Workspace pull: the time, the
// error shown to the admin (empty on success) and the resulting state. The
// first successful pull activates the directory (dsync.activated).
func (s *Service) RecordSync(ctx context.Context, dirID, syncErr, state string) error {
	defer s.forgetTokens(dirID)
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		d, err := s.get(ctx, q, dirID)
		if err != nil {
			return err
		}
		now := s.now()
		d.LastSyncAt, d.LastSyncError, d.UpdatedAt = now, syncErr, now
		if state != store.DirectoryLinked {
			d.State = state
		}
		return q.UpdateDirectory(ctx, d)
	})
	if err != nil || state != store.DirectoryLinked {
		return err
	}
	return s.Activate(ctx, dirID)
}
