package directory

import (
	"encoding/json"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"reflect"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DirectoryJSON is WorkOS's Directory object plus Gatehouse's scim and
// google sections.
type DirectoryJSON struct {
	Object         string          `json:"object"`
	ID             string          `json:"id"`
	OrganizationID string          `json:"organization_id"`
	ExternalKey    string          `json:"external_key"`
	Type           string          `json:"type"`
	State          string          `json:"state"`
	Name           string          `json:"name"`
	Domain         *string         `json:"domain"`
	Metadata       *MetadataJSON   `json:"metadata,omitempty"`
	SCIM           *SCIMInfoJSON   `json:"scim,omitempty"`
	Google         *GoogleInfoJSON `json:"google,omitempty"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
}

// MetadataJSON is a directory's user and group counts.
type MetadataJSON struct {
	Users struct {
		Active   int `json:"active"`
		Inactive int `json:"inactive"`
	} `json:"users"`
	Groups int `json:"groups"`
}

// SCIMInfoJSON tells the IT admin where to point the IdP.
type SCIMInfoJSON struct {
	BaseURL string `json:"base_url"`
}

// GoogleInfoJSON shows a Google Workspace directory's settings (never the key).
type GoogleInfoJSON struct {
	AdminEmail    string  `json:"admin_email"`
	CustomerID    string  `json:"customer_id"`
	LastSyncAt    *string `json:"last_sync_at"`
	LastSyncError *string `json:"last_sync_error"`
	NextSyncAt    *string `json:"next_sync_at"`
}

// directoryEventJSON is the directory in dsync.activated/deleted payloads,
// whose state enum differs from the resource's (see reference §6).
type directoryEventJSON struct {
	Object         string   `json:"object"`
	ID             string   `json:"id"`
	OrganizationID string   `json:"organization_id"`
	Type           string   `json:"type"`
	State          string   `json:"state"`
	Name           string   `json:"name"`
	ExternalKey    string   `json:"external_key"`
	Domains        []string `json:"domains,omitempty"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
}

// TokenJSON is a SCIM bearer token; Token is set only when it is created.
type TokenJSON struct {
	Object      string  `json:"object"`
	ID          string  `json:"id"`
	DirectoryID string  `json:"directory_id"`
	Name        string  `json:"name"`
	Token       string  `json:"token,omitempty"`
	TokenSuffix string  `json:"token_suffix"`
	CreatedAt   string  `json:"created_at"`
	LastUsedAt  *string `json:"last_used_at"`
}

// tokenEventJSON is dsync.token.created/revoked's payload.
type tokenEventJSON struct {
	Object         string `json:"object"`
	ID             string `json:"id"`
	DirectoryID    string `json:"directory_id"`
	OrganizationID string `json:"organization_id"`
	TokenSuffix    string `json:"token_suffix"`
	CreatedAt      string `json:"created_at"`
}

// EmailJSON is one of a directory user's emails.
type EmailJSON struct {
	Primary bool   `json:"primary"`
	Type    string `json:"type,omitempty"`
	Value   string `json:"value"`
}

// UserJSON is WorkOS's DirectoryUser.
type UserJSON struct {
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	DirectoryID      string          `json:"directory_id"`
	OrganizationID   string          `json:"organization_id"`
	IdPID            string          `json:"idp_id"`
	Email            *string         `json:"email"`
	FirstName        *string         `json:"first_name"`
	LastName         *string         `json:"last_name"`
	Name             *string         `json:"name"`
	Emails           []EmailJSON     `json:"emails"`
	JobTitle         *string         `json:"job_title"`
	Username         string          `json:"username"`
	State            string          `json:"state"`
	RawAttributes    json.RawMessage `json:"raw_attributes"`
	CustomAttributes json.RawMessage `json:"custom_attributes"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
}

// UserWithGroupsJSON is WorkOS's DirectoryUserWithGroups.
type UserWithGroupsJSON struct {
	UserJSON
	Groups []GroupJSON `json:"groups"`
}

// GroupJSON is WorkOS's DirectoryGroup.
type GroupJSON struct {
	Object         string          `json:"object"`
	ID             string          `json:"id"`
	IdPID          string          `json:"idp_id"`
	DirectoryID    string          `json:"directory_id"`
	OrganizationID string          `json:"organization_id"`
	Name           string          `json:"name"`
	RawAttributes  json.RawMessage `json:"raw_attributes"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
}

// UserToJSON renders a directory user.
func UserToJSON(u store.DirectoryUser) UserJSON {
	out := UserJSON{
		Object: "directory_user", ID: u.ID, DirectoryID: u.DirectoryID, OrganizationID: u.OrganizationID, IdPID: u.IdPID,
		Email: wire.StrPtr(u.Email), FirstName: wire.StrPtr(u.FirstName), LastName: wire.StrPtr(u.LastName),
		Name: wire.StrPtr(u.DisplayName), JobTitle: wire.StrPtr(u.JobTitle), Username: u.UserName, State: u.State,
		Emails: make([]EmailJSON, 0, len(u.Emails)), RawAttributes: orEmpty(u.Attributes), CustomAttributes: orEmpty(u.CustomAttributes),
		CreatedAt: wire.Time(u.CreatedAt), UpdatedAt: wire.Time(u.UpdatedAt),
	}
	for _, e := range u.Emails {
		out.Emails = append(out.Emails, EmailJSON{Primary: e.Primary, Type: e.Type, Value: e.Value})
	}
	return out
}

// UserWithGroupsToJSON renders a user and its groups.
func UserWithGroupsToJSON(u store.DirectoryUser, gs []store.DirectoryGroup) UserWithGroupsJSON {
	out := UserWithGroupsJSON{UserJSON: UserToJSON(u), Groups: make([]GroupJSON, 0, len(gs))}
	for _, g := range gs {
		out.Groups = append(out.Groups, GroupToJSON(g))
	}
	return out
}

// GroupToJSON renders a directory group.
func GroupToJSON(g store.DirectoryGroup) GroupJSON {
	return GroupJSON{
		Object: "directory_group", ID: g.ID, IdPID: g.IdPID, DirectoryID: g.DirectoryID, OrganizationID: g.OrganizationID,
		Name: g.DisplayName, RawAttributes: orEmpty(g.Attributes), CreatedAt: wire.Time(g.CreatedAt), UpdatedAt: wire.Time(g.UpdatedAt),
	}
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// previousAttributes returns, for each top-level field of the rendered
// objects that changed, its old value; raw_attributes and
// custom_attributes are compared key by key, as WorkOS reports them.
func previousAttributes(before, after any) map[string]any {
	var b, a map[string]any
	bb, _ := json.Marshal(before)
	ab, _ := json.Marshal(after)
	json.Unmarshal(bb, &b)
	json.Unmarshal(ab, &a)
	out := map[string]any{}
	for k, old := range b {
		if k == "updated_at" {
			continue
		}
		nw := a[k]
		if reflect.DeepEqual(old, nw) {
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := nw.(map[string]any)
		if ok1 && ok2 {
			sub := map[string]any{}
			for sk, sv := range om {
				if !reflect.DeepEqual(sv, nm[sk]) {
					sub[sk] = sv
				}
			}
			for sk := range nm {
				if _, had := om[sk]; !had {
					sub[sk] = nil
				}
			}
			out[k] = sub
			continue
		}
		out[k] = old
	}
	return out
}
