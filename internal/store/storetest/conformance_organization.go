package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// organizationTests check organizations and their domains.
var organizationTests = []suiteTest{
	{"organizations round trip", testOrganizations},
	{"external id is unique", testExternalIDUnique},
	{"organization by external id", testOrganizationByExternalID},
	{"pagination cursors", testPagination},
	{"organizations filtered by domain", testOrganizationsByDomain},
	{"domains round trip", testDomains},
	{"domain uniqueness rules", testDomainUniqueness},
	{"domains of many organizations", testDomainsFor},
	{"due domain checks are claimed once", testClaimDueDomains},
	{"deleting an organization removes its domains", testCascade},
}

func testOrganizations(t *testing.T, s store.Store) {
	o := newOrg("Acme")
	o.ExternalID, o.Metadata = "ext-1", map[string]string{"k": "v"}
	o.StripeCustomerID, o.SSOPolicy = "cus_1", "required"
	o.AllowProfilesOutsideOrganization = true
	o.CreatedAt, o.UpdatedAt = oddTime(o.CreatedAt), oddTime(o.UpdatedAt)
	mustNil(t, s.CreateOrganization(ctx, o))
	got, err := s.GetOrganization(ctx, o.ID)
	mustNil(t, err)
	want := o
	want.CreatedAt, want.UpdatedAt = ms(o.CreatedAt), ms(o.UpdatedAt)
	equal(t, "round trip", got, want)
	wantErr(t, "same id again", s.CreateOrganization(ctx, o), store.ErrConflict)

	o.Name, o.ExternalID, o.Metadata = "Acme 2", "", nil
	o.UpdatedAt = o.UpdatedAt.Add(time.Second)
	mustNil(t, s.UpdateOrganization(ctx, o))
	got, _ = s.GetOrganization(ctx, o.ID)
	if got.Name != "Acme 2" || got.ExternalID != "" || len(got.Metadata) != 0 || !got.UpdatedAt.Equal(ms(o.UpdatedAt)) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("after update: %+v", got)
	}
	if _, err := s.GetOrganizationByExternalID(ctx, "ext-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cleared external id still found: %v", err)
	}
	wantErr(t, "update of missing org", s.UpdateOrganization(ctx, newOrg("ghost")), store.ErrNotFound)
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	_, err = s.GetOrganization(ctx, o.ID)
	wantErr(t, "deleted org", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteOrganization(ctx, o.ID), store.ErrNotFound)
}

func testExternalIDUnique(t *testing.T, s store.Store) {
	a, b, c := newOrg("A"), newOrg("B"), newOrg("C")
	a.ExternalID, b.ExternalID = "same", "same"
	mustNil(t, s.CreateOrganization(ctx, a))
	wantErr(t, "duplicate external id", s.CreateOrganization(ctx, b), store.ErrConflict)
	// Many organizations may have none.
	mustNil(t, s.CreateOrganization(ctx, c))
	mustNil(t, s.CreateOrganization(ctx, newOrg("D")))
	// Nor may an update take one that is in use.
	c.ExternalID = "same"
	wantErr(t, "update to a taken external id", s.UpdateOrganization(ctx, c), store.ErrConflict)
}

func testOrganizationByExternalID(t *testing.T, s store.Store) {
	o := newOrg("A")
	o.ExternalID = "Ext-1"
	mustNil(t, s.CreateOrganization(ctx, o))
	mkOrg(t, s, "B")
	got, err := s.GetOrganizationByExternalID(ctx, "Ext-1")
	mustNil(t, err)
	if got.ID != o.ID {
		t.Errorf("by external id: %s, want %s", got.ID, o.ID)
	}
	// External IDs are the host app's and compare exactly.
	_, err = s.GetOrganizationByExternalID(ctx, "ext-1")
	wantErr(t, "other case", err, store.ErrNotFound)
	_, err = s.GetOrganizationByExternalID(ctx, "")
	wantErr(t, "empty external id", err, store.ErrNotFound)
}

