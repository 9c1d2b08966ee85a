package store

import (
	"context"
	"encoding/json"
	"time"
)

// Directory states as the WorkOS resource names them.
const (
	DirectoryLinked             = "linked"
	DirectoryUnlinked           = "unlinked"
	DirectoryInvalidCredentials = "invalid_credentials"
)

// Directory user states.
const (
	UserActive   = "active"
	UserInactive = "inactive"
)

// Directory is a customer's user directory: a SCIM endpoint that an IdP
// provisions into, or a Google Workspace that Gatehouse pulls from.
type Directory struct {
	ID             string
	OrganizationID string
	Type           string // WorkOS enum, e.g. "okta scim v2.0", "gsuite directory"
	Name           string
	State          string
	Domain         string
	ExternalKey    string
	ActivatedAt    time.Time // zero until the first successful SCIM call or sync
	// Google holds the sealed Google Workspace settings (JSON), empty for SCIM.
	Google        string
	NextSyncAt    time.Time // zero = no scheduled pull
	LastSyncAt    time.Time
	LastSyncError string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DirectoryFilter narrows ListDirectories.
type DirectoryFilter struct {
	OrganizationID string
	Search         string // case-insensitive substring of the name
	Domain         string
}

// DirectoryCounts is a directory's user and group totals.
type DirectoryCounts struct {
	ActiveUsers   int
	InactiveUsers int
	Groups        int
}

// DirectoryToken is a SCIM bearer token; only its SHA-256 hash is stored.
type DirectoryToken struct {
	ID          string
	DirectoryID string
	Name        string
	Hash        []byte
	Suffix      string
	CreatedAt   time.Time
	LastUsedAt  time.Time
}

// DirectoryUser is a user provisioned into a directory. The indexed columns
// (UserName, ExternalID, Email, …) are derived from Attributes by the
// ingesting side (SCIM or Google) on every write.
type DirectoryUser struct {
	ID             string
	DirectoryID    string
	OrganizationID string
	IdPID          string // externalId, else userName
	ExternalID     string
	UserName       string
	Email          string // the primary email, as sent
	FirstName      string
	LastName       string
	DisplayName    string
	JobTitle       string
	State          string
	Emails         []UserEmail
	// Attributes is the resource as the IdP last described it (password
	// removed): WorkOS's raw_attributes and the SCIM representation.
	Attributes json.RawMessage
	// CustomAttributes is the snake_case mapping of standard fields.
	CustomAttributes json.RawMessage
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// UserEmail is one of a user's email addresses.
type UserEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary"`
}

// DirectoryGroup is a group in a directory.
type DirectoryGroup struct {
	ID             string
	DirectoryID    string
	OrganizationID string
	IdPID          string // externalId, else the Gatehouse ID
	ExternalID     string
	DisplayName    string
	Attributes     json.RawMessage // raw_attributes, members removed
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Member is a user in a group, with the names a SCIM response shows.
type Member struct {
	GroupID     string
	UserID      string
	UserName    string
	DisplayName string
}

// Cond is a storage-neutral filter over a directory's users or groups,
// built from a SCIM filter. Op is "and", "or", "not", "cmp" (Field CmpOp
// Value), "email" (Sub holds a condition on one of a user's email rows),
// "member" (Sub: one of a group's membership rows) or "group" (Sub: one of
// a user's membership rows). The store decides which columns compare
// case-insensitively.
type Cond struct {
	Op          string
	Left, Right *Cond
	Sub         *Cond
	Field       string // a column name from the UserFields/GroupFields/EmailFields/MemberFields lists
	CmpOp       string // eq ne co sw ew gt ge lt le pr
	Value       any    // string, bool or time.Time; nil for pr
}

// Field types for Cond.Field.
const (
	FieldString = "string"
	FieldBool   = "bool"
	FieldTime   = "time"
)

// UserFields are the user columns a Cond may compare, with their types.
var UserFields = map[string]string{
	"id": FieldString, "user_name": FieldString, "external_id": FieldString, "display_name": FieldString,
	"first_name": FieldString, "last_name": FieldString, "email": FieldString, "job_title": FieldString,
	"state": FieldString, "created_at": FieldTime, "updated_at": FieldTime, "active": FieldBool,
}

// GroupFields are the group columns a Cond may compare.
var GroupFields = map[string]string{
	"id": FieldString, "display_name": FieldString, "external_id": FieldString,
	"created_at": FieldTime, "updated_at": FieldTime,
}

// EmailFields are the columns of one email row.
var EmailFields = map[string]string{"value": FieldString, "type": FieldString, "primary": FieldBool}

// MemberFields are the columns of one membership row: value is the member
// (for "member") or the group (for "group").
var MemberFields = map[string]string{"value": FieldString}

// UserQuery selects a SCIM page of a directory's users.
type UserQuery struct {
	DirectoryID string
	Filter      *Cond // nil = all
	Offset      int   // 0-based, counted after After
	Count       int   // rows to return; 0 = only count
	// After, when set, starts the page after this ID (a seek on the
	// ordered key instead of skipping Offset rows); the total still counts
	// every match.
	After string
	// NoTotal skips counting the matches (the caller knows the total);
	// the total returned is then -1.
	NoTotal bool
}

// GroupQuery selects a SCIM page of a directory's groups.
type GroupQuery struct {
	DirectoryID string
	Filter      *Cond
	Offset      int
	Count       int
	After       string // as in UserQuery
	NoTotal     bool   // as in UserQuery
}

// DirectoryUserFilter narrows the WorkOS list of directory users.
type DirectoryUserFilter struct {
	DirectoryID string
	GroupID     string
	Email       string
	IdPID       string
}

// DirectoryGroupFilter narrows the WorkOS list of directory groups.
type DirectoryGroupFilter struct {
	DirectoryID string
	UserID      string
}

// SCIMRequest is one logged SCIM request, for troubleshooting.
type SCIMRequest struct {
	ID           string
	DirectoryID  string
	Method       string
	Path         string
	Status       int
	Error        string
	LatencyMicro int64
	RequestBody  string
	ResponseBody string
	CreatedAt    time.Time
}

// Directories stores directories, their tokens, users, groups, memberships
// and the SCIM request log.
type Directories interface {
	// CreateDirectory inserts d; ErrConflict if its ID is taken.
	CreateDirectory(ctx context.Context, d Directory) error
	// UpdateDirectory writes d but its organization, type, external key
	// and CreatedAt; ErrNotFound if it does not exist.
	UpdateDirectory(ctx context.Context, d Directory) error
	// DeleteDirectory deletes a directory with its tokens, users, groups,
	// memberships and request log; ErrNotFound if it does not exist.
	DeleteDirectory(ctx context.Context, id string) error
	GetDirectory(ctx context.Context, id string) (Directory, error)
	// ListDirectories returns one page, ordered by ID.
	ListDirectories(ctx context.Context, f DirectoryFilter, p Page) ([]Directory, PageInfo, error)
	// CountDirectory counts a directory's users and groups (all zero for
	// an unknown directory).
	CountDirectory(ctx context.Context, id string) (DirectoryCounts, error)
	// ActivateDirectory marks a directory linked if it is not yet, and
	// reports whether this call did it (so dsync.activated is sent once).
	// ActivatedAt is set by the first activation only.
	ActivateDirectory(ctx context.Context, id string, now time.Time) (bool, error)
	// ClaimDueDirectorySyncs returns up to limit directories whose
	// NextSyncAt has come (most overdue first) and moves it to next, so one
	// node runs each pull.
	ClaimDueDirectorySyncs(ctx context.Context, now, next time.Time, limit int) ([]Directory, error)
	// LeaseDirectorySync takes the directory's pull lease until the given
	// time, and reports false if another pull holds one that lasts past now
	// (or the directory does not exist).
	LeaseDirectorySync(ctx context.Context, id string, now, until time.Time) (bool, error)
	// ReleaseDirectorySync ends the pull lease.
	ReleaseDirectorySync(ctx context.Context, id string) error

	// CreateDirectoryToken inserts t; ErrConflict if its ID or hash is taken.
	CreateDirectoryToken(ctx context.Context, t DirectoryToken) error
	// DeleteDirectoryToken deletes and returns a directory's token;
	// ErrNotFound if the directory has no token with that ID.
	DeleteDirectoryToken(ctx context.Context, directoryID, id string) (DirectoryToken, error)
	// ListDirectoryTokens returns a directory's tokens, oldest first.
	ListDirectoryTokens(ctx context.Context, directoryID string) ([]DirectoryToken, error)
	// DirectoryByTokenHash returns a token and its directory in one read
	// (every SCIM request authenticates); ErrNotFound if none.
	DirectoryByTokenHash(ctx context.Context, hash []byte) (DirectoryToken, Directory, error)
	// TouchDirectoryToken records a token's last use; an unknown ID is ignored.
	TouchDirectoryToken(ctx context.Context, id string, now time.Time) error

	// CreateDirectoryUser inserts u; ErrConflict if its userName (case
	// insensitive) is taken in the directory.
	CreateDirectoryUser(ctx context.Context, u DirectoryUser) error
	// UpdateDirectoryUser writes u, emails included, but its organization
	// and CreatedAt; ErrNotFound if u.DirectoryID has no user u.ID,
	// ErrConflict if the new userName is taken.
	UpdateDirectoryUser(ctx context.Context, u DirectoryUser) error
	// DeleteDirectoryUser deletes a directory's user with its emails and
	// memberships; ErrNotFound if the directory has no such user.
	DeleteDirectoryUser(ctx context.Context, directoryID, id string) error
	// GetDirectoryUser reads a user of a directory; empty directoryID reads
	// any. forUpdate locks the row until the transaction ends.
	GetDirectoryUser(ctx context.Context, directoryID, id string, forUpdate bool) (DirectoryUser, error)
	// GetDirectoryUsers returns the directory's users among ids, ordered
	// by ID; the others are skipped.
	GetDirectoryUsers(ctx context.Context, directoryID string, ids []string) ([]DirectoryUser, error)
	// DirectoryUserByIdPID finds a directory's user by IdP ID; ErrNotFound
	// if none.
	DirectoryUserByIdPID(ctx context.Context, directoryID, idpID string) (DirectoryUser, error)
	// QueryDirectoryUsers returns a SCIM page (ordered by ID) and the total
	// number of matches; Count 0 returns the total only. A filter with an
	// unknown field or operator is an error.
	QueryDirectoryUsers(ctx context.Context, q UserQuery) ([]DirectoryUser, int, error)
	// ListDirectoryUsers returns one page, ordered by ID; Email matches any
	// of a user's addresses, ignoring case.
	ListDirectoryUsers(ctx context.Context, f DirectoryUserFilter, p Page) ([]DirectoryUser, PageInfo, error)
	// AllDirectoryUserIDs maps every user's IdP ID to its Gatehouse ID.
	AllDirectoryUserIDs(ctx context.Context, directoryID string) (map[string]string, error)

	// CreateDirectoryGroup inserts g; ErrConflict if its ID is taken.
	CreateDirectoryGroup(ctx context.Context, g DirectoryGroup) error
	// UpdateDirectoryGroup writes g but its organization and CreatedAt;
	// ErrNotFound if g.DirectoryID has no group g.ID.
	UpdateDirectoryGroup(ctx context.Context, g DirectoryGroup) error
	// DeleteDirectoryGroup deletes a directory's group with its
	// memberships; ErrNotFound if the directory has no such group.
	DeleteDirectoryGroup(ctx context.Context, directoryID, id string) error
	// GetDirectoryGroup reads a group as GetDirectoryUser reads a user.
	GetDirectoryGroup(ctx context.Context, directoryID, id string, forUpdate bool) (DirectoryGroup, error)
	// QueryDirectoryGroups is QueryDirectoryUsers for groups.
	QueryDirectoryGroups(ctx context.Context, q GroupQuery) ([]DirectoryGroup, int, error)
	// ListDirectoryGroups returns one page, ordered by ID.
	ListDirectoryGroups(ctx context.Context, f DirectoryGroupFilter, p Page) ([]DirectoryGroup, PageInfo, error)
	// AllDirectoryGroupIDs maps every group's IdP ID to its Gatehouse ID.
	AllDirectoryGroupIDs(ctx context.Context, directoryID string) (map[string]string, error)

	// AddMember adds a user to a group and reports whether it was new;
	// ErrNotFound if the group or the user is not in the directory.
	AddMember(ctx context.Context, directoryID, groupID, userID string, now time.Time) (bool, error)
	// AddMembers adds users to a group in one statement and returns the
	// IDs of those that were not members yet, in no particular order;
	// users (or a group) not in the directory are skipped.
	AddMembers(ctx context.Context, directoryID, groupID string, userIDs []string, now time.Time) ([]string, error)
	// RemoveMember reports whether the membership existed.
	RemoveMember(ctx context.Context, groupID, userID string) (bool, error)
	// GroupMembers returns the members of the groups, by group ID and
	// within a group in join order.
	GroupMembers(ctx context.Context, groupIDs []string) ([]Member, error)
	// UserGroups maps each user to its groups, ordered by ID; users in no
	// group are left out.
	UserGroups(ctx context.Context, userIDs []string) (map[string][]DirectoryGroup, error)

	// AppendSCIMRequests stores log entries; ErrConflict if an ID is taken
	// (and then none is stored).
	AppendSCIMRequests(ctx context.Context, rs []SCIMRequest) error
	// ListSCIMRequests returns one page of a directory's log, ordered by ID.
	ListSCIMRequests(ctx context.Context, directoryID string, p Page) ([]SCIMRequest, PageInfo, error)
	// DeleteSCIMRequestsBefore drops entries created before t, in every
	// directory.
	DeleteSCIMRequestsBefore(ctx context.Context, t time.Time) error
}
