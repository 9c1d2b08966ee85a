package google_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/directory/google"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	workos "github.com/workos/workos-go/v7"
)

// fakeGoogle serves the documented Admin SDK Directory API responses that
// a pull reads: users, groups and members lists with nextPageToken paging,
// the OAuth token endpoint, and 403 when the delegation lacks scopes.
type fakeGoogle struct {
	mu        sync.Mutex
	users     []map[string]any
	groups    []map[string]any
	members   map[string][]map[string]any
	forbidden bool
	subjects  []string
	// refuse, when set, answers every token (path "/token") or API call
	// (any other path) with this status and body.
	refuse struct {
		path, body string
		status     int
	}
}

const pageSize = 2

func (f *fakeGoogle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.refuse.status != 0 && (r.URL.Path == "/token") == (f.refuse.path == "/token") {
		w.WriteHeader(f.refuse.status)
		io.WriteString(w, f.refuse.body)
		return
	}
	if r.URL.Path == "/token" {
		r.ParseForm()
		// The assertion is a JWT whose claims name the admin (sub).
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if len(parts) == 3 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var claims struct{ Sub, Scope string }
			json.Unmarshal(b, &claims)
			f.subjects = append(f.subjects, claims.Sub)
		}
		io.WriteString(w, `{"access_token":"ya29.fake","token_type":"Bearer","expires_in":3600}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer ya29.fake" {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"code":401,"message":"Login Required."}}`)
		return
	}
	if f.forbidden {
		w.WriteHeader(403)
		io.WriteString(w, `{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"message":"Not Authorized to access this resource/api","domain":"global","reason":"forbidden"}]}}`)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/admin/directory/v1/")
	switch {
	case path == "users":
		f.page(w, r, "admin#directory#users", "users", f.users)
	case path == "groups":
		f.page(w, r, "admin#directory#groups", "groups", f.groups)
	case strings.HasPrefix(path, "groups/") && strings.HasSuffix(path, "/members"):
		key := strings.TrimSuffix(strings.TrimPrefix(path, "groups/"), "/members")
		f.page(w, r, "admin#directory#members", "members", f.members[key])
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"code":404,"message":"Not found"}}`)
	}
}

func (f *fakeGoogle) page(w http.ResponseWriter, r *http.Request, kind, field string, items []map[string]any) {
	start, _ := strconv.Atoi(r.URL.Query().Get("pageToken"))
	end := min(start+pageSize, len(items))
	out := map[string]any{"kind": kind, field: items[start:end]}
	if end < len(items) {
		out["nextPageToken"] = strconv.Itoa(end)
	}
	json.NewEncoder(w).Encode(out)
}

func googleUser(id, email, given, family string, suspended bool) map[string]any {
	return map[string]any{
		"kind": "admin#directory#user", "id": id, "primaryEmail": email, "suspended": suspended, "etag": "\"" + id + time.Now().String() + "\"",
		"name":          map[string]any{"givenName": given, "familyName": family, "fullName": given + " " + family},
		"organizations": []any{map[string]any{"title": "Engineer", "department": "R&D", "primary": true}},
		"emails":        []any{map[string]any{"address": email, "primary": true}, map[string]any{"address": "alias-" + email, "type": "work"}},
	}
}

func serviceAccountKey(t *testing.T, tokenURL string) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sync@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURL,
	})
	return string(b)
}

// directoryState is what a test reads back of a Google directory.
type directoryState struct {
	State  string
	Google struct {
		LastSyncError *string `json:"last_sync_error"`
	}
}

func getDirectory(t *testing.T, srv *apptest.Server, id string) directoryState {
	t.Helper()
	var d directoryState
	srv.JSON(t, "GET", "/directories/"+id, nil, 200, &d)
	return d
}

func eventCount(t *testing.T, srv *apptest.Server, name string) int {
	var page struct{ Data []any }
	srv.JSON(t, "GET", "/events?limit=100&events="+name, nil, 200, &page)
	return len(page.Data)
}

// TestGoogleWorkspacePull runs pulls against the fake: paging, suspended
// users, nested groups, changes turned into dsync events, no events when
// nothing changed, and 403 reported as invalid credentials.
func TestGoogleWorkspacePull(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			fake := &fakeGoogle{members: map[string][]map[string]any{}}
			fake.users = []map[string]any{
				googleUser("g1", "ann@acme.test", "Ann", "A", false), googleUser("g2", "bob@acme.test", "Bob", "B", false),
				googleUser("g3", "cy@acme.test", "Cy", "C", true), googleUser("g4", "di@acme.test", "Di", "D", false),
				googleUser("g5", "ed@acme.test", "Ed", "E", false),
			}
			fake.groups = []map[string]any{
				{"kind": "admin#directory#group", "id": "grp-eng", "email": "eng@acme.test", "name": "Engineering"},
				{"kind": "admin#directory#group", "id": "grp-plat", "email": "platform@acme.test", "name": "Platform"},
				{"kind": "admin#directory#group", "id": "grp-all", "email": "all@acme.test", "name": "Everyone"},
			}
			fake.members["grp-eng"] = []map[string]any{{"id": "g1", "type": "USER"}, {"id": "grp-plat", "type": "GROUP"}}
			fake.members["grp-plat"] = []map[string]any{{"id": "g2", "type": "USER"}, {"id": "g4", "type": "USER"}, {"id": "grp-eng", "type": "GROUP"}}
			fake.members["grp-all"] = []map[string]any{{"id": "g1", "type": "USER"}, {"id": "g2", "type": "USER"}, {"id": "g3", "type": "USER"}}
			gs := httptest.NewServer(fake)
			defer gs.Close()
			srv := apptest.Start(t, b.Name, func(c *config.Config) { c.GoogleAPIBaseURL = gs.URL; c.DirectorySyncInterval = time.Hour })

			var org struct{ ID string }
			srv.JSON(t, "POST", "/organizations", map[string]any{"name": "Acme"}, 201, &org)
			var dir struct {
				ID     string
				Google map[string]any
			}
			srv.JSON(t, "POST", "/directories", map[string]any{"organization_id": org.ID, "type": "gsuite directory",
				"google": map[string]any{"credentials_json": serviceAccountKey(t, gs.URL+"/token"), "admin_email": "admin@acme.test"}}, 201, &dir)
			if dir.Google["admin_email"] != "admin@acme.test" || strings.Contains(fmt.Sprint(dir), "PRIVATE") {
				t.Fatalf("directory: %+v", dir)
			}

			var res google.Result
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 200, &res)
			if res.UsersCreated != 5 || res.GroupsCreated != 3 {
				t.Fatalf("first pull: %v", res)
			}
			if fake.subjects[0] != "admin@acme.test" {
				t.Fatalf("token request impersonated %q", fake.subjects[0])
			}
			ctx := context.Background()
			// While another pull holds the directory (here: a lease taken as a
			// scheduled pull on another node would), an on-demand pull is refused.
			if ok, err := srv.Store.LeaseDirectorySync(ctx, dir.ID, time.Now(), time.Now().Add(time.Minute)); !ok || err != nil {
				t.Fatalf("lease = %v, %v", ok, err)
			}
			var busy struct{ Code string }
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 409, &busy)
			if busy.Code != "sync_in_progress" {
				t.Errorf("overlapping pull: code %q", busy.Code)
			}
			if err := srv.Store.ReleaseDirectorySync(ctx, dir.ID); err != nil {
				t.Fatal(err)
			}
			c := workos.NewClient(apptest.APIKey, workos.WithBaseURL(srv.URL), workos.WithMaxRetries(0))
			states := map[string]string{}
			users := c.DirectorySync().ListUsers(ctx, &workos.DirectorySyncListUsersParams{Directory: &dir.ID})
			for users.Next() {
				u := users.Current()
				states[*u.Email] = string(u.State)
				if *u.Email == "ann@acme.test" && (len(u.Groups) != 3 || u.CustomAttributes["department"] != "R&D" || *u.FirstName != "Ann") {
					t.Fatalf("ann: %+v", u)
				}
			}
			if users.Err() != nil || states["cy@acme.test"] != "inactive" || states["ann@acme.test"] != "active" || len(states) != 5 {
				t.Fatalf("users: %v %v", states, users.Err())
			}
			// Nested groups are flattened: Engineering holds Platform's members; Platform nests Engineering back (a cycle), so Ann is in all three.
			groupMembers := func(name string) []string {
				gl := c.DirectorySync().ListGroups(ctx, &workos.DirectorySyncListGroupsParams{Directory: &dir.ID})
				for gl.Next() {
					if gl.Current().Name == name {
						var out []string
						ul := c.DirectorySync().ListUsers(ctx, &workos.DirectorySyncListUsersParams{Group: &gl.Current().ID})
						for ul.Next() {
							out = append(out, *ul.Current().Email)
						}
						return out
					}
				}
				return nil
			}
			if m := groupMembers("Engineering"); len(m) != 3 {
				t.Fatalf("Engineering members: %v", m)
			}

			// Nothing changed (only volatile etags): no new user or group events.
			before := eventCount(t, srv, "dsync.user.updated") + eventCount(t, srv, "dsync.group.updated")
			for i := range fake.users {
				fake.users[i]["etag"] = "\"changed\""
			}
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 200, &res)
			if res.UsersUpdated != 0 || res.GroupsUpdated != 0 || eventCount(t, srv, "dsync.user.updated")+eventCount(t, srv, "dsync.group.updated") != before {
				t.Fatalf("idempotent pull changed things: %v", res)
			}

			// Changes: a rename, a suspension, a deletion, a membership removal, a group deleted.
			fake.mu.Lock()
			fake.users[0]["name"] = map[string]any{"givenName": "Anne", "familyName": "A", "fullName": "Anne A"}
			fake.users[1]["suspended"] = true
			fake.users = fake.users[:4] // ed is gone
			fake.members["grp-plat"] = []map[string]any{{"id": "g2", "type": "USER"}}
			fake.groups = fake.groups[:2]
			fake.mu.Unlock()
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 200, &res)
			if res.UsersUpdated != 2 || res.UsersDeleted != 1 || res.GroupsDeleted != 1 {
				t.Fatalf("change pull: %v", res)
			}
			if eventCount(t, srv, "dsync.user.deleted") != 1 || eventCount(t, srv, "dsync.group.deleted") != 1 {
				t.Fatal("missing delete events")
			}
			if m := groupMembers("Platform"); len(m) != 1 || m[0] != "bob@acme.test" {
				t.Fatalf("Platform after removal: %v", m)
			}
			if eventCount(t, srv, "dsync.activated") != 1 {
				t.Fatal("dsync.activated not sent once")
			}

			// Missing scopes: 403 → invalid_credentials, shown on the directory.
			fake.mu.Lock()
			fake.forbidden = true
			fake.mu.Unlock()
			var e struct{ Code, Message string }
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 400, &e)
			if e.Code != "invalid_credentials" || !strings.Contains(e.Message, "domain-wide delegation") {
				t.Fatalf("403 pull: %+v", e)
			}
			got := getDirectory(t, srv, dir.ID)
			if got.State != "invalid_credentials" || got.Google.LastSyncError == nil {
				t.Fatalf("directory after 403: %+v", got)
			}
		})
	}
}

// TestScheduledPullClaimedOnce: with several nodes racing for a due pull,
// exactly one claims it.
func TestScheduledPullClaimedOnce(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := context.Background()
			now := time.Now()
			if err := st.CreateOrganization(ctx, store.Organization{ID: "org_1", Name: "o", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateDirectory(ctx, store.Directory{ID: "directory_1", OrganizationID: "org_1", Type: "gsuite directory", Name: "g",
				State: "unlinked", ExternalKey: "k", NextSyncAt: now.Add(-time.Second), CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			claimed := make([]int, 8)
			for i := range claimed {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ds, err := st.ClaimDueDirectorySyncs(ctx, now, now.Add(time.Hour), 10)
					if err != nil {
						t.Error(err)
					}
					claimed[i] = len(ds)
				}()
			}
			wg.Wait()
			total := 0
			for _, n := range claimed {
				total += n
			}
			if total != 1 {
				t.Fatalf("claimed %d times, want 1", total)
			}
		})
	}
}

// TestTokenURIGuarded: with private targets refused, a service-account key
// whose token_uri names a loopback address is refused without a call to it.
func TestTokenURIGuarded(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			var hits atomic.Int32
			inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.WriteString(w, `{"access_token":"internal-secret","token_type":"Bearer","expires_in":3600}`)
			}))
			defer inside.Close()
			srv := apptest.Start(t, b.Name, func(c *config.Config) {
				c.AllowPrivateTargets = false
				c.GoogleAPIBaseURL = inside.URL
				c.DirectorySyncInterval = time.Hour
			})
			var org struct{ ID string }
			srv.JSON(t, "POST", "/organizations", map[string]any{"name": "Acme"}, 201, &org)
			var dir struct{ ID string }
			srv.JSON(t, "POST", "/directories", map[string]any{"organization_id": org.ID, "type": "gsuite directory",
				"google": map[string]any{"credentials_json": serviceAccountKey(t, inside.URL+"/token"), "admin_email": "admin@acme.test"}}, 201, &dir)
			var e struct{ Code, Message string }
			srv.JSON(t, "POST", "/directories/"+dir.ID+"/sync", nil, 400, &e)
			if e.Code != "forbidden_target" || !strings.Contains(e.Message, "token_uri") {
				t.Errorf("sync answer: %+v", e)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the loopback token_uri was called %d times", n)
			}
			got := getDirectory(t, srv, dir.ID)
			if got.State != "invalid_credentials" || got.Google.LastSyncError == nil || !strings.Contains(*got.Google.LastSyncError, "token_uri") {
				t.Fatalf("directory: %+v", got)
			}
		})
	}
}

// TestRefusalBodyNotEchoed: what Google (or whoever the key file names)
// answers in a refusal's body never reaches the API answer or the
// directory's last_sync_error; the status and a known OAuth code do.
func TestRefusalBodyNotEchoed(t *testing.T) {
	const secret = "sk_live_LEAKED_51HxYz"
	cases := []struct {
		name, path   string
		status       int
		body         string
		wantStatus   int
		wantCode     string
		wantInAnswer string
	}{
		{name: "token refused with a known code", path: "/token", status: 400,
			body:       `{"error":"invalid_grant","error_description":"` + secret + `"}`,
			wantStatus: 400, wantCode: "invalid_credentials", wantInAnswer: "HTTP 400, invalid_grant"},
		{name: "token refused with an unknown code", path: "/token", status: 401,
			body:       `{"error":"` + secret + `"}`,
			wantStatus: 400, wantCode: "invalid_credentials", wantInAnswer: "HTTP 401"},
		{name: "API forbidden", path: "/admin", status: 403,
			body:       `{"error":{"code":403,"message":"` + secret + `"}}`,
			wantStatus: 400, wantCode: "invalid_credentials", wantInAnswer: "HTTP 403 to list users"},
		{name: "API failing", path: "/admin", status: 500,
			body:       `<html>` + secret + `</html>`,
			wantStatus: 503, wantCode: "google_unavailable", wantInAnswer: "list users: HTTP 500"},
	}
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			fake := &fakeGoogle{members: map[string][]map[string]any{}}
			gs := httptest.NewServer(fake)
			defer gs.Close()
			srv := apptest.Start(t, b.Name, func(c *config.Config) { c.GoogleAPIBaseURL = gs.URL; c.DirectorySyncInterval = time.Hour })
			var org struct{ ID string }
			srv.JSON(t, "POST", "/organizations", map[string]any{"name": "Acme"}, 201, &org)
			var dir struct{ ID string }
			srv.JSON(t, "POST", "/directories", map[string]any{"organization_id": org.ID, "type": "gsuite directory",
				"google": map[string]any{"credentials_json": serviceAccountKey(t, gs.URL+"/token"), "admin_email": "admin@acme.test"}}, 201, &dir)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					fake.mu.Lock()
					fake.refuse.path, fake.refuse.status, fake.refuse.body = c.path, c.status, c.body
					fake.mu.Unlock()
					res := srv.Do(t, "POST", "/directories/"+dir.ID+"/sync", nil)
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					var e struct{ Code, Message string }
					json.Unmarshal(body, &e)
					if res.StatusCode != c.wantStatus || e.Code != c.wantCode || !strings.Contains(e.Message, c.wantInAnswer) {
						t.Errorf("answer %d %s, want %d %s with %q", res.StatusCode, body, c.wantStatus, c.wantCode, c.wantInAnswer)
					}
					res = srv.Do(t, "GET", "/directories/"+dir.ID, nil)
					shown, _ := io.ReadAll(res.Body)
					res.Body.Close()
					for what, b := range map[string][]byte{"sync answer": body, "directory": shown} {
						if bytes.Contains(b, []byte("LEAKED")) {
							t.Errorf("%s echoes the refusal's body: %s", what, b)
						}
					}
				})
			}
		})
	}
}
