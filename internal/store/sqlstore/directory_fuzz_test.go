package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/directory/scim"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// FuzzFilterSQL feeds SCIM filters through the parser and the SQL
// translation and runs the result on a real SQLite store: a filter is
// either refused with a 400 invalidFilter or runs without a database error.
func FuzzFilterSQL(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work" and value co "@example.com"]`, `emails[type eq "work"].value eq "a@b.c"`,
		`not (active eq true) or title pr`, `meta.lastModified gt "2011-05-13T04:42:34Z"`, `members[value eq "x"]`,
		`externalId sw "a%_\"`, `name.familyName ew "son" and (displayName co "b" or userName ne "c")`, `groups eq "g"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `emails.primary eq "True"`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	st := storetest.OpenSQLite(f)
	ctx := context.Background()
	now := time.Now()
	if err := st.CreateOrganization(ctx, store.Organization{ID: "org_1", Name: "o", SSOPolicy: "optional", CreatedAt: now, UpdatedAt: now}); err != nil {
		f.Fatal(err)
	}
	if err := st.CreateDirectory(ctx, store.Directory{ID: "directory_1", OrganizationID: "org_1", Type: "okta scim v2.0", Name: "d",
		State: "linked", ExternalKey: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filter string, group bool) {
		cond, err := scim.ParseFilter(filter, group)
		if err != nil {
			var se *scim.Error
			if !errors.As(err, &se) || se.Status != 400 || se.SCIMType != scim.TypeInvalidFilter {
				t.Fatalf("filter %q: error %v is not a 400 invalidFilter", filter, err)
			}
			return
		}
		if group {
			_, _, err = st.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: "directory_1", Filter: cond, Count: 10})
		} else {
			_, _, err = st.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: "directory_1", Filter: cond, Count: 10})
		}
		if err != nil {
			t.Fatalf("filter %q (group %v): query failed: %v", filter, group, err)
		}
	})
}
