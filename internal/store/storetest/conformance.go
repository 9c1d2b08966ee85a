package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Run is the conformance suite: every backend must pass it unchanged.
func Run(t *testing.T, open func(t testing.TB) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"organizations round trip", testOrganizations},
		{"external id is unique", testExternalIDUnique},
		{"pagination cursors", testPagination},
		{"domain uniqueness rules", testDomainUniqueness},
		{"deleting an organization removes its domains", testCascade},
		{"transaction rolls back on error", testRollback},
		{"events filters and order", testEvents},
		{"events readers never skip a late commit", testEventsLateCommit},
		{"idempotency reservations", testIdempotency},
		{"settings keep the first value", testSettings},
		{"deadlock victims are retried", testDeadlockRetry},
		{"audit logs", testAuditLogs},
		{"certificate retirement", testCertificateRetirement},
		{"connection compare-and-set", testConnectionCompareAndSet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func newOrg(name string) store.Organization {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Organization{ID: id.New("org"), Name: name, SSOPolicy: "optional", Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
}

func newDomain(orgID, domain, state string) store.Domain {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Domain{ID: id.New("org_domain"), OrganizationID: orgID, Domain: domain, State: state, VerificationStrategy: "dns",
		VerificationToken: "tok", VerificationPrefix: "p", CreatedAt: now, UpdatedAt: now}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testOrganizations(t *testing.T, s store.Store) {
	o := newOrg("Acme")
	o.ExternalID, o.Metadata = "ext-1", map[string]string{"k": "v"}
	o.AllowProfilesOutsideOrganization = true
	mustNil(t, s.CreateOrganization(ctx, o))
	got, err := s.GetOrganization(ctx, o.ID)
	mustNil(t, err)
	if fmt.Sprint(got) != fmt.Sprint(o) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, o)
	}
	o.Name, o.ExternalID = "Acme 2", ""
	mustNil(t, s.UpdateOrganization(ctx, o))
	got, _ = s.GetOrganization(ctx, o.ID)
	if got.Name != "Acme 2" || got.ExternalID != "" {
		t.Errorf("after update: %+v", got)
	}
	if _, err := s.GetOrganizationByExternalID(ctx, "ext-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cleared external id still found: %v", err)
	}
	if err := s.UpdateOrganization(ctx, newOrg("ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of missing org: %v", err)
	}
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	if _, err := s.GetOrganization(ctx, o.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted org: %v", err)
	}
}

func testExternalIDUnique(t *testing.T, s store.Store) {
	a, b, c := newOrg("A"), newOrg("B"), newOrg("C")
	a.ExternalID, b.ExternalID = "same", "same"
	mustNil(t, s.CreateOrganization(ctx, a))
	if err := s.CreateOrganization(ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate external id: %v, want ErrConflict", err)
	}
	// Many organizations may have none.
	mustNil(t, s.CreateOrganization(ctx, c))
	mustNil(t, s.CreateOrganization(ctx, newOrg("D")))
}

func testPagination(t *testing.T, s store.Store) {
	var ids []string
	for i := range 7 {
		o := newOrg(fmt.Sprintf("Org %d", i))
		mustNil(t, s.CreateOrganization(ctx, o))
		ids = append(ids, o.ID)
	}
	pageIDs := func(os []store.Organization) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	// Newest first by default: pages of 3 are [6 5 4] [3 2 1] [0].
	p1, i1, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, store.Page{Limit: 3, Order: store.Desc})
	mustNil(t, err)
	if fmt.Sprint(pageIDs(p1)) != fmt.Sprint([]string{ids[6], ids[5], ids[4]}) || i1.Before != "" || i1.After != ids[4] {
		t.Fatalf("page 1 = %v %+v", pageIDs(p1), i1)
	}
	p2, i2, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, store.Page{Limit: 3, Order: store.Desc, After: i1.After})
	mustNil(t, err)
	if fmt.Sprint(pageIDs(p2)) != fmt.Sprint([]string{ids[3], ids[2], ids[1]}) || i2.Before != ids[3] || i2.After != ids[1] {
		t.Fatalf("page 2 = %v %+v", pageIDs(p2), i2)
	}
	p3, i3, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, store.Page{Limit: 3, Order: store.Desc, After: i2.After})
	mustNil(t, err)
	if fmt.Sprint(pageIDs(p3)) != fmt.Sprint([]string{ids[0]}) || i3.After != "" || i3.Before != ids[0] {
		t.Fatalf("last page = %v %+v", pageIDs(p3), i3)
	}
	// Back from page 3 with before = its first ID gives page 2 again.
	b2, bi, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, store.Page{Limit: 3, Order: store.Desc, Before: i3.Before})
	mustNil(t, err)
	if fmt.Sprint(pageIDs(b2)) != fmt.Sprint(pageIDs(p2)) || bi.Before != ids[3] || bi.After != ids[1] {
		t.Fatalf("before page = %v %+v", pageIDs(b2), bi)
	}
	asc, ai, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, store.Page{Limit: 10, Order: store.Asc})
	mustNil(t, err)
	if fmt.Sprint(pageIDs(asc)) != fmt.Sprint(ids) || ai.After != "" || ai.Before != "" {
		t.Fatalf("asc = %v %+v", pageIDs(asc), ai)
	}
	s3, _, err := s.ListOrganizations(ctx, store.OrganizationFilter{Search: "org 3"}, store.Page{Limit: 10})
	mustNil(t, err)
	if len(s3) != 1 || s3[0].ID != ids[3] {
		t.Errorf("search = %v", pageIDs(s3))
	}
	none, _, err := s.ListOrganizations(ctx, store.OrganizationFilter{Search: "%"}, store.Page{Limit: 10})
	mustNil(t, err)
	if len(none) != 0 {
		t.Errorf("search for a literal %% matched %d", len(none))
	}
}

