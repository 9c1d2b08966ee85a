// Package storetest is the conformance suite that every store backend must
// pass, and the helpers that give tests a fresh store on each backend.
//
// Every method of store.Store has at least one named test here that checks
// its contract as the interface documents it: the happy path, ErrNotFound,
// ErrConflict where a uniqueness rule applies, tenant scoping (a read that
// takes a directory or connection finds nothing in another one), order and
// pagination, compare-and-set claims and leases (two callers, one wins),
// cascades, times at millisecond precision and the refusal of text that
// cannot be stored. TestConformance runs the whole suite on SQLite and, with
// GATEHOUSE_TEST_POSTGRES_URL set, on PostgreSQL. As in Dex's
// storage/conformance, a store method without a conformance test does not
// exist yet.
//
// To add a store method:
//
//  1. Write a test, func(t *testing.T, s store.Store), in the file of its
//     aggregate (conformance_sso.go, conformance_directory.go, …) and add it
//     with a name to that file's list (ssoTests, directoryTests, …). Each
//     test gets a fresh, empty store.
//  2. Add one line to covered in coverage.go: the method's name and the
//     name of the test that checks its contract.
//
// TestEveryMethodIsCovered fails while a method of store.Store has no line
// in covered, and when a line names a method or a test that does not exist.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// suiteTest is one named conformance test.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// suite returns every conformance test, aggregate by aggregate.
func suite() []suiteTest {
	return slices.Concat(storeTests, foundationTests, organizationTests, eventTests, ssoTests, directoryTests, auditLogTests, secretTests, deliveryTests, portalTests)
}

