package scim_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestIsolation: a directory's token opens only that directory, and its
// resources do not exist under another directory's URL.
func TestIsolation(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			a, b := e.newDirectory("okta scim v2.0"), e.newDirectory("okta scim v2.0")
			ua := a.must(a.scim("POST", "/Users", oktaUser("alice@a.test", "Alice", "A")), 201, "create in A").str("id")
			ga := a.must(a.scim("POST", "/Groups", map[string]any{"displayName": "A team"}), 201, "group in A").str("id")
			b.must(b.scim("POST", "/Users", oktaUser("bob@b.test", "Bob", "B")), 201, "create in B")

			cases := []struct {
				name   string
				token  string
				method string
				path   string
				body   any
				want   int
			}{
				{"A's token on B's users", a.Token, "GET", "/Users", nil, 401},
				{"A's token creates in B", a.Token, "POST", "/Users", oktaUser("mallory@b.test", "M", "M"), 401},
				{"no token", "", "GET", "/Users", nil, 401},
				{"unknown token", "scim_nope", "GET", "/Users", nil, 401},
				{"A's user under B", b.Token, "GET", "/Users/" + ua, nil, 404},
				{"patch A's user under B", b.Token, "PATCH", "/Users/" + ua, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": false}}), 404},
				{"put A's user under B", b.Token, "PUT", "/Users/" + ua, oktaUser("alice@a.test", "A", "A"), 404},
				{"delete A's user under B", b.Token, "DELETE", "/Users/" + ua, nil, 404},
				{"A's group under B", b.Token, "GET", "/Groups/" + ga, nil, 404},
				{"delete A's group under B", b.Token, "DELETE", "/Groups/" + ga, nil, 404},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := b.scimWith(c.token, "application/scim+json", c.method, c.path, c.body)
					if r.Status != c.want || r.str("scimType") == "" {
						t.Fatalf("status %d, want %d with a scimType: %s", r.Status, c.want, r.Raw)
					}
				})
			}
			// B's member list cannot take A's users either.
			gb := b.must(b.scim("POST", "/Groups", map[string]any{"displayName": "B team"}), 201, "group in B").str("id")
			b.must(b.scim("PATCH", "/Groups/"+gb, patchOp(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ua}}})), 400, "A's user into B's group")
			// B's listing shows only B.
			r := b.must(b.scim("GET", "/Users", nil), 200, "list B")
			if r.Body["totalResults"] != float64(1) {
				t.Fatalf("B sees %v users", r.Body["totalResults"])
			}
			// And A's user is untouched.
			if a.must(a.scim("GET", "/Users/"+ua, nil), 200, "A's user").Body["active"] != true {
				t.Fatal("A's user changed")
			}
		})
	}
}

// TestConcurrency: parallel PATCHes adding members to one group lose none,
// and parallel creates of one userName give exactly one 201.
func TestConcurrency(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			d := e.newDirectory("azure scim v2.0")
			const n = 24
			ids := make([]string, n)
			for i := range n {
				ids[i] = d.must(d.scim("POST", "/Users", entraUser(fmt.Sprintf("user%d@c.test", i), fmt.Sprint(i))), 201, "create").str("id")
			}
			gid := d.must(d.scim("POST", "/Groups", map[string]any{"displayName": "All"}), 201, "group").str("id")
			var wg sync.WaitGroup
			statuses := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = d.scim("PATCH", "/Groups/"+gid, patchOp(
						map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": ids[i]}}},
						map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "All"}},
					)).Status
				}()
			}
			wg.Wait()
			for i, s := range statuses {
				if s != 204 {
					t.Fatalf("PATCH %d: status %d", i, s)
				}
			}
			r := d.must(d.scim("GET", "/Groups/"+gid, nil), 200, "group")
			if got := len(r.Body["members"].([]any)); got != n {
				t.Fatalf("group has %d members, want %d", got, n)
			}
			if got := count(e.eventNames(), "dsync.group.user_added"); got != n {
				t.Fatalf("%d user_added events, want %d", got, n)
			}

			created := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					created[i] = d.scim("POST", "/Users", entraUser("same@c.test", fmt.Sprint("x", i))).Status
				}()
			}
			wg.Wait()
			ok, conflict := 0, 0
			for _, s := range created {
				switch s {
				case 201:
					ok++
				case 409:
					conflict++
				}
			}
			if ok != 1 || conflict != n-1 {
				t.Fatalf("parallel creates: %d created, %d conflicts (statuses %v)", ok, conflict, created)
			}
		})
	}
}

