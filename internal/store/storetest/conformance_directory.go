package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// directoryTests check directories, their SCIM tokens, users, groups,
// memberships and request log.
var directoryTests = []suiteTest{
	{"directories round trip", testDirectories},
	{"directories list filters and pages", testListDirectories},
	{"directory counts", testCountDirectory},
	{"directory activation is reported once", testActivateDirectory},
	{"due directory syncs are claimed once", testClaimDueDirectorySyncs},
	{"directory sync lease", testDirectorySyncLease},
	{"directory tokens", testDirectoryTokens},
	{"directory users round trip", testDirectoryUsers},
	{"directory users by ids and idp id", testDirectoryUserLookups},
	{"directory users scim query", testQueryDirectoryUsers},
	{"directory users list filters and pages", testListDirectoryUsers},
	{"directory groups round trip", testDirectoryGroups},
	{"directory groups scim query", testQueryDirectoryGroups},
	{"directory groups list filters and pages", testListDirectoryGroups},
	{"group memberships", testMemberships},
	{"deletes cascade through a directory", testDirectoryCascade},
	{"scim request log", testSCIMRequests},
}

func newDirectory(orgID, name string) store.Directory {
	now := now()
	return store.Directory{ID: id.New("directory"), OrganizationID: orgID, Type: "okta scim v2.0", Name: name, State: store.DirectoryUnlinked,
		ExternalKey: id.New("key"), CreatedAt: now, UpdatedAt: now}
}

// mkDirectory stores a new SCIM directory.
func mkDirectory(t *testing.T, s store.Queries, orgID, name string) store.Directory {
	t.Helper()
	d := newDirectory(orgID, name)
	mustNil(t, s.CreateDirectory(ctx, d))
	return d
}

