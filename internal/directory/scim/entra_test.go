package scim_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/workos/workos-go/v6/pkg/directorysync"
	workos "github.com/workos/workos-go/v7"
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func entraUser(userName, ext string) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", enterprise},
		"externalId": ext,
		"userName":   userName,
		"active":     true,
		"emails":     []any{map[string]any{"primary": true, "type": "work", "value": userName}},
		"meta":       map[string]any{"resourceType": "User"},
		"name":       map[string]any{"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
		"roles":      []any{},
		enterprise:   map[string]any{"employeeNumber": "E1", "department": "R&D", "manager": map[string]any{"value": "mgr-1"}},
	}
}

// TestEntraSequence replays Microsoft Entra ID's provisioning requests,
// including its default non-compliant forms, and checks SCIM answers and
// what the WorkOS SDKs read.
func TestEntraSequence(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			d := e.newDirectory("azure scim v2.0")
			ctx := context.Background()

			q := "/Users?filter=" + url.QueryEscape(`userName eq "Test_User_1@contoso.com"`)
			r := d.must(d.scim("GET", q, nil), 200, "query")
			if r.Body["totalResults"] != float64(0) {
				t.Fatalf("query before create: %s", r.Raw)
			}
			r = d.must(d.scimWith(d.Token, "application/json", "POST", "/Users", entraUser("Test_User_1@contoso.com", "ext-1")), 201, "create")
			uid := r.str("id")
			if r.Body[enterprise].(map[string]any)["employeeNumber"] != "E1" {
				t.Fatalf("enterprise extension: %s", r.Raw)
			}
			r = d.must(d.scim("GET", q, nil), 200, "query")
			if r.Body["totalResults"] != float64(1) {
				t.Fatalf("query after create: %s", r.Raw)
			}
			// Entra's emails[type eq "work"].value filter form, and externalId.
			for _, f := range []string{`emails[type eq "work"].value eq "test_user_1@contoso.com"`, `externalId eq "ext-1"`,
				`emails[type eq "work" and value eq "Test_User_1@contoso.com"]`} {
				r = d.must(d.scim("GET", "/Users?filter="+url.QueryEscape(f), nil), 200, f)
				if r.Body["totalResults"] != float64(1) {
					t.Fatalf("filter %s: %s", f, r.Raw)
				}
			}

			// Updates: capitalised ops, value paths, "False" as a string.
			d.must(d.scim("PATCH", "/Users/"+uid, patchOp(
				map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "new@contoso.com"},
				map[string]any{"op": "Replace", "path": "name.familyName", "value": "Smith"},
				map[string]any{"op": "Add", "path": "nickName", "value": "Babs"},
			)), 200, "update")
			u, err := v7(e).DirectorySync().GetUser(ctx, uid)
			if err != nil || *u.Email != "new@contoso.com" || *u.LastName != "Smith" || u.RawAttributes["nickName"] != "Babs" {
				t.Fatalf("v7 after update: %+v %v", u, err)
			}
			if u.CustomAttributes["employee_number"] != "E1" || u.CustomAttributes["manager_id"] != "mgr-1" || u.CustomAttributes["department"] != "R&D" {
				t.Fatalf("custom attributes: %v", u.CustomAttributes)
			}
			// Flag-on path-less replace with dotted and URN keys.
			r = d.must(d.scim("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "replace", "value": map[string]any{
				"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua", enterprise + ":employeeNumber": "Aklq",
			}})), 200, "path-less")
			if r.str("name.givenName") != "Kkom" || r.Body[enterprise].(map[string]any)["employeeNumber"] != "Aklq" || r.str("displayName") != "Bjfe" {
				t.Fatalf("path-less replace: %s", r.Raw)
			}
			if _, bad := r.Body["name.givenName"]; bad {
				t.Fatalf("dotted key stored verbatim: %s", r.Raw)
			}
			r = d.must(d.scim("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "Replace", "path": "active", "value": "False"})), 200, "disable")
			if r.Body["active"] != false {
				t.Fatalf("disable: %s", r.Raw)
			}
			ev := e.lastEvent("dsync.user.updated")
			if dig(ev, "data.state") != "inactive" || dig(ev, "data.previous_attributes.state") != "active" {
				t.Fatalf("deactivation event: %v", ev)
			}
			d.must(d.scim("PATCH", "/Users/"+uid, patchOp(map[string]any{"op": "replace", "path": "active", "value": true})), 200, "enable")

			// Groups: created empty, read without members, members added and
			// removed in both of Entra's forms; PATCH answers 204.
			r = d.must(d.scim("POST", "/Groups", map[string]any{
				"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
				"externalId":  "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
				"displayName": "Group1DisplayName",
			}), 201, "create group")
			gid := r.str("id")
			r = d.must(d.scim("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Group1DisplayName"`), nil), 200, "group query")
			if r.Body["totalResults"] != float64(1) || dig(r.Body, "Resources.0.members") != nil {
				t.Fatalf("group query: %s", r.Raw)
			}
			r2 := d.must(d.scim("POST", "/Users", entraUser("Second@contoso.com", "ext-2")), 201, "second user")
			uid2 := r2.str("id")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{
				map[string]any{"$ref": nil, "value": uid}, map[string]any{"$ref": nil, "value": uid2},
			}})), 204, "add members")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": uid2}}})), 204, "remove (default)")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": uid2}}})), 204, "re-add")
			d.must(d.scim("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "remove", "path": `members[value eq "` + uid2 + `"]`})), 204, "remove (flag)")
			r = d.must(d.scim("GET", "/Groups?filter="+url.QueryEscape(`members[value eq "`+uid+`"]`), nil), 200, "by member")
			if r.Body["totalResults"] != float64(1) {
				t.Fatalf("group by member: %s", r.Raw)
			}
			r = d.must(d.scim("GET", "/Users/"+uid, nil), 200, "user with groups")
			if r.str("groups.0.value") != gid {
				t.Fatalf("user groups: %s", r.Raw)
			}
			g6, err := v6(e).ListGroups(ctx, directorysync.ListGroupsOpts{Directory: d.ID, Limit: 10})
			if err != nil || len(g6.Data) != 1 || g6.Data[0].IdpID != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
				t.Fatalf("v6 ListGroups: %+v %v", g6, err)
			}

			// Hard delete: the user and its memberships go.
			d.must(d.scim("DELETE", "/Users/"+uid, nil), 204, "delete")
			d.must(d.scim("GET", "/Users/"+uid, nil), 404, "deleted")
			if _, err := v7(e).DirectorySync().GetUser(ctx, uid); err == nil {
				t.Fatal("v7 GetUser of a deleted user succeeded")
			}
			it := v7(e).DirectorySync().ListUsers(ctx, &workos.DirectorySyncListUsersParams{Group: &gid})
			if it.Next() || it.Err() != nil {
				t.Fatalf("group still has members after delete (err %v)", it.Err())
			}
			ev = e.lastEvent("dsync.user.deleted")
			if dig(ev, "data.id") != uid {
				t.Fatalf("dsync.user.deleted: %v", ev)
			}
			names := e.eventNames()
			if count(names, "dsync.group.user_removed") != 3 || count(names, "dsync.group.user_added") != 3 {
				t.Fatalf("membership events: %v", names)
			}
			if !strings.Contains(strings.Join(names, ","), "dsync.group.user_removed,dsync.user.deleted") {
				t.Fatalf("delete should remove memberships then the user: %v", names)
			}
		})
	}
}