func testDomainUniqueness(t *testing.T, s store.Store) {
	a, b := newOrg("A"), newOrg("B")
	mustNil(t, s.CreateOrganization(ctx, a))
	mustNil(t, s.CreateOrganization(ctx, b))
	da := newDomain(a.ID, "acme.example", store.DomainVerified)
	mustNil(t, s.CreateDomain(ctx, da))
	if err := s.CreateDomain(ctx, newDomain(a.ID, "acme.example", store.DomainPending)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same domain twice in one org: %v", err)
	}
	// Another organization may hold it pending, but not verified.
	db := newDomain(b.ID, "acme.example", store.DomainPending)
	mustNil(t, s.CreateDomain(ctx, db))
	db.State = store.DomainVerified
	if err := s.UpdateDomain(ctx, db); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second verified holder: %v, want ErrConflict", err)
	}
	got, err := s.VerifiedDomain(ctx, "acme.example")
	mustNil(t, err)
	if got.OrganizationID != a.ID {
		t.Errorf("verified holder = %s", got.OrganizationID)
	}
}

func testCascade(t *testing.T, s store.Store) {
	o := newOrg("A")
	mustNil(t, s.CreateOrganization(ctx, o))
	d := newDomain(o.ID, "a.example", store.DomainPending)
	mustNil(t, s.CreateDomain(ctx, d))
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	if _, err := s.GetDomain(ctx, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("domain of deleted org: %v", err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	o := newOrg("A")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(q store.Queries) error {
		mustNil(t, q.CreateOrganization(ctx, o))
		mustNil(t, q.AppendEvent(ctx, store.Event{ID: id.New("event"), Name: "organization.created", Data: []byte(`{}`), CreatedAt: time.Now()}))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if _, err := s.GetOrganization(ctx, o.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back org exists: %v", err)
	}
	evs, _ := s.ListEvents(ctx, store.EventFilter{}, 10, false)
	if len(evs) != 0 {
		t.Errorf("rolled-back event exists")
	}
}

func appendEvent(t *testing.T, q store.Events, name, org string, at time.Time) store.Event {
	t.Helper()
	e := store.Event{ID: id.New("event"), Name: name, OrganizationID: org, Data: []byte(`{"n":1}`), CreatedAt: at}
	mustNil(t, q.AppendEvent(ctx, e))
	return e
}

func testEvents(t *testing.T, s store.Store) {
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	e1 := appendEvent(t, s, "a.one", "org_1", t0)
	e2 := appendEvent(t, s, "b.two", "org_2", t0.Add(time.Second))
	e3 := appendEvent(t, s, "a.one", "org_2", t0.Add(2*time.Second))
	names := func(evs []store.Event) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return fmt.Sprint(out)
	}
	cases := []struct {
		name string
		f    store.EventFilter
		desc bool
		want []store.Event
	}{
		{"all oldest first", store.EventFilter{}, false, []store.Event{e1, e2, e3}},
		{"all newest first", store.EventFilter{}, true, []store.Event{e3, e2, e1}},
		{"by name", store.EventFilter{Names: []string{"a.one"}}, false, []store.Event{e1, e3}},
		{"by organization", store.EventFilter{OrganizationID: "org_2"}, false, []store.Event{e2, e3}},
		{"range", store.EventFilter{RangeStart: t0.Add(500 * time.Millisecond), RangeEnd: t0.Add(1500 * time.Millisecond)}, false, []store.Event{e2}},
	}
	for _, tc := range cases {
		got, err := s.ListEvents(ctx, tc.f, 10, tc.desc)
		mustNil(t, err)
		if names(got) != names(tc.want) {
			t.Errorf("%s: got %s, want %s", tc.name, names(got), names(tc.want))
		}
	}
	first, _ := s.GetEvent(ctx, e1.ID)
	after, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: first.Seq}, 10, false)
	mustNil(t, err)
	if names(after) != names([]store.Event{e2, e3}) {
		t.Errorf("after e1: %s", names(after))
	}
	if string(after[0].Data) != `{"n":1}` || !after[0].CreatedAt.Equal(e2.CreatedAt) {
		t.Errorf("event round trip: %+v", after[0])
	}
}