// TestBadInput: malformed requests get the right SCIM 4xx, never a 500.
func TestBadInput(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			d := e.newDirectory("generic scim v2.0")
			uid := d.must(d.scim("POST", "/Users", oktaUser("x@y.test", "X", "Y")), 201, "create").str("id")
			gid := d.must(d.scim("POST", "/Groups", map[string]any{"displayName": "G"}), 201, "group").str("id")
			huge := `{"userName":"big@y.test","displayName":"` + strings.Repeat("a", 2<<20) + `"}`
			cases := []struct {
				name     string
				method   string
				path     string
				body     any
				status   int
				scimType string
			}{
				{"malformed JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
				{"not an object", "POST", "/Users", `[1,2]`, 400, "invalidSyntax"},
				{"trailing data", "POST", "/Users", `{"userName":"a@b.c"} {}`, 400, "invalidSyntax"},
				{"empty body", "POST", "/Users", ``, 400, "invalidSyntax"},
				{"missing userName", "POST", "/Users", map[string]any{"displayName": "x"}, 400, "invalidValue"},
				{"userName not a string", "POST", "/Users", map[string]any{"userName": 7}, 400, "invalidValue"},
				{"active not a boolean", "POST", "/Users", map[string]any{"userName": "b@y.test", "active": "maybe"}, 400, "invalidValue"},
				{"emails not a list", "POST", "/Users", map[string]any{"userName": "b@y.test", "emails": "a@b.c"}, 400, "invalidValue"},
				{"name not an object", "POST", "/Users", map[string]any{"userName": "b@y.test", "name": "Bob"}, 400, "invalidValue"},
				{"group without displayName", "POST", "/Groups", map[string]any{"members": []any{}}, 400, "invalidValue"},
				{"member without value", "POST", "/Groups", map[string]any{"displayName": "x", "members": []any{map[string]any{"display": "x"}}}, 400, "invalidValue"},
				{"unknown member", "POST", "/Groups", map[string]any{"displayName": "x", "members": []any{map[string]any{"value": "directory_user_nope"}}}, 400, "invalidValue"},
				{"huge body", "POST", "/Users", huge, 413, "tooMany"},
				{"invalid filter", "GET", "/Users?filter=" + url.QueryEscape(`userName eq`), nil, 400, "invalidFilter"},
				{"unknown filter attribute", "GET", "/Users?filter=" + url.QueryEscape(`shoeSize eq "9"`), nil, 400, "invalidFilter"},
				{"filter type mismatch", "GET", "/Users?filter=" + url.QueryEscape(`userName eq 7`), nil, 400, "invalidFilter"},
				{"bad date", "GET", "/Users?filter=" + url.QueryEscape(`meta.lastModified gt "yesterday"`), nil, 400, "invalidFilter"},
				{"bad startIndex", "GET", "/Users?startIndex=one", nil, 400, "invalidValue"},
				{"unknown endpoint", "GET", "/Widgets", nil, 404, "noTarget"},
				{"unknown user", "GET", "/Users/directory_user_nope", nil, 404, "noTarget"},
				{"method not allowed", "DELETE", "/Users", nil, 405, "invalidSyntax"},
				{"patch without schemas", "PATCH", "/Users/" + uid, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}, 400, "invalidSyntax"},
				{"patch without operations", "PATCH", "/Users/" + uid, patchOp(), 400, "invalidSyntax"},
				{"patch unknown op", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "frobnicate", "path": "active", "value": false}), 400, "invalidSyntax"},
				{"patch remove without path", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "remove"}), 400, "noTarget"},
				{"patch unknown path", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "shoeSize", "value": "9"}), 400, "invalidPath"},
				{"patch malformed path", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "emails[type eq", "value": "9"}), 400, "invalidPath"},
				{"patch read-only", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "id", "value": "x"}), 400, "mutability"},
				{"patch wrong type", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "active", "value": "sometimes"}), 400, "invalidValue"},
				{"patch empty userName", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": "userName", "value": ""}), 400, "invalidValue"},
				{"patch path-less non-object", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "value": "x"}), 400, "invalidValue"},
				{"patch members by complex filter", "PATCH", "/Groups/" + gid, patchOp(map[string]any{"op": "remove", "path": `members[display co "x"]`}), 400, "invalidFilter"},
				{"patch replace unmatched value path", "PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "path": `emails[type eq "home"].value`, "value": "h@y.test"}), 400, "noTarget"},
				{"patch unknown user", "PATCH", "/Users/directory_user_nope", patchOp(map[string]any{"op": "replace", "path": "active", "value": false}), 404, "noTarget"},
				{"put unknown group", "PUT", "/Groups/directory_group_nope", map[string]any{"displayName": "x"}, 404, "noTarget"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := d.scim(c.method, c.path, c.body)
					if r.Status != c.status || r.str("scimType") != c.scimType || r.str("status") != fmt.Sprint(c.status) {
						t.Fatalf("got %d %q, want %d %q: %.300s", r.Status, r.str("scimType"), c.status, c.scimType, r.Raw)
					}
					if s := r.Body["schemas"].([]any); s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
						t.Fatalf("not a SCIM error: %s", r.Raw)
					}
				})
			}
		})
	}
}

