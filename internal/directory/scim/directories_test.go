package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/workos/workos-go/v6/pkg/directorysync"
	workos "github.com/workos/workos-go/v7"
)

// TestDirectoriesAPI covers the management side: validation, the WorkOS
// list filters through both SDKs, and deletion.
func TestDirectoriesAPI(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			var other struct{ ID string }
			e.api("POST", "/organizations", map[string]any{"name": "Globex"}, 201, &other)

			for _, c := range []struct {
				name string
				body map[string]any
				want int
			}{
				{"unknown type", map[string]any{"organization_id": e.org, "type": "ldap"}, 422},
				{"missing organization", map[string]any{"type": "okta scim v2.0"}, 422},
				{"unknown organization", map[string]any{"organization_id": "org_01HZZZZZZZZZZZZZZZZZZZZZZZ", "type": "okta scim v2.0"}, 404},
				{"google without key", map[string]any{"organization_id": e.org, "type": "gsuite directory", "google": map[string]any{"admin_email": "a@b.c"}}, 422},
				{"google settings on SCIM", map[string]any{"organization_id": e.org, "type": "okta scim v2.0", "google": map[string]any{"admin_email": "a@b.c"}}, 422},
			} {
				t.Run(c.name, func(t *testing.T) { e.api("POST", "/directories", c.body, c.want, nil) })
			}

			a := e.newDirectory("okta scim v2.0")
			var b struct{ ID string }
			e.api("POST", "/directories", map[string]any{"organization_id": other.ID, "type": "azure scim v2.0", "name": "Globex Entra", "domain": "globex.test"}, 201, &b)

			it := v7(e).DirectorySync().List(ctx, &workos.DirectorySyncListParams{OrganizationID: &e.org})
			var ids []string
			for it.Next() {
				ids = append(ids, it.Current().ID)
			}
			if it.Err() != nil || len(ids) != 1 || ids[0] != a.ID {
				t.Fatalf("v7 List by organization: %v %v", ids, it.Err())
			}
			search := "globex"
			it = v7(e).DirectorySync().List(ctx, &workos.DirectorySyncListParams{Search: &search})
			if !it.Next() || it.Current().ID != b.ID || it.Next() {
				t.Fatalf("v7 List by search: %v", it.Err())
			}
			var byDomain struct{ Data []struct{ ID string } }
			e.api("GET", "/directories?domain=GLOBEX.test", nil, 200, &byDomain)
			if len(byDomain.Data) != 1 || byDomain.Data[0].ID != b.ID {
				t.Fatalf("list by domain: %+v", byDomain)
			}
			l6, err := v6(e).ListDirectories(ctx, directorysync.ListDirectoriesOpts{OrganizationID: other.ID, Limit: 10})
			if err != nil || len(l6.Data) != 1 || l6.Data[0].ID != b.ID || l6.Data[0].Type != "azure scim v2.0" {
				t.Fatalf("v6 ListDirectories by organization: %+v %v", l6, err)
			}

			// A token of another directory is useless here, even for the
			// management API; the SCIM token never works as an API key.
			req, _ := http.NewRequest("GET", e.srv.URL+"/directories", nil)
			req.Header.Set("Authorization", "Bearer "+a.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 401 {
				t.Fatalf("SCIM token on the management API: %v %v", res.StatusCode, err)
			}
			res.Body.Close()

			if err := v7(e).DirectorySync().Delete(ctx, b.ID); err != nil {
				t.Fatalf("v7 Delete: %v", err)
			}
			if _, err := v7(e).DirectorySync().Get(ctx, b.ID); err == nil {
				t.Fatal("deleted directory still readable")
			}
			if ev := e.lastEvent("dsync.deleted"); dig(ev, "data.id") != b.ID {
				t.Fatalf("dsync.deleted: %v", ev)
			}
		})
	}
}

// TestVersions: ETag and If-Match (412 on a stale version), and a group
// PATCH that asks for attributes gets the group back.
func TestVersions(t *testing.T) {
	e := newEnv(t, "sqlite")
	d := e.newDirectory("generic scim v2.0")
	r := d.must(d.scim("POST", "/Users", oktaUser("v@q.test", "V", "Q")), 201, "create")
	uid, ver := r.str("id"), r.str("meta.version")
	send := func(ifMatch string) int {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"changed"}]}`
		req, _ := http.NewRequest("PATCH", d.Base+"/Users/"+uid, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+d.Token)
		req.Header.Set("If-Match", ifMatch)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(`W/"1"`); got != 412 {
		t.Fatalf("stale If-Match: %d, want 412", got)
	}
	if got := send(ver); got != 200 {
		t.Fatalf("current If-Match: %d, want 200", got)
	}
	gid := d.must(d.scim("POST", "/Groups", map[string]any{"displayName": "V"}), 201, "group").str("id")
	r = d.must(d.scim("PATCH", "/Groups/"+gid+"?attributes=displayName", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "W"})), 200, "patch with attributes")
	if r.str("displayName") != "W" || r.Body["members"] != nil {
		t.Fatalf("group PATCH with attributes: %s", r.Raw)
	}
}
