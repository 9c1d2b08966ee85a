package app_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestNULBytesAreRefused: PostgreSQL cannot store U+0000 in text, so every
// backend must refuse it with a 4xx rather than fail at the database.
func TestNULBytesAreRefused(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			cases := []struct{ name, method, path, body string }{
				{"organization name", "POST", "/organizations", `{"name":"a\u0000b"}`},
				{"organization metadata", "POST", "/organizations", `{"name":"ok","metadata":{"k\u0000":"v\u0000"}}`},
				{"external id", "POST", "/organizations", `{"name":"ok","external_id":"x\u0000"}`},
				{"domain", "POST", "/organization_domains", `{"organization_id":"org_x","domain":"a\u0000.example"}`},
				{"search", "GET", "/organizations?search=a%00b", ""},
				{"external id path", "GET", "/organizations/external_id/a%00b", ""},
				{"invalid utf-8 in path", "GET", "/organizations/org_%FF", ""},
				{"invalid utf-8 in external id", "GET", "/organizations/external_id/%FF%FE", ""},
				{"invalid utf-8 in search", "GET", "/organizations?search=%FF", ""},
				{"invalid utf-8 in domain filter", "GET", "/organizations?domains=%FF.example", ""},
				{"invalid utf-8 in events filter", "GET", "/events?events=%FF&organization_id=%FE", ""},
				{"invalid utf-8 in connection filter", "GET", "/connections?organization_id=%FF&search=%FE", ""},
				{"invalid utf-8 in directory users filter", "GET", "/directory_users?directory=%FF&email=%FE", ""},
			}
			for _, tc := range cases {
				st, body := call(t, s.URL, tc.method, tc.path, tc.body, "")
				if st >= 500 {
					t.Errorf("%s: %d %s", tc.name, st, body)
				}
			}
			_, body := call(t, s.URL, "POST", "/organizations", `{"name":"Nul Inc"}`, "")
			var org struct{ ID string }
			json.Unmarshal(body, &org)
			st, body := call(t, s.URL, "POST", "/directories", fmt.Sprintf(`{"organization_id":%q,"type":"generic scim v2.0","name":"d\u0000"}`, org.ID), "")
			if st >= 500 {
				t.Errorf("directory name: %d %s", st, body)
			}
			st, body = call(t, s.URL, "POST", "/connections", fmt.Sprintf(`{"organization_id":%q,"connection_type":"GenericSAML","name":"c\u0000"}`, org.ID), "")
			if st >= 500 {
				t.Errorf("connection name: %d %s", st, body)
			}
		})
	}
}