func newUser(d store.Directory, userName string) store.DirectoryUser {
	now := now()
	return store.DirectoryUser{ID: id.New("directory_user"), DirectoryID: d.ID, OrganizationID: d.OrganizationID, IdPID: userName,
		UserName: userName, State: store.UserActive, Emails: []store.UserEmail{}, Attributes: json.RawMessage(`{}`),
		CustomAttributes: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
}

func mkUser(t *testing.T, s store.Queries, d store.Directory, userName string) store.DirectoryUser {
	t.Helper()
	u := newUser(d, userName)
	mustNil(t, s.CreateDirectoryUser(ctx, u))
	return u
}

func newGroup(d store.Directory, name string) store.DirectoryGroup {
	now := now()
	return store.DirectoryGroup{ID: id.New("directory_group"), DirectoryID: d.ID, OrganizationID: d.OrganizationID, IdPID: name,
		DisplayName: name, Attributes: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
}

func mkGroup(t *testing.T, s store.Queries, d store.Directory, name string) store.DirectoryGroup {
	t.Helper()
	g := newGroup(d, name)
	mustNil(t, s.CreateDirectoryGroup(ctx, g))
	return g
}

func dirIDs(ds []store.Directory) []string {
	return ids(ds, func(d store.Directory) string { return d.ID })
}
func userIDs(us []store.DirectoryUser) []string {
	return ids(us, func(u store.DirectoryUser) string { return u.ID })
}
func groupIDs(gs []store.DirectoryGroup) []string {
	return ids(gs, func(g store.DirectoryGroup) string { return g.ID })
}

func testDirectories(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	t0 := now()
	d := newDirectory(o.ID, "Okta")
	d.Domain, d.CreatedAt, d.UpdatedAt = "a.example", oddTime(t0), oddTime(t0)
	mustNil(t, s.CreateDirectory(ctx, d))
	got, err := s.GetDirectory(ctx, d.ID)
	mustNil(t, err)
	want := d
	want.CreatedAt, want.UpdatedAt = ms(d.CreatedAt), ms(d.UpdatedAt)
	equal(t, "round trip (never activated or synced)", got, want)
	wantErr(t, "same id again", s.CreateDirectory(ctx, d), store.ErrConflict)

	// Update writes the mutable fields; organization, type, key and
	// creation time stay.
	upd := d
	upd.OrganizationID, upd.Type, upd.ExternalKey, upd.CreatedAt = "org_other", "gsuite directory", "other", t0.Add(time.Hour)
	upd.Name, upd.State, upd.Domain, upd.Google = "Google", store.DirectoryInvalidCredentials, "b.example", `{"sealed":"x"}`
	upd.ActivatedAt, upd.NextSyncAt, upd.LastSyncAt = oddTime(t0.Add(time.Second)), oddTime(t0.Add(time.Hour)), oddTime(t0.Add(2*time.Second))
	upd.LastSyncError, upd.UpdatedAt = "403 from Google", oddTime(t0.Add(time.Minute))
	mustNil(t, s.UpdateDirectory(ctx, upd))
	got, _ = s.GetDirectory(ctx, d.ID)
	want = upd
	want.OrganizationID, want.Type, want.ExternalKey, want.CreatedAt = d.OrganizationID, d.Type, d.ExternalKey, ms(d.CreatedAt)
	want.ActivatedAt, want.NextSyncAt, want.LastSyncAt, want.UpdatedAt = ms(upd.ActivatedAt), ms(upd.NextSyncAt), ms(upd.LastSyncAt), ms(upd.UpdatedAt)
	equal(t, "after update", got, want)

	ghost := newDirectory(o.ID, "ghost")
	wantErr(t, "update of a missing directory", s.UpdateDirectory(ctx, ghost), store.ErrNotFound)
	_, err = s.GetDirectory(ctx, ghost.ID)
	wantErr(t, "missing directory", err, store.ErrNotFound)
	mustNil(t, s.DeleteDirectory(ctx, d.ID))
	_, err = s.GetDirectory(ctx, d.ID)
	wantErr(t, "deleted directory", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteDirectory(ctx, d.ID), store.ErrNotFound)
}

func testListDirectories(t *testing.T, s store.Store) {
	a, b := mkOrg(t, s, "A"), mkOrg(t, s, "B")
	var all []string
	for i := range 5 {
		all = append(all, mkDirectory(t, s, a.ID, fmt.Sprintf("Dir %d", i)).ID)
	}
	g := newDirectory(b.ID, "100% Google")
	g.Domain = "b.example"
	mustNil(t, s.CreateDirectory(ctx, g))
	list := func(f store.DirectoryFilter) []string {
		ds, _, err := s.ListDirectories(ctx, f, store.Page{Limit: 10, Order: store.Asc})
		mustNil(t, err)
		return dirIDs(ds)
	}
	cases := []struct {
		name string
		f    store.DirectoryFilter
		want []string
	}{
		{"all", store.DirectoryFilter{}, append(slices.Clone(all), g.ID)},
		{"by organization", store.DirectoryFilter{OrganizationID: b.ID}, []string{g.ID}},
		{"by domain, any case", store.DirectoryFilter{Domain: "B.example"}, []string{g.ID}},
		{"search ignores case", store.DirectoryFilter{Search: "dir 2"}, []string{all[2]}},
		{"search for a literal %", store.DirectoryFilter{Search: "0%"}, []string{g.ID}},
		{"filters combine", store.DirectoryFilter{OrganizationID: a.ID, Domain: "b.example"}, []string{}},
	}
	for _, tc := range cases {
		equal(t, tc.name, list(tc.f), tc.want)
	}
	checkPages(t, "directories", all, func(p store.Page) ([]string, store.PageInfo, error) {
		ds, info, err := s.ListDirectories(ctx, store.DirectoryFilter{OrganizationID: a.ID}, p)
		return dirIDs(ds), info, err
	})
}

func testCountDirectory(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	mkUser(t, s, d, "a")
	mkUser(t, s, d, "b")
	off := newUser(d, "c")
	off.State = store.UserInactive
	mustNil(t, s.CreateDirectoryUser(ctx, off))
	mkGroup(t, s, d, "G")
	mkUser(t, s, other, "x")
	mkGroup(t, s, other, "G")
	mkGroup(t, s, other, "H")
	c, err := s.CountDirectory(ctx, d.ID)
	mustNil(t, err)
	equal(t, "counts", c, store.DirectoryCounts{ActiveUsers: 2, InactiveUsers: 1, Groups: 1})
	c, err = s.CountDirectory(ctx, "directory_unknown")
	mustNil(t, err)
	equal(t, "unknown directory", c, store.DirectoryCounts{})
}

func testActivateDirectory(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := mkDirectory(t, s, o.ID, "D")
	t0 := now()
	ok, err := s.ActivateDirectory(ctx, d.ID, oddTime(t0))
	mustNil(t, err)
	if !ok {
		t.Fatal("first activation not reported")
	}
	got, _ := s.GetDirectory(ctx, d.ID)
	if got.State != store.DirectoryLinked || !got.ActivatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
		t.Errorf("after activation: %+v", got)
	}
	ok, err = s.ActivateDirectory(ctx, d.ID, t0.Add(time.Minute))
	mustNil(t, err)
	if ok {
		t.Error("second activation reported")
	}
	// Relinked after being unlinked: reported again, first activation kept.
	got.State = store.DirectoryUnlinked
	mustNil(t, s.UpdateDirectory(ctx, got))
	ok, _ = s.ActivateDirectory(ctx, d.ID, t0.Add(time.Hour))
	if got, _ := s.GetDirectory(ctx, d.ID); !ok || got.State != store.DirectoryLinked || !got.ActivatedAt.Equal(t0) {
		t.Errorf("relink: reported=%v %+v", ok, got)
	}
	if ok, err := s.ActivateDirectory(ctx, "directory_unknown", t0); ok || err != nil {
		t.Errorf("unknown directory: %v %v", ok, err)
	}
	d2 := mkDirectory(t, s, o.ID, "D2")
	if wins := race(t, 4, func() (bool, error) { return s.ActivateDirectory(ctx, d2.ID, t0) }); wins != 1 {
		t.Errorf("activation reported %d times", wins)
	}
}

func testClaimDueDirectorySyncs(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	t0 := now()
	mk := func(name string, next time.Time) store.Directory {
		d := newDirectory(o.ID, name)
		d.NextSyncAt = next
		mustNil(t, s.CreateDirectory(ctx, d))
		return d
	}
	due1, due2 := mk("due1", t0.Add(-2*time.Minute)), mk("due2", t0)
	mk("later", t0.Add(time.Minute))
	mk("never", time.Time{})
	checkClaim(t, due1.ID, due2.ID, t0.Add(time.Hour), func(limit int) ([]string, []time.Time, error) {
		ds, err := s.ClaimDueDirectorySyncs(ctx, t0, t0.Add(time.Hour), limit)
		return dirIDs(ds), ids(ds, func(d store.Directory) time.Time { return d.NextSyncAt }), err
	}, func(id string) time.Time { d, _ := s.GetDirectory(ctx, id); return d.NextSyncAt })
}

func testDirectorySyncLease(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	lease := func(id string, now, until time.Time) bool {
		t.Helper()
		ok, err := s.LeaseDirectorySync(ctx, id, now, until)
		mustNil(t, err)
		return ok
	}
	if !lease(d.ID, t0, t0.Add(time.Minute)) {
		t.Fatal("first lease refused")
	}
	if lease(d.ID, t0.Add(30*time.Second), t0.Add(2*time.Minute)) {
		t.Error("lease taken while held")
	}
	if !lease(other.ID, t0, t0.Add(time.Minute)) {
		t.Error("another directory's lease refused")
	}
	if !lease(d.ID, t0.Add(time.Minute), t0.Add(2*time.Minute)) {
		t.Error("expired lease not taken over")
	}
	mustNil(t, s.ReleaseDirectorySync(ctx, d.ID))
	if !lease(d.ID, t0.Add(time.Minute), t0.Add(3*time.Minute)) {
		t.Error("released lease refused")
	}
	mustNil(t, s.ReleaseDirectorySync(ctx, d.ID))
	if wins := race(t, 4, func() (bool, error) { return s.LeaseDirectorySync(ctx, d.ID, t0, t0.Add(time.Minute)) }); wins != 1 {
		t.Errorf("%d pulls took the lease, want 1", wins)
	}
	if lease("directory_unknown", t0, t0.Add(time.Minute)) {
		t.Error("leased an unknown directory")
	}
	mustNil(t, s.ReleaseDirectorySync(ctx, "directory_unknown"))
}

func testDirectoryTokens(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	tok := store.DirectoryToken{ID: id.New("directory_token"), DirectoryID: d.ID, Name: "okta", Hash: []byte("hash-1"), Suffix: "wxyz", CreatedAt: oddTime(t0)}
	tok2 := store.DirectoryToken{ID: id.New("directory_token"), DirectoryID: d.ID, Name: "second", Hash: []byte("hash-2"), Suffix: "abcd", CreatedAt: t0}
	otherTok := store.DirectoryToken{ID: id.New("directory_token"), DirectoryID: other.ID, Name: "x", Hash: []byte("hash-3"), Suffix: "efgh", CreatedAt: t0}
	for _, x := range []store.DirectoryToken{tok, tok2, otherTok} {
		mustNil(t, s.CreateDirectoryToken(ctx, x))
	}
	dup := tok2
	dup.ID = id.New("directory_token")
	wantErr(t, "same hash again", s.CreateDirectoryToken(ctx, dup), store.ErrConflict)

	list, err := s.ListDirectoryTokens(ctx, d.ID)
	mustNil(t, err)
	want := tok
	want.CreatedAt = ms(tok.CreatedAt)
	equal(t, "list: oldest first, own only, never used", list, []store.DirectoryToken{want, tok2})

	gotTok, gotDir, err := s.DirectoryByTokenHash(ctx, tok.Hash)
	mustNil(t, err)
	equal(t, "token by hash", gotTok, want)
	dd, _ := s.GetDirectory(ctx, d.ID)
	equal(t, "its directory", gotDir, dd)
	_, _, err = s.DirectoryByTokenHash(ctx, []byte("unknown"))
	wantErr(t, "unknown hash", err, store.ErrNotFound)

	used := oddTime(t0.Add(time.Minute))
	mustNil(t, s.TouchDirectoryToken(ctx, tok.ID, used))
	gotTok, _, _ = s.DirectoryByTokenHash(ctx, tok.Hash)
	if !gotTok.LastUsedAt.Equal(ms(used)) || gotTok.LastUsedAt.Location() != time.UTC {
		t.Errorf("last used = %v, want %v", gotTok.LastUsedAt, ms(used))
	}
	mustNil(t, s.TouchDirectoryToken(ctx, "directory_token_unknown", used))

	// A token is deleted only through its own directory.
	_, err = s.DeleteDirectoryToken(ctx, other.ID, tok.ID)
	wantErr(t, "delete through another directory", err, store.ErrNotFound)
	if _, _, err := s.DirectoryByTokenHash(ctx, tok.Hash); err != nil {
		t.Errorf("token gone after a refused delete: %v", err)
	}
	deleted, err := s.DeleteDirectoryToken(ctx, d.ID, tok.ID)
	mustNil(t, err)
	if deleted.ID != tok.ID || deleted.Name != "okta" || deleted.Suffix != "wxyz" {
		t.Errorf("deleted token = %+v", deleted)
	}
	_, _, err = s.DirectoryByTokenHash(ctx, tok.Hash)
	wantErr(t, "deleted token", err, store.ErrNotFound)
	_, err = s.DeleteDirectoryToken(ctx, d.ID, tok.ID)
	wantErr(t, "delete again", err, store.ErrNotFound)
}

func testDirectoryUsers(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	u := newUser(d, "Alice@A.example")
	u.IdPID, u.ExternalID, u.Email = "ext-1", "ext-1", "Alice@A.example"
	u.FirstName, u.LastName, u.DisplayName, u.JobTitle = "Alice", "Liddell", "Alice L", "Engineer"
	u.Emails = []store.UserEmail{{Value: "Alice@A.example", Type: "work", Primary: true}, {Value: "al@home.example", Type: "home"}}
	u.Attributes = json.RawMessage(`{"userName":"Alice@A.example","active":true}`)
	u.CustomAttributes = json.RawMessage(`{"department":"R&D"}`)
	u.CreatedAt, u.UpdatedAt = oddTime(t0), oddTime(t0)
	mustNil(t, s.CreateDirectoryUser(ctx, u))
	want := u
	want.CreatedAt, want.UpdatedAt = ms(u.CreatedAt), ms(u.UpdatedAt)
	for _, lock := range []bool{false, true} {
		got, err := s.GetDirectoryUser(ctx, d.ID, u.ID, lock)
		mustNil(t, err)
		equal(t, fmt.Sprintf("round trip (forUpdate %v)", lock), got, want)
	}
	got, err := s.GetDirectoryUser(ctx, "", u.ID, false)
	mustNil(t, err)
	equal(t, "read without a directory", got, want)
	// Another directory finds nothing.
	_, err = s.GetDirectoryUser(ctx, other.ID, u.ID, false)
	wantErr(t, "read through another directory", err, store.ErrNotFound)
	_, err = s.GetDirectoryUser(ctx, d.ID, "directory_user_unknown", false)
	wantErr(t, "unknown user", err, store.ErrNotFound)

	// userName is unique per directory, ignoring case.
	wantErr(t, "same userName in other case", s.CreateDirectoryUser(ctx, newUser(d, "alice@a.EXAMPLE")), store.ErrConflict)
	mkUser(t, s, other, "alice@a.example")
	dupID := newUser(d, "bob")
	dupID.ID = u.ID
	wantErr(t, "same id again", s.CreateDirectoryUser(ctx, dupID), store.ErrConflict)

	// Update replaces every field but the directory, organization and
	// creation time, emails included.
	upd := u
	upd.OrganizationID, upd.CreatedAt = "org_other", t0.Add(time.Hour)
	upd.IdPID, upd.ExternalID, upd.UserName, upd.Email = "ext-2", "ext-2", "alice2@a.example", "alice2@a.example"
	upd.FirstName, upd.LastName, upd.DisplayName, upd.JobTitle, upd.State = "Al", "L", "Al L", "CTO", store.UserInactive
	upd.Emails = []store.UserEmail{{Value: "alice2@a.example", Primary: true}}
	upd.Attributes, upd.CustomAttributes = json.RawMessage(`{"active":false}`), json.RawMessage(`{}`)
	upd.UpdatedAt = t0.Add(time.Minute)
	mustNil(t, s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetDirectoryUser(ctx, d.ID, u.ID, true); err != nil {
			return err
		}
		return q.UpdateDirectoryUser(ctx, upd)
	}))
	got, _ = s.GetDirectoryUser(ctx, d.ID, u.ID, false)
	want = upd
	want.OrganizationID, want.CreatedAt = u.OrganizationID, ms(u.CreatedAt)
	equal(t, "after update", got, want)
	if us, _, _ := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{DirectoryID: d.ID, Email: "al@home.example"}, store.Page{}); len(us) != 0 {
		t.Error("a replaced email still finds the user")
	}
	taken := mkUser(t, s, d, "carol")
	taken.UserName = "ALICE2@a.example"
	wantErr(t, "update to a taken userName", s.UpdateDirectoryUser(ctx, taken), store.ErrConflict)

	// Writes through another directory touch nothing.
	wrong := upd
	wrong.DirectoryID, wrong.UserName = other.ID, "mallory"
	wantErr(t, "update through another directory", s.UpdateDirectoryUser(ctx, wrong), store.ErrNotFound)
	wantErr(t, "update of an unknown user", s.UpdateDirectoryUser(ctx, newUser(d, "ghost")), store.ErrNotFound)
	wantErr(t, "delete through another directory", s.DeleteDirectoryUser(ctx, other.ID, u.ID), store.ErrNotFound)
	if got, _ := s.GetDirectoryUser(ctx, d.ID, u.ID, false); got.UserName != "alice2@a.example" {
		t.Errorf("user changed by writes through another directory: %+v", got)
	}
	mustNil(t, s.DeleteDirectoryUser(ctx, d.ID, u.ID))
	_, err = s.GetDirectoryUser(ctx, d.ID, u.ID, false)
	wantErr(t, "deleted user", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteDirectoryUser(ctx, d.ID, u.ID), store.ErrNotFound)
	// The userName is free again.
	mkUser(t, s, d, "alice2@a.example")
}