func testPagination(t *testing.T, s store.Store) {
	var all []string
	for i := range 7 {
		all = append(all, mkOrg(t, s, fmt.Sprintf("Org %d", i)).ID)
	}
	orgIDs := func(os []store.Organization) []string {
		return ids(os, func(o store.Organization) string { return o.ID })
	}
	checkPages(t, "organizations", all, func(p store.Page) ([]string, store.PageInfo, error) {
		os, info, err := s.ListOrganizations(ctx, store.OrganizationFilter{}, p)
		return orgIDs(os), info, err
	})
	s3, _, err := s.ListOrganizations(ctx, store.OrganizationFilter{Search: "ORG 3"}, store.Page{Limit: 10})
	mustNil(t, err)
	equal(t, "search", orgIDs(s3), []string{all[3]})
	for _, lit := range []string{"%", "_", `\`} {
		none, _, err := s.ListOrganizations(ctx, store.OrganizationFilter{Search: lit}, store.Page{Limit: 10})
		mustNil(t, err)
		if len(none) != 0 {
			t.Errorf("search for a literal %q matched %d", lit, len(none))
		}
	}
}

func testOrganizationsByDomain(t *testing.T, s store.Store) {
	a, b, c := mkOrg(t, s, "A"), mkOrg(t, s, "B"), mkOrg(t, s, "C")
	mustNil(t, s.CreateDomain(ctx, newDomain(a.ID, "a.example", store.DomainVerified)))
	mustNil(t, s.CreateDomain(ctx, newDomain(a.ID, "a2.example", store.DomainPending)))
	mustNil(t, s.CreateDomain(ctx, newDomain(b.ID, "b.example", store.DomainPending)))
	orgIDs := func(f store.OrganizationFilter) []string {
		os, _, err := s.ListOrganizations(ctx, f, store.Page{Limit: 10, Order: store.Asc})
		mustNil(t, err)
		return ids(os, func(o store.Organization) string { return o.ID })
	}
	equal(t, "one domain", orgIDs(store.OrganizationFilter{Domains: []string{"b.example"}}), []string{b.ID})
	equal(t, "any of two, once each", orgIDs(store.OrganizationFilter{Domains: []string{"a.example", "a2.example", "b.example"}}), []string{a.ID, b.ID})
	equal(t, "domain and search", orgIDs(store.OrganizationFilter{Domains: []string{"a.example", "b.example"}, Search: "b"}), []string{b.ID})
	equal(t, "unknown domain", orgIDs(store.OrganizationFilter{Domains: []string{"c.example"}}), []string{})
	equal(t, "no filter", orgIDs(store.OrganizationFilter{}), []string{a.ID, b.ID, c.ID})
}

func testDomains(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := newDomain(o.ID, "a.example", store.DomainPending)
	d.CreatedAt, d.UpdatedAt, d.NextCheckAt = oddTime(d.CreatedAt), oddTime(d.UpdatedAt), oddTime(d.CreatedAt.Add(time.Hour))
	mustNil(t, s.CreateDomain(ctx, d))
	got, err := s.GetDomain(ctx, d.ID)
	mustNil(t, err)
	want := d
	want.CreatedAt, want.UpdatedAt, want.NextCheckAt = ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.NextCheckAt)
	equal(t, "round trip (never checked)", got, want)

	d.State, d.VerificationStrategy = store.DomainFailed, "manual"
	d.LastCheckedAt, d.LastCheckError, d.LastCheckMessage = oddTime(now()), "record_not_found", "no TXT record"
	d.NextCheckAt, d.UpdatedAt = time.Time{}, d.UpdatedAt.Add(time.Second)
	mustNil(t, s.UpdateDomain(ctx, d))
	got, _ = s.GetDomain(ctx, d.ID)
	want = d
	want.CreatedAt, want.UpdatedAt, want.LastCheckedAt = ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.LastCheckedAt)
	equal(t, "after update", got, want)

	ghost := newDomain(o.ID, "ghost.example", store.DomainPending)
	wantErr(t, "update of missing domain", s.UpdateDomain(ctx, ghost), store.ErrNotFound)
	_, err = s.GetDomain(ctx, ghost.ID)
	wantErr(t, "missing domain", err, store.ErrNotFound)
	wantErr(t, "same id again", s.CreateDomain(ctx, d), store.ErrConflict)

	// ListDomains: oldest first, this organization's only.
	d2 := newDomain(o.ID, "b.example", store.DomainPending)
	mustNil(t, s.CreateDomain(ctx, d2))
	other := mkOrg(t, s, "B")
	mustNil(t, s.CreateDomain(ctx, newDomain(other.ID, "c.example", store.DomainPending)))
	list, err := s.ListDomains(ctx, o.ID)
	mustNil(t, err)
	equal(t, "list", ids(list, func(d store.Domain) string { return d.ID }), []string{d.ID, d2.ID})
	if list, _ := s.ListDomains(ctx, "org_unknown"); len(list) != 0 {
		t.Errorf("domains of an unknown organization: %d", len(list))
	}

	mustNil(t, s.DeleteDomain(ctx, d.ID))
	_, err = s.GetDomain(ctx, d.ID)
	wantErr(t, "deleted domain", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteDomain(ctx, d.ID), store.ErrNotFound)
}

func testDomainUniqueness(t *testing.T, s store.Store) {
	a, b := mkOrg(t, s, "A"), mkOrg(t, s, "B")
	da := newDomain(a.ID, "acme.example", store.DomainVerified)
	mustNil(t, s.CreateDomain(ctx, da))
	wantErr(t, "same domain twice in one org", s.CreateDomain(ctx, newDomain(a.ID, "acme.example", store.DomainPending)), store.ErrConflict)
	wantErr(t, "created verified in a second org", s.CreateDomain(ctx, newDomain(b.ID, "acme.example", store.DomainVerified)), store.ErrConflict)
	// Another organization may hold it pending, but not verified.
	db := newDomain(b.ID, "acme.example", store.DomainPending)
	mustNil(t, s.CreateDomain(ctx, db))
	db.State = store.DomainVerified
	wantErr(t, "second verified holder", s.UpdateDomain(ctx, db), store.ErrConflict)
	got, err := s.VerifiedDomain(ctx, "acme.example")
	mustNil(t, err)
	if got.ID != da.ID || got.OrganizationID != a.ID {
		t.Errorf("verified holder = %s", got.OrganizationID)
	}
	// Once the first holder lets it go, the second may verify it.
	mustNil(t, s.DeleteDomain(ctx, da.ID))
	_, err = s.VerifiedDomain(ctx, "acme.example")
	wantErr(t, "no verified holder", err, store.ErrNotFound)
	mustNil(t, s.UpdateDomain(ctx, db))
	if got, _ := s.VerifiedDomain(ctx, "acme.example"); got.OrganizationID != b.ID {
		t.Errorf("verified holder after hand-over = %s", got.OrganizationID)
	}
}

func testDomainsFor(t *testing.T, s store.Store) {
	a, b, c := mkOrg(t, s, "A"), mkOrg(t, s, "B"), mkOrg(t, s, "C")
	a1, a2, b1 := newDomain(a.ID, "a1.example", store.DomainPending), newDomain(a.ID, "a2.example", store.DomainVerified), newDomain(b.ID, "b1.example", store.DomainPending)
	for _, d := range []store.Domain{a1, a2, b1, newDomain(c.ID, "c.example", store.DomainPending)} {
		mustNil(t, s.CreateDomain(ctx, d))
	}
	m, err := s.ListDomainsFor(ctx, []string{a.ID, b.ID, "org_unknown"})
	mustNil(t, err)
	if len(m) != 2 {
		t.Errorf("organizations in the answer: %d, want 2", len(m))
	}
	equal(t, "a's domains", domainIDs(m[a.ID]), []string{a1.ID, a2.ID})
	equal(t, "b's domains", domainIDs(m[b.ID]), []string{b1.ID})
	m, err = s.ListDomainsFor(ctx, nil)
	mustNil(t, err)
	if len(m) != 0 {
		t.Errorf("no organizations asked: %d answered", len(m))
	}
}

// testClaimDueDomains: pending domains whose check is due are claimed by
// exactly one of several racing callers, up to the limit, and their next
// check moves to next.
func testClaimDueDomains(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	t0 := now()
	due1, due2 := newDomain(o.ID, "due1.example", store.DomainPending), newDomain(o.ID, "due2.example", store.DomainPending)
	due1.NextCheckAt, due2.NextCheckAt = t0.Add(-2*time.Minute), t0
	later := newDomain(o.ID, "later.example", store.DomainPending)
	later.NextCheckAt = t0.Add(time.Minute)
	verified := newDomain(o.ID, "verified.example", store.DomainVerified)
	verified.NextCheckAt = t0.Add(-time.Minute)
	never := newDomain(o.ID, "never.example", store.DomainPending)
	for _, d := range []store.Domain{due1, due2, later, verified, never} {
		mustNil(t, s.CreateDomain(ctx, d))
	}
	checkClaim(t, due1.ID, due2.ID, t0.Add(time.Hour), func(limit int) ([]string, []time.Time, error) {
		ds, err := s.ClaimDueDomains(ctx, t0, t0.Add(time.Hour), limit)
		return domainIDs(ds), ids(ds, func(d store.Domain) time.Time { return d.NextCheckAt }), err
	}, func(id string) time.Time { d, _ := s.GetDomain(ctx, id); return d.NextCheckAt })
}

func domainIDs(ds []store.Domain) []string {
	return ids(ds, func(d store.Domain) string { return d.ID })
}

func testCascade(t *testing.T, s store.Store) {
	o := mkOrg(t, s, "A")
	d := newDomain(o.ID, "a.example", store.DomainPending)
	mustNil(t, s.CreateDomain(ctx, d))
	mustNil(t, s.DeleteOrganization(ctx, o.ID))
	_, err := s.GetDomain(ctx, d.ID)
	wantErr(t, "domain of deleted org", err, store.ErrNotFound)
}