// Run is the conformance suite: every backend must pass it unchanged. Each
// test gets its own store from open.
func Run(t *testing.T, open func(t testing.TB) store.Store) {
	for _, tc := range suite() {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// storeTests check the Store itself: transactions and the handle.
var storeTests = []suiteTest{
	{"transaction rolls back on error", testRollback},
	{"transaction commits every write", testCommit},
	{"deadlock victims are retried", testDeadlockRetry},
	{"ping, dialect and close", testHandle},
	{"text with NUL or invalid UTF-8 is refused", testUnstorableText},
	{"deferred writes are read back and committed in order", testDeferredWrites},
	{"a failed deferred write fails the transaction", testDeferredWriteFails},
}

var ctx = context.Background()

// now is the current time as the store keeps it: UTC, whole milliseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// oddTime is a time with sub-millisecond digits in a zone other than UTC;
// reading it back must give the same instant, cut to the millisecond, in UTC.
func oddTime(t time.Time) time.Time {
	return t.Add(456789 * time.Nanosecond).In(time.FixedZone("UTC+5:30", 5*3600+1800))
}

// ms is the form the store gives back for t: UTC, whole milliseconds.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Millisecond).UTC()
}

func newOrg(name string) store.Organization {
	now := now()
	return store.Organization{ID: id.New("org"), Name: name, SSOPolicy: "optional", Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
}

func newDomain(orgID, domain, state string) store.Domain {
	now := now()
	return store.Domain{ID: id.New("org_domain"), OrganizationID: orgID, Domain: domain, State: state, VerificationStrategy: "dns",
		VerificationToken: "tok", VerificationPrefix: "p", CreatedAt: now, UpdatedAt: now}
}

// mkOrg stores a new organization.
func mkOrg(t *testing.T, s store.Queries, name string) store.Organization {
	t.Helper()
	o := newOrg(name)
	mustNil(t, s.CreateOrganization(ctx, o))
	return o
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err is target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// equal fails unless got and want are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// race runs fn on n goroutines at once and returns how many reported true.
func race(t *testing.T, n int, fn func() (bool, error)) int {
	t.Helper()
	var mu sync.Mutex
	var wins int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn()
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins
}

// ids returns a field (usually the ID) of each of items, in order.
func ids[T, V any](items []T, field func(T) V) []V {
	out := []V{}
	for _, it := range items {
		out = append(out, field(it))
	}
	return out
}

// checkPages walks list, a WorkOS-style list whose items' IDs, oldest
// first, are want, in pages of 2 in both orders, forwards by after and back
// by before, and checks every page and cursor.
func checkPages(t *testing.T, what string, want []string, list func(p store.Page) ([]string, store.PageInfo, error)) {
	t.Helper()
	if len(want) < 5 {
		t.Fatalf("%s: checkPages needs at least 5 items", what)
	}
	for _, order := range []store.Order{store.Asc, store.Desc} {
		all := slices.Clone(want)
		if order == store.Desc {
			slices.Reverse(all)
		}
		var got []string
		var pages []store.PageInfo
		after := ""
		for range len(all) {
			page, info, err := list(store.Page{Limit: 2, Order: order, After: after})
			mustNil(t, err)
			got = append(got, page...)
			pages = append(pages, info)
			if info.After == "" {
				break
			}
			after = info.After
		}
		equal(t, fmt.Sprintf("%s: %s by after", what, order), got, all)
		// The last page has no after; every page but the first has a before.
		if last := pages[len(pages)-1]; last.After != "" {
			t.Errorf("%s: %s: last page has after %q", what, order, last.After)
		}
		if pages[0].Before != "" {
			t.Errorf("%s: %s: first page has before %q", what, order, pages[0].Before)
		}
		// Back from the last item by before: the two items before it.
		page, info, err := list(store.Page{Limit: 2, Order: order, Before: all[len(all)-1]})
		mustNil(t, err)
		equal(t, fmt.Sprintf("%s: %s before the last", what, order), page, all[len(all)-3:len(all)-1])
		if info.After != all[len(all)-2] || info.Before != all[len(all)-3] {
			t.Errorf("%s: %s before the last: cursors %+v", what, order, info)
		}
		page, _, err = list(store.Page{Limit: 10, Order: order})
		mustNil(t, err)
		equal(t, fmt.Sprintf("%s: %s in one page", what, order), page, all)
	}
	// The default order is newest first, 10 to a page.
	page, _, err := list(store.Page{})
	mustNil(t, err)
	if len(page) == 0 || page[0] != want[len(want)-1] {
		t.Errorf("%s: default order does not start with the newest: %v", what, page)
	}
}

// checkClaim checks a claim of due jobs by compare-and-set on their due
// time. The store holds two due rows, due1 overdue longer than due2, and
// rows that are not due. claim(limit) claims with one now and next and
// returns the IDs claimed and their due times; stored reads a row's due
// time back. The limit takes the most overdue first; of racing callers
// exactly one claims the rest; a claimed row's due time moves to next;
// nothing is claimed twice.
func checkClaim(t *testing.T, due1, due2 string, next time.Time, claim func(limit int) ([]string, []time.Time, error), stored func(id string) time.Time) {
	t.Helper()
	first, dues, err := claim(1)
	mustNil(t, err)
	if !slices.Equal(first, []string{due1}) || !dues[0].Equal(next) {
		t.Fatalf("claim with limit 1: %v due %v, want %s due %v", first, dues, due1, next)
	}
	var mu sync.Mutex
	var claimed []string
	wins := race(t, 4, func() (bool, error) {
		got, _, err := claim(10)
		mu.Lock()
		claimed = append(claimed, got...)
		mu.Unlock()
		return len(got) > 0, err
	})
	if wins != 1 {
		t.Errorf("%d callers claimed something, want 1", wins)
	}
	equal(t, "claimed once", claimed, []string{due2})
	if at := stored(due2); !at.Equal(next) {
		t.Errorf("stored due time = %v, want %v", at, next)
	}
	if again, _, _ := claim(10); len(again) != 0 {
		t.Errorf("claimed again: %v", again)
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

// testCommit: writes made through q are visible to q before the commit and
// to everyone after it.
func testCommit(t *testing.T, s store.Store) {
	o := newOrg("A")
	mustNil(t, s.InTx(ctx, func(q store.Queries) error {
		mustNil(t, q.CreateOrganization(ctx, o))
		if _, err := q.GetOrganization(ctx, o.ID); err != nil {
			t.Errorf("own write not visible in the transaction: %v", err)
		}
		return q.AppendEvent(ctx, store.Event{ID: id.New("event"), Name: "organization.created", Data: []byte(`{}`), CreatedAt: time.Now()})
	}))
	if _, err := s.GetOrganization(ctx, o.ID); err != nil {
		t.Errorf("committed org: %v", err)
	}
	if evs, _ := s.ListEvents(ctx, store.EventFilter{}, 10, false); len(evs) != 1 {
		t.Errorf("committed events: %d", len(evs))
	}
}

// testDeferredWrites: with store.WithDeferredWrites a transaction's reads
// and row-counting writes still see its earlier writes (a store that holds
// writes back sends them first), and everything commits.
func testDeferredWrites(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := mkDirectory(t, s, o.ID, "D")
	u := newUser(d, "alice@a.example")
	u.Emails = []store.UserEmail{{Value: "alice@a.example", Type: "work", Primary: true}}
	ev := id.New("event")
	mustNil(t, s.InTx(store.WithDeferredWrites(ctx), func(q store.Queries) error {
		if err := q.CreateDirectoryUser(ctx, u); err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, store.Event{ID: ev, Name: "dsync.user.created", Data: []byte(`{}`), CreatedAt: now()}); err != nil {
			return err
		}
		// A write that must report whether it touched a row.
		u.FirstName = "Alice"
		if err := q.UpdateDirectoryUser(ctx, u); err != nil {
			return fmt.Errorf("update the user created in this transaction: %w", err)
		}
		got, _, err := q.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: d.ID, Count: 10})
		if err != nil || len(got) != 1 || got[0].FirstName != "Alice" || len(got[0].Emails) != 1 {
			return fmt.Errorf("read in the transaction: %v, %v", got, err)
		}
		return nil
	}))
	got, err := s.GetDirectoryUser(ctx, d.ID, u.ID, false)
	mustNil(t, err)
	if got.FirstName != "Alice" {
		t.Errorf("committed user %+v", got)
	}
	if us, _, err := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{Email: "alice@a.example"}, store.Page{Limit: 10}); err != nil || len(us) != 1 {
		t.Errorf("user by e-mail: %v, %v", us, err)
	}
	if _, err := s.GetEvent(ctx, ev); err != nil {
		t.Errorf("committed event: %v", err)
	}
}

// testDeferredWriteFails: a write that breaks a uniqueness rule under
// store.WithDeferredWrites is reported by some later call or by InTx (a
// store that held it back reports it late), and nothing of the
// transaction stays.
func testDeferredWriteFails(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := mkDirectory(t, s, o.ID, "D")
	mkUser(t, s, d, "taken@a.example")
	first, dup := newUser(d, "new@a.example"), newUser(d, "Taken@A.example")
	ev := id.New("event")
	err := s.InTx(store.WithDeferredWrites(ctx), func(q store.Queries) error {
		if err := q.CreateDirectoryUser(ctx, first); err != nil {
			return err
		}
		if err := q.CreateDirectoryUser(ctx, dup); err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, store.Event{ID: ev, Name: "dsync.user.created", Data: []byte(`{}`), CreatedAt: now()}); err != nil {
			return err
		}
		_, err := q.GetDirectoryUser(ctx, d.ID, first.ID, false)
		return err
	})
	wantErr(t, "InTx", err, store.ErrConflict)
	if _, err := s.GetDirectoryUser(ctx, d.ID, first.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user of the failed transaction exists: %v", err)
	}
	if _, err := s.GetEvent(ctx, ev); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an event of the failed transaction exists: %v", err)
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

// testHandle: Ping answers while open and fails once closed; Dialect names
// one of the two backends.
func testHandle(t *testing.T, s store.Store) {
	mustNil(t, s.Ping(ctx))
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect = %q", d)
	}
	mustNil(t, s.Close())
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

// testUnstorableText: PostgreSQL cannot store NUL or invalid UTF-8 in text
// and SQLite could; both backends refuse such a write with a 400
// (invalid_text) and let a read by such a value find nothing.
func testUnstorableText(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	dir := mkDirectory(t, s, o.ID, "D")
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		writes := []struct {
			name string
			err  error
		}{
			{"organization name", s.CreateOrganization(ctx, newOrg(bad))},
			{"domain", s.CreateDomain(ctx, newDomain(o.ID, bad, store.DomainPending))},
			{"event data", s.AppendEvent(ctx, store.Event{ID: id.New("event"), Name: "x", Data: []byte(`"` + bad + `"`), CreatedAt: now()})},
			{"connection name", s.CreateConnection(ctx, func() store.Connection { c := newSAMLConnection(o.ID, "C"); c.Name = bad; return c }())},
			{"directory user name", s.CreateDirectoryUser(ctx, newUser(dir, bad))},
			{"scim request body", s.AppendSCIMRequests(ctx, []store.SCIMRequest{{ID: id.New("scim"), DirectoryID: dir.ID, RequestBody: bad, CreatedAt: now()}})},
			{"replay key", s.ConsumeReplayKey(ctx, bad, now().Add(time.Hour))},
		}
		for _, w := range writes {
			if !errs.IsKind(w.err, errs.KindBadRequest) {
				t.Errorf("%q: write of %s: err = %v, want a 400", bad, w.name, w.err)
			}
		}
		_, err := s.GetOrganization(ctx, bad)
		wantErr(t, "organization by bad id", err, store.ErrNotFound)
		_, err = s.VerifiedDomain(ctx, bad)
		wantErr(t, "verified domain by bad name", err, store.ErrNotFound)
		_, err = s.DirectoryUserByIdPID(ctx, dir.ID, bad)
		wantErr(t, "user by bad idp id", err, store.ErrNotFound)
		users, _, err := s.ListDirectoryUsers(ctx, store.DirectoryUserFilter{DirectoryID: dir.ID, Email: bad}, store.Page{})
		if err != nil || len(users) != 0 {
			t.Errorf("list users by bad email: %v, %d users", err, len(users))
		}
	}
}