func testDirectoryUserLookups(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	a, b := mkUser(t, s, d, "a"), mkUser(t, s, d, "b")
	x := mkUser(t, s, other, "a")
	us, err := s.GetDirectoryUsers(ctx, d.ID, []string{b.ID, x.ID, "directory_user_unknown", a.ID})
	mustNil(t, err)
	equal(t, "by ids: own only, unknown skipped, by id", userIDs(us), []string{a.ID, b.ID})
	us, err = s.GetDirectoryUsers(ctx, d.ID, nil)
	mustNil(t, err)
	if len(us) != 0 {
		t.Errorf("no ids asked: %d users", len(us))
	}

	got, err := s.DirectoryUserByIdPID(ctx, d.ID, "a")
	mustNil(t, err)
	if got.ID != a.ID || got.UserName != "a" {
		t.Errorf("by idp id: %+v", got)
	}
	got, err = s.DirectoryUserByIdPID(ctx, other.ID, "a")
	mustNil(t, err)
	if got.ID != x.ID {
		t.Errorf("by idp id in the other directory: %s, want %s", got.ID, x.ID)
	}
	_, err = s.DirectoryUserByIdPID(ctx, other.ID, "b")
	wantErr(t, "idp id of another directory", err, store.ErrNotFound)

	m, err := s.AllDirectoryUserIDs(ctx, d.ID)
	mustNil(t, err)
	equal(t, "all ids", m, map[string]string{"a": a.ID, "b": b.ID})
	m, err = s.AllDirectoryUserIDs(ctx, "directory_unknown")
	mustNil(t, err)
	equal(t, "all ids of an unknown directory", m, map[string]string{})
}