// TestDiscoveryAndProjection covers the discovery endpoints, attributes /
// excludedAttributes and .search.
func TestDiscoveryAndProjection(t *testing.T) {
	e := newEnv(t, "sqlite")
	d := e.newDirectory("okta scim v2.0")
	r := d.must(d.scim("GET", "/ServiceProviderConfig", nil), 200, "spc")
	if dig(r.Body, "patch.supported") != true || dig(r.Body, "filter.maxResults") != float64(1000) {
		t.Fatalf("ServiceProviderConfig: %s", r.Raw)
	}
	for _, p := range []string{"/ResourceTypes", "/Schemas"} {
		r = d.must(d.scim("GET", p, nil), 200, p)
		if r.Body["totalResults"] == float64(0) || dig(r.Body, "schemas.0") != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
			t.Fatalf("%s: %s", p, r.Raw)
		}
	}
	d.must(d.scim("GET", "/ResourceTypes/User", nil), 200, "resource type")
	d.must(d.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil), 200, "schema")
	d.must(d.scim("GET", "/Schemas/urn:nope", nil), 404, "unknown schema")

	uid := d.must(d.scim("POST", "/Users", oktaUser("p@q.test", "P", "Q")), 201, "create").str("id")
	r = d.must(d.scim("GET", "/Users/"+uid+"?attributes=userName,name.givenName", nil), 200, "attributes")
	if r.str("userName") != "p@q.test" || r.str("name.givenName") != "P" || r.Body["emails"] != nil || r.str("name.familyName") != "" || r.str("id") != uid {
		t.Fatalf("attributes: %s", r.Raw)
	}
	r = d.must(d.scim("GET", "/Users/"+uid+"?excludedAttributes=emails,name.familyName", nil), 200, "excludedAttributes")
	if r.Body["emails"] != nil || r.str("name.givenName") != "P" || r.str("name.familyName") != "" {
		t.Fatalf("excludedAttributes: %s", r.Raw)
	}
	r = d.must(d.scim("POST", "/Users/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName sw "p@"`, "count": 5,
		"attributes": []string{"userName"},
	}), 200, ".search")
	if r.Body["totalResults"] != float64(1) || r.str("Resources.0.userName") != "p@q.test" {
		t.Fatalf(".search: %s", r.Raw)
	}
	// Both media types are accepted.
	d.must(d.scimWith(d.Token, "application/json", "POST", "/Users", oktaUser("j@q.test", "J", "Q")), 201, "application/json")
}

// TestTokensAndLog: several tokens live at once, revocation is immediate,
// dsync.activated is sent once, and requests are logged without secrets.
func TestTokensAndLog(t *testing.T) {
	e := newEnv(t, "sqlite")
	d := e.newDirectory("okta scim v2.0")
	var second struct{ ID, Token string }
	e.api("POST", "/directories/"+d.ID+"/tokens", map[string]any{"name": "rotation"}, 201, &second)
	d.must(d.scim("GET", "/Users", nil), 200, "first token")
	d.must(d.scimWith(second.Token, "application/scim+json", "GET", "/Users", nil), 200, "second token")
	var list struct {
		Data []map[string]any
	}
	e.api("GET", "/directories/"+d.ID+"/tokens", nil, 200, &list)
	if len(list.Data) != 2 || list.Data[0]["token"] != nil {
		t.Fatalf("tokens list: %v", list.Data)
	}
	var first struct{ Data []struct{ ID string } }
	e.api("GET", "/directories/"+d.ID+"/tokens", nil, 200, &first)
	e.api("DELETE", "/directories/"+d.ID+"/tokens/"+first.Data[0].ID, nil, 204, nil)
	d.must(d.scim("GET", "/Users", nil), 401, "revoked token")
	d.must(d.scimWith(second.Token, "application/scim+json", "POST", "/Users", oktaUser("log@q.test", "L", "Q")), 201, "after rotation")

	names := e.eventNames()
	if count(names, "dsync.activated") != 1 || count(names, "dsync.token.created") != 2 || count(names, "dsync.token.revoked") != 1 {
		t.Fatalf("events: %v", names)
	}
	var logs struct {
		Data []struct {
			Method      string
			Path        string
			RequestBody string `json:"request_body"`
			Status      int
			Error       *string
		}
	}
	e.api("GET", "/directories/"+d.ID+"/scim_requests?limit=100", nil, 200, &logs)
	if len(logs.Data) != 4 {
		t.Fatalf("logged %d requests, want 4: %+v", len(logs.Data), logs.Data)
	}
	for _, l := range logs.Data {
		if strings.Contains(l.RequestBody, "1mz050nq") {
			t.Fatalf("password logged: %s", l.RequestBody)
		}
	}
	if logs.Data[0].Status != 201 || !strings.Contains(logs.Data[0].RequestBody, "[redacted]") {
		t.Fatalf("newest log entry: %+v", logs.Data[0])
	}
	if logs.Data[1].Status != 401 || logs.Data[1].Error == nil {
		t.Fatalf("failed auth entry: %+v", logs.Data[1])
	}
	// Deleting the directory emits dsync.deleted and its SCIM URL stops working.
	e.api("DELETE", "/directories/"+d.ID, nil, 204, nil)
	d.must(d.scimWith(second.Token, "application/scim+json", "GET", "/Users", nil), 401, "deleted directory")
	if ev := e.lastEvent("dsync.deleted"); dig(ev, "data.id") != d.ID || dig(ev, "data.state") != "deleting" {
		t.Fatalf("dsync.deleted: %v", ev)
	}
}
