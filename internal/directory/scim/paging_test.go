package scim_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

// page reads one list page and returns its IDs and totalResults.
func (d *directory) page(t *testing.T, query string) ([]string, int) {
	t.Helper()
	r := d.must(d.scim("GET", "/Users?"+query, nil), 200, "list "+query)
	var ids []string
	for _, u := range r.Body["Resources"].([]any) {
		ids = append(ids, u.(map[string]any)["id"].(string))
	}
	total, _ := r.Body["totalResults"].(float64)
	return ids, int(total)
}

// walk pages through the users with startIndex as an IdP's import does.
func (d *directory) walk(t *testing.T, filter string, count int, between func(start int)) (ids []string, totals []int) {
	t.Helper()
	for start := 1; ; start += count {
		q := fmt.Sprintf("startIndex=%d&count=%d", start, count)
		if filter != "" {
			q += "&filter=" + url.QueryEscape(filter)
		}
		page, total := d.page(t, q)
		ids, totals = append(ids, page...), append(totals, total)
		if len(page) < count {
			return ids, totals
		}
		if between != nil {
			between(start)
		}
	}
}

// TestPagingWalk: startIndex is an offset, served by seeking after the
// previous page's last row; a full walk returns every user exactly once,
// in ID order, with the right totalResults on every page, and any page
// asked for out of turn is the page the offset names.
func TestPagingWalk(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			d := e.newDirectory("okta scim v2.0")
			var created []string
			for i := range 23 {
				r := d.must(d.scim("POST", "/Users", oktaUser(fmt.Sprintf("u%02d@okta.local", i), "U", fmt.Sprint(i))), 201, "create")
				created = append(created, r.str("id"))
			}
			slices.Sort(created)

			ids, totals := d.walk(t, "", 5, nil)
			if !slices.Equal(ids, created) {
				t.Fatalf("walk = %v, want every user once in ID order %v", ids, created)
			}
			for i, n := range totals {
				if n != 23 {
					t.Errorf("page %d: totalResults %d, want 23", i+1, n)
				}
			}
			// A second walk reuses nothing stale and sees the same.
			if ids, _ := d.walk(t, "", 5, nil); !slices.Equal(ids, created) {
				t.Fatalf("second walk = %v", ids)
			}

			// Out of turn: the page is the offset's, with or without a walk before.
			cases := []struct {
				name  string
				query string
				want  []string
			}{
				{"middle page", "startIndex=7&count=3", created[6:9]},
				{"overlapping the walk's pages", "startIndex=9&count=4", created[8:12]},
				{"last page", "startIndex=21&count=5", created[20:]},
				{"past the end", "startIndex=30&count=5", nil},
			}
			for _, tc := range cases {
				if ids, total := d.page(t, tc.query); !slices.Equal(ids, tc.want) || total != 23 {
					t.Errorf("%s: %v of %d, want %v of 23", tc.name, ids, total, tc.want)
				}
			}

			// A filtered walk pages through the matches only.
			ids, totals = d.walk(t, `userName sw "u1"`, 3, nil)
			if !slices.Equal(ids, created[10:20]) || totals[0] != 10 {
				t.Fatalf("filtered walk = %v (totals %v), want %v", ids, totals, created[10:20])
			}

			// A write during a walk is seen by the next page: the
			// count changes and the page is the offset's again.
			var extra string
			ids, totals = d.walk(t, "", 10, func(start int) {
				if start == 1 {
					r := d.must(d.scim("POST", "/Users", oktaUser("late@okta.local", "L", "late")), 201, "create during walk")
					extra = r.str("id")
				}
			})
			want := append(slices.Clone(created), extra)
			slices.Sort(want)
			if !slices.Equal(ids, want) || totals[0] != 23 || totals[1] != 24 {
				t.Fatalf("walk with a write: %v (totals %v), want %v", ids, totals, want)
			}
		})
	}
}