func testQueryDirectoryUsers(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	mk := func(name, email, emailType string, active bool, created time.Time) store.DirectoryUser {
		u := newUser(d, name)
		u.Email, u.DisplayName, u.ExternalID, u.CreatedAt = email, "User "+name, "ext-"+name, created
		u.Emails = []store.UserEmail{{Value: email, Type: emailType, Primary: true}}
		if !active {
			u.State = store.UserInactive
		}
		mustNil(t, s.CreateDirectoryUser(ctx, u))
		return u
	}
	alice := mk("Alice", "Alice@Work.example", "work", true, t0)
	bob := mk("bob", "bob@home.example", "home", false, t0.Add(time.Second))
	carol := mk("carol", "carol@work.example", "work", true, t0.Add(2*time.Second))
	mkUser(t, s, other, "alice")
	g := mkGroup(t, s, d, "G")
	_, err := s.AddMember(ctx, d.ID, g.ID, bob.ID, t0)
	mustNil(t, err)

	cmp := func(field, op string, v any) *store.Cond {
		return &store.Cond{Op: "cmp", Field: field, CmpOp: op, Value: v}
	}
	cases := []struct {
		name   string
		filter *store.Cond
		want   []store.DirectoryUser
	}{
		{"all, by id", nil, []store.DirectoryUser{alice, bob, carol}},
		{"userName eq ignores case", cmp("user_name", "eq", "ALICE"), []store.DirectoryUser{alice}},
		{"externalId eq is exact", cmp("external_id", "eq", "ext-Alice"), []store.DirectoryUser{alice}},
		{"externalId in another case", cmp("external_id", "eq", "EXT-ALICE"), nil},
		{"displayName sw", cmp("display_name", "sw", "user c"), []store.DirectoryUser{carol}},
		{"email co", cmp("email", "co", "@WORK."), []store.DirectoryUser{alice, carol}},
		{"active eq false", cmp("active", "eq", false), []store.DirectoryUser{bob}},
		{"created after", cmp("created_at", "gt", t0), []store.DirectoryUser{bob, carol}},
		{"not", &store.Cond{Op: "not", Left: cmp("user_name", "eq", "bob")}, []store.DirectoryUser{alice, carol}},
		{"or", &store.Cond{Op: "or", Left: cmp("user_name", "eq", "bob"), Right: cmp("user_name", "eq", "carol")}, []store.DirectoryUser{bob, carol}},
		{"and", &store.Cond{Op: "and", Left: cmp("email", "ew", "work.example"), Right: cmp("user_name", "sw", "c")}, []store.DirectoryUser{carol}},
		{"emails[type eq work]", &store.Cond{Op: "email", Sub: cmp("type", "eq", "WORK")}, []store.DirectoryUser{alice, carol}},
		{"emails[value eq]", &store.Cond{Op: "email", Sub: cmp("value", "eq", "BOB@home.example")}, []store.DirectoryUser{bob}},
		{"groups[value eq]", &store.Cond{Op: "group", Sub: cmp("value", "eq", g.ID)}, []store.DirectoryUser{bob}},
		{"a literal % matches itself only", cmp("user_name", "co", "%"), nil},
	}
	for _, tc := range cases {
		us, total, err := s.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: d.ID, Filter: tc.filter, Count: 10})
		mustNil(t, err)
		equal(t, tc.name, userIDs(us), userIDs(tc.want))
		if total != len(tc.want) {
			t.Errorf("%s: total = %d, want %d", tc.name, total, len(tc.want))
		}
	}
	// The round trip of a queried user is the stored user.
	us, _, _ := s.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: d.ID, Filter: cmp("user_name", "eq", "alice"), Count: 1})
	if len(us) == 1 && !slices.Equal(us[0].Emails, alice.Emails) {
		t.Errorf("queried user emails = %+v", us[0].Emails)
	}
	pages := []struct {
		name          string
		after         string
		noTotal       bool
		filter        *store.Cond
		offset, count int
		want          []store.DirectoryUser
		total         int
	}{
		{"first page", "", false, nil, 0, 2, []store.DirectoryUser{alice, bob}, 3},
		{"second page", "", false, nil, 2, 2, []store.DirectoryUser{carol}, 3},
		{"past the end", "", false, nil, 5, 2, nil, 3},
		{"count only", "", false, nil, 0, 0, nil, 3},
		{"count only, past the end", "", false, nil, 5, 0, nil, 3},
		{"after an ID counts every match", alice.ID, false, nil, 0, 2, []store.DirectoryUser{bob, carol}, 3},
		{"after an ID, then an offset", alice.ID, false, nil, 1, 2, []store.DirectoryUser{carol}, 3},
		{"after the last ID", carol.ID, false, nil, 0, 2, nil, 3},
		{"after an ID with a filter", alice.ID, false, cmp("email", "co", "@work."), 0, 2, []store.DirectoryUser{carol}, 2},
		{"after an ID, no total", bob.ID, true, nil, 0, 2, []store.DirectoryUser{carol}, -1},
		{"no total, past the end", carol.ID, true, nil, 0, 2, nil, -1},
		{"no total, first page", "", true, nil, 0, 1, []store.DirectoryUser{alice}, -1},
	}
	for _, p := range pages {
		us, total, err := s.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: d.ID, Filter: p.filter, After: p.after, NoTotal: p.noTotal,
			Offset: p.offset, Count: p.count})
		mustNil(t, err)
		equal(t, p.name, userIDs(us), userIDs(p.want))
		if total != p.total {
			t.Errorf("%s: total = %d, want %d", p.name, total, p.total)
		}
	}
	for _, bad := range []*store.Cond{
		cmp("password", "eq", "x"),
		cmp("user_name", "xx", "x"),
		cmp("active", "gt", true),
		cmp("created_at", "eq", "yesterday"),
		{Op: "member", Sub: cmp("value", "eq", "x")},
		{Op: "nand"},
	} {
		if _, _, err := s.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: d.ID, Filter: bad, Count: 10}); err == nil {
			t.Errorf("filter %+v accepted", bad)
		}
	}
}

