package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/workos/workos-go/v6/pkg/directorysync"
	workos "github.com/workos/workos-go/v7"
)

func oktaUser(userName, given, family string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": given + " " + family,
		"locale":      "en-US",
		"externalId":  "00u" + strings.Split(userName, "@")[0],
		"groups":      []any{},
		"password":    "1mz050nq",
		"active":      true,
	}
}

func patchOp(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func v7(e *env) *workos.Client {
	return workos.NewClient(apptest.APIKey, workos.WithBaseURL(e.srv.URL), workos.WithMaxRetries(0))
}

func v6(e *env) *directorysync.Client {
	return &directorysync.Client{APIKey: apptest.APIKey, Endpoint: e.srv.URL}
}

// TestOktaSequence replays what Okta sends over a user's and a group's life
// and checks the SCIM answers and what both WorkOS SDKs then read.
func TestOktaSequence(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			d := e.newDirectory("okta scim v2.0")
			ctx := context.Background()

			// Exists check: nothing yet, an empty ListResponse.
			r := d.must(d.scim("GET", `/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100`, nil), 200, "exists check")
			if r.Body["totalResults"] != float64(0) || len(r.Body["Resources"].([]any)) != 0 {
				t.Fatalf("exists check: %s", r.Raw)
			}

			// Create, with a password that is never stored or echoed.
			r = d.must(d.scim("POST", "/Users", oktaUser("test.user@okta.local", "Test", "User")), 201, "create")
			uid := r.str("id")
			if strings.Contains(r.Raw, "1mz050nq") || strings.Contains(r.Raw, "password") {
				t.Fatalf("password echoed: %s", r.Raw)
			}
			if r.Body["active"] != true || r.str("meta.resourceType") != "User" || !strings.HasPrefix(uid, "directory_user_") {
				t.Fatalf("create: %s", r.Raw)
			}
			// A duplicate is a 409 uniqueness, whatever the case of userName.
			dup := d.must(d.scim("POST", "/Users", oktaUser("TEST.user@okta.local", "Test", "User")), 409, "duplicate")
			if dup.str("scimType") != "uniqueness" || dup.str("status") != "409" {
				t.Fatalf("duplicate: %s", dup.Raw)
			}
			r = d.must(d.scim("GET", `/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100`, nil), 200, "exists check 2")
			if r.Body["totalResults"] != float64(1) || r.str("Resources.0.id") != uid {
				t.Fatalf("exists check after create: %s", r.Raw)
			}

			// Import paging: integer counts, stable order.
			for i := range 4 {
				d.must(d.scim("POST", "/Users", oktaUser(fmt.Sprintf("u%d@okta.local", i), "U", fmt.Sprint(i))), 201, "create more")
			}
			seen := map[string]bool{}
			for start := 1; start <= 5; start += 2 {
				r = d.must(d.scim("GET", fmt.Sprintf("/Users?startIndex=%d&count=2", start), nil), 200, "import page")
				if r.Body["totalResults"] != float64(5) || r.Body["startIndex"] != float64(start) {
					t.Fatalf("page %d: %s", start, r.Raw)
				}
				for _, u := range r.Body["Resources"].([]any) {
					seen[u.(map[string]any)["id"].(string)] = true
				}
			}
			if len(seen) != 5 {
				t.Fatalf("paging saw %d distinct users, want 5", len(seen))
			}

			// Profile update: GET then PUT of the full object.
			r = d.must(d.scim("GET", "/Users/"+uid, nil), 200, "get")
			full := r.Body
			full["name"] = map[string]any{"givenName": "Tess", "familyName": "User"}
			full["title"] = "Engineer"
			d.must(d.scim("PUT", "/Users/"+uid, full), 200, "put")
			ev := e.lastEvent("dsync.user.updated")
			prev, _ := dig(ev, "data.previous_attributes").(map[string]any)
			if prev["first_name"] != "Test" {
				t.Fatalf("previous_attributes: %v", ev["data"])
			}

			// Deactivate: path-less replace; the user stays, inactive.
			r = d.must(d.scim("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": false}})), 200, "deactivate")
			if r.Body["active"] != false {
				t.Fatalf("deactivate: %s", r.Raw)
			}
			u, err := v7(e).DirectorySync().GetUser(ctx, uid)
			if err != nil || u.State != "inactive" || *u.FirstName != "Tess" || *u.JobTitle != "Engineer" {
				t.Fatalf("v7 GetUser after deactivate: %+v %v", u, err)
			}
			if u.CustomAttributes["title"] != "Engineer" || u.RawAttributes["userName"] != "test.user@okta.local" {
				t.Fatalf("v7 attributes: %v %v", u.CustomAttributes, u.RawAttributes)
			}
			// Reactivate.
			d.must(d.scim("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": true}})), 200, "reactivate")
			u6, err := v6(e).GetUser(ctx, directorysync.GetUserOpts{User: uid})
			if err != nil || u6.State != directorysync.Active || u6.Email != "test.user@okta.local" || u6.Emails[0].Type != "work" {
				t.Fatalf("v6 GetUser after reactivate: %+v %v", u6, err)
			}

			// Group create, rename with its own id inside the value, membership.
			r = d.must(d.scim("POST", "/Groups", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineering", "members": []any{},
			}), 201, "create group")
			gid := r.str("id")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Eng"}})), 204, "rename")
			others := map[string]string{}
			for i := range 3 {
				r := d.must(d.scim("GET", fmt.Sprintf(`/Users?filter=userName+eq+"u%d@okta.local"`, i), nil), 200, "find")
				others[fmt.Sprint(i)] = r.str("Resources.0.id")
			}
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(
				map[string]any{"op": "remove", "path": `members[value eq "` + others["0"] + `"]`},
				map[string]any{"op": "add", "path": "members", "value": []any{
					map[string]any{"value": uid, "display": "test.user@okta.local"},
					map[string]any{"value": others["0"], "display": "u0@okta.local"},
				}},
			)), 204, "add members")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(
				map[string]any{"op": "remove", "path": `members[value eq "` + others["0"] + `"]`},
			)), 204, "remove member")
			r = d.must(d.scim("GET", "/Groups/"+gid, nil), 200, "get group")
			if r.str("displayName") != "Eng" || len(r.Body["members"].([]any)) != 1 || r.str("members.0.value") != uid {
				t.Fatalf("group after membership changes: %s", r.Raw)
			}
			// Full replace of the member list.
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "replace", "path": "members", "value": []any{
				map[string]any{"value": others["1"]}, map[string]any{"value": others["2"]},
			}})), 204, "replace members")

			groups := v7(e).DirectorySync().ListGroups(ctx, &workos.DirectorySyncListGroupsParams{Directory: &d.ID})
			var names []string
			for groups.Next() {
				names = append(names, groups.Current().Name)
			}
			if groups.Err() != nil || len(names) != 1 || names[0] != "Eng" {
				t.Fatalf("v7 ListGroups: %v %v", names, groups.Err())
			}
			members := v7(e).DirectorySync().ListUsers(ctx, &workos.DirectorySyncListUsersParams{Group: &gid})
			var got []string
			for members.Next() {
				c := members.Current()
				got = append(got, c.ID)
				if len(c.Groups) != 1 || c.Groups[0].ID != gid {
					t.Fatalf("embedded groups: %+v", c.Groups)
				}
			}
			if members.Err() != nil || len(got) != 2 {
				t.Fatalf("v7 ListUsers by group: %v %v", got, members.Err())
			}
			l6, err := v6(e).ListUsers(ctx, directorysync.ListUsersOpts{Directory: d.ID, Limit: 100})
			if err != nil || len(l6.Data) != 5 {
				t.Fatalf("v6 ListUsers: %d %v", len(l6.Data), err)
			}
			g6, err := v6(e).ListGroups(ctx, directorysync.ListGroupsOpts{User: others["1"], Limit: 10})
			if err != nil || len(g6.Data) != 1 || g6.Data[0].Name != "Eng" {
				t.Fatalf("v6 ListGroups by user: %+v %v", g6, err)
			}

			// Delete the group.
			d.must(d.scim("DELETE", "/Groups/"+gid, nil), 204, "delete group")
			d.must(d.scim("GET", "/Groups/"+gid, nil), 404, "deleted group")

			names = e.eventNames()
			for name, want := range map[string]int{
				"dsync.activated": 1, "dsync.token.created": 1, "dsync.user.created": 5, "dsync.group.created": 1,
				"dsync.group.updated": 1, "dsync.group.user_added": 4, "dsync.group.user_removed": 2, "dsync.group.deleted": 1,
			} {
				if got := count(names, name); got != want {
					t.Errorf("%s events: %d, want %d (all: %v)", name, got, want, names)
				}
			}
			if got := count(names, "dsync.user.updated"); got != 3 {
				t.Errorf("dsync.user.updated events: %d, want 3", got)
			}

			// Okta never deletes; the directory is linked and counts match.
			dir, err := v7(e).DirectorySync().Get(ctx, d.ID)
			if err != nil || dir.State != "linked" || dir.Metadata == nil || dir.Metadata.Users.Active != 5 {
				b, _ := json.Marshal(dir)
				t.Fatalf("v7 Get directory: %s %v", b, err)
			}
		})
	}
}
