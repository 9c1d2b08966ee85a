package events_test

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

type page struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
	ListMetadata struct {
		Before *string `json:"before"`
		After  *string `json:"after"`
	} `json:"list_metadata"`
}

// TestEventsPaging reads the outbox forward with after and backward with
// before, in both orders, on every backend.
func TestEventsPaging(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			for i := range 5 {
				res := s.Do(t, "POST", "/organizations", strings.NewReader(fmt.Sprintf(`{"name":"Org %d"}`, i)))
				res.Body.Close()
				if res.StatusCode != 201 {
					t.Fatalf("create org: %d", res.StatusCode)
				}
			}
			get := func(query string) page {
				t.Helper()
				if !strings.Contains(query, "limit=") {
					query += "&limit=2"
				}
				res := s.Do(t, "GET", "/events?events=organization.created"+query, nil)
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					t.Fatalf("%s: %d %s", query, res.StatusCode, body)
				}
				var p page
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			all := get("&limit=10")
			var e []string
			for _, d := range all.Data {
				e = append(e, d.ID)
			}
			if len(e) != 5 {
				t.Fatalf("events: %v", e)
			}
			str := func(p *string) string {
				if p == nil {
					return "null"
				}
				return *p
			}
			cases := []struct {
				name          string
				query         string
				want          []string
				before, after string
			}{
				{"first page", "", e[0:2], "null", e[1]},
				{"after", "&after=" + e[1], e[2:4], e[2], e[3]},
				{"last page", "&after=" + e[3], e[4:5], e[4], "null"},
				{"before the last", "&before=" + e[4], e[2:4], e[2], e[3]},
				{"before reaches the start", "&before=" + e[2], e[0:2], "null", e[1]},
				{"before the first", "&before=" + e[0], nil, "null", "null"},
				{"newest first", "&order=desc", []string{e[4], e[3]}, "null", e[3]},
				{"newest first, before", "&order=desc&before=" + e[0], []string{e[2], e[1]}, e[2], e[1]},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					p := get(tc.query)
					var got []string
					for _, d := range p.Data {
						got = append(got, d.ID)
					}
					if fmt.Sprint(got) != fmt.Sprint(tc.want) || str(p.ListMetadata.Before) != tc.before || str(p.ListMetadata.After) != tc.after {
						t.Errorf("got %v before=%s after=%s\nwant %v before=%s after=%s", got, str(p.ListMetadata.Before),
							str(p.ListMetadata.After), tc.want, tc.before, tc.after)
					}
				})
			}
			for _, q := range []string{"&before=event_missing", "&after=event_missing", "&before=" + e[1] + "&after=" + e[2]} {
				res := s.Do(t, "GET", "/events?limit=2"+q, nil)
				res.Body.Close()
				if res.StatusCode != 422 {
					t.Errorf("%s: %d, want 422", q, res.StatusCode)
				}
			}
		})
	}
}