func testListDirectoryUsers(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	var all []string
	var users []store.DirectoryUser
	for i := range 5 {
		u := newUser(d, fmt.Sprintf("u%d", i))
		u.Emails = []store.UserEmail{{Value: fmt.Sprintf("U%d@a.example", i), Primary: true}}
		mustNil(t, s.CreateDirectoryUser(ctx, u))
		all, users = append(all, u.ID), append(users, u)
	}
	x := mkUser(t, s, other, "u0")
	g := mkGroup(t, s, d, "G")
	for _, u := range []store.DirectoryUser{users[1], users[3]} {
		_, err := s.AddMember(ctx, d.ID, g.ID, u.ID, now())
		mustNil(t, err)
	}
	list := func(f store.DirectoryUserFilter) []string {
		us, _, err := s.ListDirectoryUsers(ctx, f, store.Page{Limit: 10, Order: store.Asc})
		mustNil(t, err)
		return userIDs(us)
	}
	cases := []struct {
		name string
		f    store.DirectoryUserFilter
		want []string
	}{
		{"by directory", store.DirectoryUserFilter{DirectoryID: d.ID}, all},
		{"by group", store.DirectoryUserFilter{GroupID: g.ID}, []string{all[1], all[3]}},
		{"by email, any case", store.DirectoryUserFilter{Email: "u2@A.EXAMPLE"}, []string{all[2]}},
		{"by idp id across directories", store.DirectoryUserFilter{IdPID: "u0"}, []string{all[0], x.ID}},
		{"by idp id in a directory", store.DirectoryUserFilter{DirectoryID: other.ID, IdPID: "u0"}, []string{x.ID}},
		{"group of another directory", store.DirectoryUserFilter{DirectoryID: other.ID, GroupID: g.ID}, []string{}},
	}
	for _, tc := range cases {
		equal(t, tc.name, list(tc.f), tc.want)
	}
	checkPages(t, "directory users", all, func(p store.Page) ([]string, store.PageInfo, error) {
		us, info, err := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{DirectoryID: d.ID}, p)
		return userIDs(us), info, err
	})
}

