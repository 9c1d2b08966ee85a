package scim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingReader is an endless request body that records how much of it
// was read.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}

// TestAuthenticateBeforeReading: a request without a valid bearer token is
// refused before any of its body is read, so strangers cannot make the
// server buffer a megabyte per request.
func TestAuthenticateBeforeReading(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b)
			d := e.newDirectory("okta scim v2.0")
			other := e.newDirectory("okta scim v2.0")
			cases := []struct {
				name, token string
				want        int
				wantRead    bool
			}{
				{name: "no token", want: http.StatusUnauthorized},
				{name: "wrong token", token: "not-a-token", want: http.StatusUnauthorized},
				{name: "another directory's token", token: other.Token, want: http.StatusUnauthorized},
				{name: "the directory's token", token: d.Token, want: http.StatusRequestEntityTooLarge, wantRead: true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					body := &countingReader{}
					req := httptest.NewRequest("POST", strings.TrimPrefix(d.Base, e.srv.URL)+"/Users", body)
					req.Header.Set("Content-Type", "application/scim+json")
					if c.token != "" {
						req.Header.Set("Authorization", "Bearer "+c.token)
					}
					rec := httptest.NewRecorder()
					e.srv.Handler().ServeHTTP(rec, req)
					if rec.Code != c.want {
						t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
					}
					if read := body.n > 0; read != c.wantRead {
						t.Fatalf("%d bytes of the body read", body.n)
					}
				})
			}
		})
	}
}

// TestSchemasSayWhatIsServed: /Schemas advertises users as the only group
// members, with the canonical values of RFC 7643 §8.7.1, and a group member
// is refused with a message that says so.
func TestSchemasSayWhatIsServed(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b)
			d := e.newDirectory("okta scim v2.0")
			sub := func(r resp, attr, name string) map[string]any {
				for _, a := range r.Body["attributes"].([]any) {
					a := a.(map[string]any)
					if a["name"] != attr {
						continue
					}
					for _, s := range a["subAttributes"].([]any) {
						if s := s.(map[string]any); s["name"] == name {
							return s
						}
					}
				}
				t.Fatalf("%s.%s not in %s", attr, name, r.Raw)
				return nil
			}
			cases := []struct {
				name, schema, attr, sub, field string
				want                           []any
			}{
				{"Group members.type", "urn:ietf:params:scim:schemas:core:2.0:Group", "members", "type", "canonicalValues", []any{"User"}},
				{"Group members.$ref", "urn:ietf:params:scim:schemas:core:2.0:Group", "members", "$ref", "referenceTypes", []any{"User"}},
				{"User groups.type", "urn:ietf:params:scim:schemas:core:2.0:User", "groups", "type", "canonicalValues", []any{"direct"}},
				{"User groups.$ref", "urn:ietf:params:scim:schemas:core:2.0:User", "groups", "$ref", "referenceTypes", []any{"Group"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := d.must(d.scim("GET", "/Schemas/"+c.schema, nil), 200, "schema")
					if got := sub(r, c.attr, c.sub)[c.field]; fmt.Sprint(got) != fmt.Sprint(c.want) {
						t.Fatalf("%s.%s %s = %v, want %v", c.attr, c.sub, c.field, got, c.want)
					}
				})
			}
			gid := d.must(d.scim("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": "Inner"}), 201, "group").str("id")
			r := d.must(d.scim("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": "Outer", "members": []any{map[string]any{"value": gid, "type": "Group"}}}), 400, "nested group")
			if !strings.Contains(r.str("detail"), "Nested groups") {
				t.Fatalf("nested group refusal: %s", r.Raw)
			}
		})
	}
}