// testEventsLateCommit holds a transaction open after appending an event
// while other transactions append and commit, with a reader following by
// cursor. The reader must end up with every event: on PostgreSQL a
// sequence value drawn early but committed late would otherwise fall
// behind a cursor that has already moved past it.
func testEventsLateCommit(t *testing.T, s store.Store) {
	appended := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := s.InTx(ctx, func(q store.Queries) error {
			appendEvent(t, q, "slow.tx", "", time.Now())
			close(appended)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-appended
	const fast = 5
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for range fast {
			mustNil(t, s.InTx(ctx, func(q store.Queries) error {
				appendEvent(t, q, "fast.tx", "", time.Now())
				return nil
			}))
		}
	}()
	seen := map[string]bool{}
	var cursor int64
	read := func() {
		evs, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: cursor}, 100, false)
		mustNil(t, err)
		for _, e := range evs {
			seen[e.ID] = true
			cursor = e.Seq
		}
	}
	// Read while the slow transaction is still open (the fast ones either
	// wait for it or commit before it), then let it commit.
	time.Sleep(50 * time.Millisecond)
	read()
	close(release)
	wg.Wait()
	<-fastDone
	read()
	if len(seen) != fast+1 {
		t.Errorf("cursor reader saw %d of %d events", len(seen), fast+1)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	r := store.IdempotencyRecord{Scope: "key_1:abc", RequestHash: []byte{1, 2}, CreatedAt: time.Now()}
	fresh, _, err := s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if !fresh {
		t.Fatal("first reservation not fresh")
	}
	fresh, prev, err := s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if fresh || prev.Status != 0 {
		t.Fatalf("second reservation: fresh=%v prev=%+v", fresh, prev)
	}
	mustNil(t, s.CompleteIdempotencyKey(ctx, r.Scope, 201, []byte(`{"ok":true}`)))
	_, prev, err = s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if prev.Status != 201 || string(prev.Body) != `{"ok":true}` || string(prev.RequestHash) != string(r.RequestHash) {
		t.Errorf("completed record = %+v", prev)
	}
	r2 := store.IdempotencyRecord{Scope: "key_1:def", RequestHash: []byte{3}, CreatedAt: time.Now()}
	s.ReserveIdempotencyKey(ctx, r2)
	mustNil(t, s.ReleaseIdempotencyKey(ctx, r2.Scope))
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, r2); !fresh {
		t.Error("released key cannot be reserved again")
	}
	mustNil(t, s.DeleteIdempotencyBefore(ctx, time.Now().Add(time.Minute)))
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, r); !fresh {
		t.Error("swept key still reserved")
	}
}

func testSettings(t *testing.T, s store.Store) {
	v, err := s.GetOrCreateSetting(ctx, "client_id", "first")
	mustNil(t, err)
	v2, err := s.GetOrCreateSetting(ctx, "client_id", "second")
	mustNil(t, err)
	if v != "first" || v2 != "first" {
		t.Errorf("settings = %q, %q", v, v2)
	}
}

// testDeadlockRetry makes two transactions lock two rows in opposite
// orders. PostgreSQL aborts one as a deadlock victim; InTx must run it
// again so that both succeed. (SQLite serialises writers, so there is no
// deadlock to provoke there.)
func testDeadlockRetry(t *testing.T, s store.Store) {
	if s.Dialect() != "postgres" {
		t.Skip("writers are serialised on " + s.Dialect())
	}
	a, b := newOrg("A"), newOrg("B")
	mustNil(t, s.CreateOrganization(ctx, a))
	mustNil(t, s.CreateOrganization(ctx, b))
	locked := make(chan struct{}, 2)
	var wg sync.WaitGroup
	var attempts [2]int
	for i, order := range [][2]store.Organization{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.InTx(ctx, func(q store.Queries) error {
				attempts[i]++
				first, second := order[0], order[1]
				first.Name = fmt.Sprintf("by %d", i)
				if err := q.UpdateOrganization(ctx, first); err != nil {
					return err
				}
				if attempts[i] == 1 {
					// Wait until the other transaction holds its first row.
					locked <- struct{}{}
					deadline := time.After(2 * time.Second)
					for len(locked) < 2 {
						select {
						case <-deadline:
							return nil
						case <-time.After(5 * time.Millisecond):
						}
					}
				}
				second.Name = fmt.Sprintf("by %d", i)
				return q.UpdateOrganization(ctx, second)
			})
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if attempts[0]+attempts[1] < 3 {
		t.Errorf("attempts = %v: the deadlock victim was not run again", attempts)
	}
}