func testDirectoryGroups(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	g := newGroup(d, "Engineering")
	g.ExternalID, g.Attributes, g.CreatedAt, g.UpdatedAt = "ext-g", json.RawMessage(`{"displayName":"Engineering"}`), oddTime(t0), oddTime(t0)
	mustNil(t, s.CreateDirectoryGroup(ctx, g))
	want := g
	want.CreatedAt, want.UpdatedAt = ms(g.CreatedAt), ms(g.UpdatedAt)
	for _, lock := range []bool{false, true} {
		got, err := s.GetDirectoryGroup(ctx, d.ID, g.ID, lock)
		mustNil(t, err)
		equal(t, fmt.Sprintf("round trip (forUpdate %v)", lock), got, want)
	}
	got, err := s.GetDirectoryGroup(ctx, "", g.ID, false)
	mustNil(t, err)
	equal(t, "read without a directory", got, want)
	_, err = s.GetDirectoryGroup(ctx, other.ID, g.ID, false)
	wantErr(t, "read through another directory", err, store.ErrNotFound)
	_, err = s.GetDirectoryGroup(ctx, d.ID, "directory_group_unknown", false)
	wantErr(t, "unknown group", err, store.ErrNotFound)
	wantErr(t, "same id again", s.CreateDirectoryGroup(ctx, g), store.ErrConflict)

	upd := g
	upd.OrganizationID, upd.CreatedAt = "org_other", t0.Add(time.Hour)
	upd.IdPID, upd.ExternalID, upd.DisplayName = "idp-2", "ext-2", "Eng"
	upd.Attributes, upd.UpdatedAt = json.RawMessage(`{"displayName":"Eng"}`), t0.Add(time.Minute)
	mustNil(t, s.UpdateDirectoryGroup(ctx, upd))
	got, _ = s.GetDirectoryGroup(ctx, d.ID, g.ID, false)
	want = upd
	want.OrganizationID, want.CreatedAt = g.OrganizationID, ms(g.CreatedAt)
	equal(t, "after update", got, want)

	wrong := upd
	wrong.DirectoryID, wrong.DisplayName = other.ID, "mallory"
	wantErr(t, "update through another directory", s.UpdateDirectoryGroup(ctx, wrong), store.ErrNotFound)
	wantErr(t, "delete through another directory", s.DeleteDirectoryGroup(ctx, other.ID, g.ID), store.ErrNotFound)
	if got, _ := s.GetDirectoryGroup(ctx, d.ID, g.ID, false); got.DisplayName != "Eng" {
		t.Errorf("group changed by writes through another directory: %+v", got)
	}

	h := mkGroup(t, s, d, "H")
	mkGroup(t, s, other, "X")
	m, err := s.AllDirectoryGroupIDs(ctx, d.ID)
	mustNil(t, err)
	equal(t, "all ids", m, map[string]string{"idp-2": g.ID, "H": h.ID})

	mustNil(t, s.DeleteDirectoryGroup(ctx, d.ID, g.ID))
	_, err = s.GetDirectoryGroup(ctx, d.ID, g.ID, false)
	wantErr(t, "deleted group", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteDirectoryGroup(ctx, d.ID, g.ID), store.ErrNotFound)
	wantErr(t, "update of a deleted group", s.UpdateDirectoryGroup(ctx, upd), store.ErrNotFound)
}

func testQueryDirectoryGroups(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	eng, ops, sales := mkGroup(t, s, d, "Engineering"), mkGroup(t, s, d, "Ops"), mkGroup(t, s, d, "Sales")
	mkGroup(t, s, other, "Engineering")
	u := mkUser(t, s, d, "u")
	_, err := s.AddMember(ctx, d.ID, ops.ID, u.ID, now())
	mustNil(t, err)
	cmp := func(field, op string, v any) *store.Cond {
		return &store.Cond{Op: "cmp", Field: field, CmpOp: op, Value: v}
	}
	cases := []struct {
		name   string
		filter *store.Cond
		want   []store.DirectoryGroup
	}{
		{"all, by id", nil, []store.DirectoryGroup{eng, ops, sales}},
		{"displayName eq ignores case", cmp("display_name", "eq", "ENGINEERING"), []store.DirectoryGroup{eng}},
		{"members[value eq]", &store.Cond{Op: "member", Sub: cmp("value", "eq", u.ID)}, []store.DirectoryGroup{ops}},
		{"not", &store.Cond{Op: "not", Left: cmp("display_name", "sw", "e")}, []store.DirectoryGroup{ops, sales}},
	}
	for _, tc := range cases {
		gs, total, err := s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID, Filter: tc.filter, Count: 10})
		mustNil(t, err)
		equal(t, tc.name, groupIDs(gs), groupIDs(tc.want))
		if total != len(tc.want) {
			t.Errorf("%s: total = %d, want %d", tc.name, total, len(tc.want))
		}
	}
	gs, total, err := s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID, Offset: 1, Count: 1})
	mustNil(t, err)
	if total != 3 || len(gs) != 1 || gs[0].ID != ops.ID {
		t.Errorf("page at offset 1: %v of %d", groupIDs(gs), total)
	}
	if gs, total, _ := s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID}); len(gs) != 0 || total != 3 {
		t.Errorf("count only: %d groups, total %d", len(gs), total)
	}
	gs, total, err = s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID, After: eng.ID, Count: 1})
	mustNil(t, err)
	if total != 3 || len(gs) != 1 || gs[0].ID != ops.ID {
		t.Errorf("page after the first: %v of %d", groupIDs(gs), total)
	}
	gs, total, err = s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID, After: ops.ID, NoTotal: true, Count: 5})
	mustNil(t, err)
	if total != -1 || len(gs) != 1 || gs[0].ID != sales.ID {
		t.Errorf("page after the second, no total: %v of %d", groupIDs(gs), total)
	}
	for _, bad := range []*store.Cond{cmp("user_name", "eq", "x"), {Op: "email", Sub: cmp("value", "eq", "x")}} {
		if _, _, err := s.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: d.ID, Filter: bad, Count: 10}); err == nil {
			t.Errorf("filter %+v accepted", bad)
		}
	}
}

func testListDirectoryGroups(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	var all []string
	for i := range 5 {
		all = append(all, mkGroup(t, s, d, fmt.Sprintf("G%d", i)).ID)
	}
	x := mkGroup(t, s, other, "X")
	u := mkUser(t, s, d, "u")
	for _, g := range []string{all[0], all[4]} {
		_, err := s.AddMember(ctx, d.ID, g, u.ID, now())
		mustNil(t, err)
	}
	list := func(f store.DirectoryGroupFilter) []string {
		gs, _, err := s.ListDirectoryGroups(ctx, f, store.Page{Limit: 10, Order: store.Asc})
		mustNil(t, err)
		return groupIDs(gs)
	}
	equal(t, "by directory", list(store.DirectoryGroupFilter{DirectoryID: other.ID}), []string{x.ID})
	equal(t, "by user", list(store.DirectoryGroupFilter{UserID: u.ID}), []string{all[0], all[4]})
	equal(t, "user of another directory", list(store.DirectoryGroupFilter{DirectoryID: other.ID, UserID: u.ID}), []string{})
	checkPages(t, "directory groups", all, func(p store.Page) ([]string, store.PageInfo, error) {
		gs, info, err := s.ListDirectoryGroups(ctx, store.DirectoryGroupFilter{DirectoryID: d.ID}, p)
		return groupIDs(gs), info, err
	})
}

