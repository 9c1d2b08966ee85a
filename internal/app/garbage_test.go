package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

var wildcard = regexp.MustCompile(`\{[a-z_]+(\.\.\.)?\}`)

// garbageBodies are request bodies no client should send.
func garbageBodies() []struct{ name, body, contentType string } {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(r.UintN(256))
	}
	return []struct{ name, body, contentType string }{
		{"empty", "", "application/json"},
		{"truncated json", `{"name":`, "application/json"},
		{"null", "null", "application/json"},
		{"array", "[]", "application/json"},
		{"string", `"x"`, "application/json"},
		{"wrong types", `{"name":1,"organization_id":[],"domain":{},"type":false,"connection_type":7,"metadata":[1],"domain_data":"x","schemas":5,"Operations":"x","userName":[],"emails":"x","members":{},"saml":"x","oidc":1,"policy":[],"uri":{}}`, "application/json"},
		{"nulls everywhere", `{"name":null,"organization_id":null,"domain":null,"type":null,"connection_type":null,"schemas":null,"Operations":null,"userName":null,"members":null,"saml":null,"oidc":null}`, "application/json"},
		{"deep nesting", `{"a":` + deep + `}`, "application/json"},
		{"binary noise", string(noise), "application/octet-stream"},
		{"scim patch junk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"explode","path":"[[[","value":null},{"op":"replace","path":"members[value eq","value":1}]}`, "application/scim+json"},
		{"form body", "a=1&b=%zz", "application/x-www-form-urlencoded"},
		{"form with NUL", "grant_type=authorization_code&client_id=x%00&client_secret=y%00&code=%00&SAMLResponse=%00&RelayState=%00", "application/x-www-form-urlencoded"},
		{"json with NUL", `{"name":"a\u0000","userName":"\u0000","displayName":"x\u0000","organization_id":"\u0000","uri":"\u0000"}`, "application/json"},
		{"oversized", `{"name":"` + strings.Repeat("a", 3<<20) + `"}`, "application/json"},
	}
}

// pathValues stand in for path wildcards.
var pathValues = []string{"x", "org_01J00000000000000000000000", "%00", "..%2F..%2Fetc", strings.Repeat("z", 3000)}

// TestNoServerErrorsOnGarbage sends garbage to every registered route, with
// and without credentials, and requires that none answers with a 5xx: bad
// input must always get a clear 4xx.
func TestNoServerErrorsOnGarbage(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { garbage(t, apptest.Start(t, b.Name)) })
	}
}

func garbage(t *testing.T, s *apptest.Server) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, body := call(t, s.URL, "POST", "/organizations", `{"name":"Garbage Inc"}`, "")
	var org struct{ ID string }
	json.Unmarshal(body, &org)
	st, body := call(t, s.URL, "POST", "/directories", fmt.Sprintf(`{"organization_id":%q,"type":"generic scim v2.0"}`, org.ID), "")
	var dir struct{ ID string }
	json.Unmarshal(body, &dir)
	scimToken := ""
	if st == 201 {
		_, body = call(t, s.URL, "POST", "/directories/"+dir.ID+"/tokens", `{}`, "")
		var tok struct{ Token string }
		json.Unmarshal(body, &tok)
		scimToken = tok.Token
	}
	routes := s.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	sent, failures := 0, 0
	for _, rt := range routes {
		method, pattern, ok := strings.Cut(rt.Pattern, " ")
		methods := []string{method}
		if !ok {
			pattern, methods = method, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
		}
		values := pathValues
		if strings.HasPrefix(pattern, "/scim/") && dir.ID != "" {
			values = []string{dir.ID}
		}
		for _, m := range methods {
			for _, v := range values {
				path := wildcard.ReplaceAllStringFunc(pattern, func(w string) string {
					if w == "{rest...}" {
						return []string{"Users", "Groups", "Users/x", "Groups/directory_group_01J00000000000000000000000", "Schemas/x", ".search"}[sent%6]
					}
					return v
				})
				for _, gb := range garbageBodies() {
					for _, auth := range []string{"", "Bearer " + apptest.APIKey, "Bearer " + scimToken} {
						if auth == "Bearer " && scimToken == "" {
							continue
						}
						var rb io.Reader
						if m != "GET" && m != "DELETE" {
							rb = bytes.NewReader([]byte(gb.body))
						}
						req, err := http.NewRequest(m, s.URL+path+"?limit=%zz&filter=userName%20eq&count=-1&startIndex=abc&redirect_uri=javascript:alert(1)&connection=x&organization=y&code=z", rb)
						if err != nil {
							continue
						}
						req.Header.Set("Content-Type", gb.contentType)
						if auth != "" {
							req.Header.Set("Authorization", auth)
						}
						res, err := client.Do(req)
						if err != nil {
							t.Fatalf("%s %s: %v", m, path, err)
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						sent++
						if res.StatusCode >= 500 {
							failures++
							if failures <= 20 {
								t.Errorf("%s %s (%s, auth %q) = %d", m, truncate(path), gb.name, truncate(auth), res.StatusCode)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d requests to %d routes, %d server errors", sent, len(routes), failures)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