func testMemberships(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	g, h := mkGroup(t, s, d, "G"), mkGroup(t, s, d, "H")
	a, b, c := newUser(d, "a"), newUser(d, "b"), newUser(d, "c")
	a.DisplayName = "A A"
	for _, u := range []store.DirectoryUser{a, b, c} {
		mustNil(t, s.CreateDirectoryUser(ctx, u))
	}
	t0 := now()
	add := func(g store.DirectoryGroup, u store.DirectoryUser, at time.Time) bool {
		t.Helper()
		ok, err := s.AddMember(ctx, d.ID, g.ID, u.ID, at)
		mustNil(t, err)
		return ok
	}
	// Join order is kept: c joined G before a.
	if !add(g, c, t0) || !add(g, a, t0.Add(time.Millisecond)) || !add(h, a, t0) {
		t.Fatal("a new membership not reported")
	}
	if add(g, a, t0.Add(time.Second)) {
		t.Error("a repeated add reported as new")
	}
	members, err := s.GroupMembers(ctx, []string{g.ID, h.ID})
	mustNil(t, err)
	equal(t, "members by group, in join order", members, []store.Member{
		{GroupID: g.ID, UserID: c.ID, UserName: "c"},
		{GroupID: g.ID, UserID: a.ID, UserName: "a", DisplayName: "A A"},
		{GroupID: h.ID, UserID: a.ID, UserName: "a", DisplayName: "A A"},
	})
	if ms, _ := s.GroupMembers(ctx, nil); len(ms) != 0 {
		t.Errorf("no groups asked: %d members", len(ms))
	}
	ug, err := s.UserGroups(ctx, []string{a.ID, b.ID, c.ID})
	mustNil(t, err)
	if len(ug) != 2 || !slices.Equal(groupIDs(ug[a.ID]), []string{g.ID, h.ID}) || !slices.Equal(groupIDs(ug[c.ID]), []string{g.ID}) {
		t.Errorf("user groups = %v", ug)
	}
	equal(t, "a group read through a user", ug[c.ID][0], g)

	// The user and group must both be in the directory named.
	x, y := mkUser(t, s, other, "x"), mkGroup(t, s, other, "Y")
	for _, tc := range []struct {
		name             string
		dir, group, user string
	}{
		{"a user of another directory", d.ID, g.ID, x.ID},
		{"a group of another directory", d.ID, y.ID, b.ID},
		{"both of another directory than named", d.ID, y.ID, x.ID},
		{"an unknown user", d.ID, g.ID, "directory_user_unknown"},
	} {
		ok, err := s.AddMember(ctx, tc.dir, tc.group, tc.user, t0)
		if ok || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: added=%v err=%v, want ErrNotFound", tc.name, ok, err)
		}
	}
	if ms, _ := s.GroupMembers(ctx, []string{y.ID}); len(ms) != 0 {
		t.Errorf("cross-directory membership stored: %+v", ms)
	}

	ok, err := s.RemoveMember(ctx, g.ID, c.ID)
	mustNil(t, err)
	if !ok {
		t.Error("removal of a membership not reported")
	}
	if ok, _ := s.RemoveMember(ctx, g.ID, c.ID); ok {
		t.Error("removal of a missing membership reported")
	}
	if ms, _ := s.GroupMembers(ctx, []string{g.ID}); len(ms) != 1 || ms[0].UserID != a.ID {
		t.Errorf("members after removal: %+v", ms)
	}
	// Many at once: only the new ones are reported, and users of another
	// directory or unknown ones are skipped.
	k := newUser(d, "k")
	mustNil(t, s.CreateDirectoryUser(ctx, k))
	added, err := s.AddMembers(ctx, d.ID, g.ID, []string{a.ID, k.ID, x.ID, "directory_user_unknown", c.ID}, t0.Add(2*time.Second))
	mustNil(t, err)
	slices.Sort(added)
	want := []string{k.ID, c.ID}
	slices.Sort(want)
	equal(t, "members added at once", added, want)
	if ms, _ := s.GroupMembers(ctx, []string{g.ID}); len(ms) != 3 || ms[0].UserID != a.ID {
		t.Errorf("members after adding many: %+v", ms)
	}
	if added, err := s.AddMembers(ctx, d.ID, y.ID, []string{a.ID}, t0); err != nil || len(added) != 0 {
		t.Errorf("a group of another directory: added %v, err %v", added, err)
	}
	if added, err := s.AddMembers(ctx, d.ID, g.ID, nil, t0); err != nil || len(added) != 0 {
		t.Errorf("no users: added %v, err %v", added, err)
	}
	for _, u := range []string{k.ID, c.ID} {
		_, err := s.RemoveMember(ctx, g.ID, u)
		mustNil(t, err)
	}
	// Concurrent adds of different users all land; of one user, one is new.
	var mu sync.Mutex
	users := []store.DirectoryUser{b, c}
	next := 0
	race(t, 2, func() (bool, error) {
		mu.Lock()
		u := users[next]
		next++
		mu.Unlock()
		return s.AddMember(ctx, d.ID, h.ID, u.ID, now())
	})
	if ms, _ := s.GroupMembers(ctx, []string{h.ID}); len(ms) != 3 {
		t.Errorf("concurrent adds: %d members, want 3", len(ms))
	}
	if wins := race(t, 4, func() (bool, error) { return s.AddMember(ctx, d.ID, g.ID, b.ID, now()) }); wins != 1 {
		t.Errorf("one membership reported new %d times", wins)
	}
}

// testDirectoryCascade: a deleted user or group leaves no memberships or
// emails behind; a deleted directory takes its tokens, users, groups and
// log; a deleted organization takes its directories.
func testDirectoryCascade(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := mkDirectory(t, s, o.ID, "D")
	u, v := newUser(d, "u"), newUser(d, "v")
	u.Emails = []store.UserEmail{{Value: "u@a.example", Primary: true}}
	mustNil(t, s.CreateDirectoryUser(ctx, u))
	mustNil(t, s.CreateDirectoryUser(ctx, v))
	g, h := mkGroup(t, s, d, "G"), mkGroup(t, s, d, "H")
	for _, m := range [][2]string{{g.ID, u.ID}, {g.ID, v.ID}, {h.ID, u.ID}} {
		_, err := s.AddMember(ctx, d.ID, m[0], m[1], now())
		mustNil(t, err)
	}
	mustNil(t, s.DeleteDirectoryUser(ctx, d.ID, u.ID))
	if ms, _ := s.GroupMembers(ctx, []string{g.ID, h.ID}); len(ms) != 1 || ms[0].UserID != v.ID {
		t.Errorf("memberships of a deleted user remain: %+v", ms)
	}
	// A new user may take the deleted one's email and name, and is found by it alone.
	u2 := newUser(d, "u")
	u2.Emails = u.Emails
	mustNil(t, s.CreateDirectoryUser(ctx, u2))
	if us, _, _ := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{Email: "u@a.example"}, store.Page{}); !slices.Equal(userIDs(us), []string{u2.ID}) {
		t.Errorf("by the deleted user's email: %v", userIDs(us))
	}
	mustNil(t, s.DeleteDirectoryGroup(ctx, d.ID, g.ID))
	if ug, _ := s.UserGroups(ctx, []string{v.ID}); len(ug[v.ID]) != 0 {
		t.Errorf("memberships of a deleted group remain: %+v", ug)
	}

	mustNil(t, s.CreateDirectoryToken(ctx, store.DirectoryToken{ID: id.New("directory_token"), DirectoryID: d.ID, Name: "t", Hash: []byte("h"), Suffix: "s", CreatedAt: now()}))
	mustNil(t, s.AppendSCIMRequests(ctx, []store.SCIMRequest{{ID: id.New("scim_request"), DirectoryID: d.ID, Method: "GET", Path: "/Users", Status: 200, CreatedAt: now()}}))
	mustNil(t, s.DeleteDirectory(ctx, d.ID))
	if _, _, err := s.DirectoryByTokenHash(ctx, []byte("h")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a deleted directory: %v", err)
	}
	if _, err := s.GetDirectoryUser(ctx, "", v.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user of a deleted directory: %v", err)
	}
	if _, err := s.GetDirectoryGroup(ctx, "", h.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("group of a deleted directory: %v", err)
	}
	if us, _, _ := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{Email: "u@a.example"}, store.Page{}); len(us) != 0 {
		t.Errorf("users found by email after their directory went: %d", len(us))
	}
	if rs, _, _ := s.ListSCIMRequests(ctx, d.ID, store.Page{}); len(rs) != 0 {
		t.Errorf("log of a deleted directory: %d entries", len(rs))
	}

	d2 := mkDirectory(t, s, o.ID, "D2")
	w := mkUser(t, s, d2, "w")
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	if _, err := s.GetDirectory(ctx, d2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("directory of a deleted organization: %v", err)
	}
	if _, err := s.GetDirectoryUser(ctx, "", w.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user of a deleted organization: %v", err)
	}
}

func testSCIMRequests(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d, other := mkDirectory(t, s, o.ID, "D"), mkDirectory(t, s, o.ID, "other")
	t0 := now()
	first := store.SCIMRequest{ID: id.New("scim_request"), DirectoryID: d.ID, Method: "POST", Path: "/Users", Status: 409,
		Error: "uniqueness", LatencyMicro: 1234, RequestBody: `{"userName":"a"}`, ResponseBody: `{"status":"409"}`, CreatedAt: oddTime(t0.Add(-time.Hour))}
	var rs []store.SCIMRequest
	var all []string
	for i := range 5 {
		r := store.SCIMRequest{ID: id.New("scim_request"), DirectoryID: d.ID, Method: "GET", Path: fmt.Sprintf("/Users?i=%d", i), Status: 200, CreatedAt: t0}
		if i == 0 {
			r = first
		}
		rs, all = append(rs, r), append(all, r.ID)
	}
	rs = append(rs, store.SCIMRequest{ID: id.New("scim_request"), DirectoryID: other.ID, Method: "GET", Path: "/Groups", Status: 200, CreatedAt: t0})
	mustNil(t, s.AppendSCIMRequests(ctx, rs))
	mustNil(t, s.AppendSCIMRequests(ctx, nil))
	fresh := store.SCIMRequest{ID: id.New("scim_request"), DirectoryID: d.ID, Method: "GET", Path: "/Users", Status: 200, CreatedAt: t0}
	wantErr(t, "a batch with a taken id", s.AppendSCIMRequests(ctx, []store.SCIMRequest{fresh, rs[0]}), store.ErrConflict)

	page, _, err := s.ListSCIMRequests(ctx, d.ID, store.Page{Limit: 1, Order: store.Asc})
	mustNil(t, err)
	want := first
	want.CreatedAt = ms(first.CreatedAt)
	equal(t, "round trip", page, []store.SCIMRequest{want})
	checkPages(t, "scim requests", all, func(p store.Page) ([]string, store.PageInfo, error) {
		rs, info, err := s.ListSCIMRequests(ctx, d.ID, p)
		return ids(rs, func(r store.SCIMRequest) string { return r.ID }), info, err
	})

	// Strictly before: entries at the cut-off stay, in every directory.
	mustNil(t, s.DeleteSCIMRequestsBefore(ctx, t0))
	left, _, _ := s.ListSCIMRequests(ctx, d.ID, store.Page{Limit: 10, Order: store.Asc})
	equal(t, "after the sweep", ids(left, func(r store.SCIMRequest) string { return r.ID }), all[1:])
	if left, _, _ := s.ListSCIMRequests(ctx, other.ID, store.Page{}); len(left) != 1 {
		t.Errorf("other directory's log after the sweep: %d", len(left))
	}
}
