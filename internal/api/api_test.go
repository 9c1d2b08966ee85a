package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

type errorBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Errors  []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

func send(t *testing.T, s *apptest.Server, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+apptest.APIKey)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "<none>" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestErrorsAndConventions checks the WorkOS error envelope and headers for
// each kind of bad request.
func TestErrorsAndConventions(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	long := strings.Repeat("k", 41)
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf(`"k%d":"v"`, i))
	}
	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		hdr        map[string]string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"no api key", "GET", "/organizations", "", map[string]string{"Authorization": "<none>"}, 401, "unauthorized", ""},
		{"wrong api key", "GET", "/organizations", "", map[string]string{"Authorization": "Bearer sk_nope"}, 401, "unauthorized", ""},
		{"basic auth is not an api key", "GET", "/organizations", "", map[string]string{"Authorization": "Basic c2tfdGVzdA=="}, 401, "unauthorized", ""},
		{"unknown organization", "GET", "/organizations/org_01J00000000000000000000000", "", nil, 404, "entity_not_found", ""},
		{"unknown route", "GET", "/no/such/thing", "", nil, 404, "route_not_found", ""},
		{"malformed json", "POST", "/organizations", `{"name":`, nil, 400, "invalid_json", ""},
		{"wrong type", "POST", "/organizations", `{"name":42}`, nil, 422, "invalid_request_parameters", "name"},
		{"missing name", "POST", "/organizations", `{}`, nil, 422, "invalid_request_parameters", "name"},
		{"metadata key too long", "POST", "/organizations", `{"name":"a","metadata":{"` + long + `":"v"}}`, nil, 422, "invalid_request_parameters", "metadata"},
		{"metadata value too long", "POST", "/organizations", `{"name":"a","metadata":{"k":"` + strings.Repeat("v", 601) + `"}}`, nil, 422, "invalid_request_parameters", "metadata"},
		{"too many metadata keys", "POST", "/organizations", `{"name":"a","metadata":{` + strings.Join(many, ",") + `}}`, nil, 422, "invalid_request_parameters", "metadata"},
		{"bad domain_data state", "POST", "/organizations", `{"name":"a","domain_data":[{"domain":"a.example","state":"maybe"}]}`, nil, 422, "invalid_request_parameters", "domain_data[0].state"},
		{"consumer domain in domain_data", "POST", "/organizations", `{"name":"a","domain_data":[{"domain":"gmail.com","state":"verified"}]}`, nil, 422, "invalid_request_parameters", "domain_data[0].domain"},
		{"limit too large", "GET", "/organizations?limit=101", "", nil, 422, "invalid_request_parameters", "limit"},
		{"limit not a number", "GET", "/organizations?limit=ten", "", nil, 422, "invalid_request_parameters", "limit"},
		{"bad order", "GET", "/organizations?order=sideways", "", nil, 422, "invalid_request_parameters", "order"},
		{"body too large", "POST", "/organizations", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, nil, 413, "payload_too_large", ""},
		{"bad events range", "GET", "/events?range_start=yesterday", "", nil, 422, "invalid_request_parameters", "range_start"},
		{"unknown events cursor", "GET", "/events?after=event_nope", "", nil, 422, "invalid_request_parameters", "after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, b := send(t, s, tc.method, tc.path, tc.body, tc.hdr)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tc.wantStatus, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if res.Header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body is not JSON: %s", b)
			}
			if e.Code != tc.wantCode || e.Message == "" {
				t.Errorf("error = %+v, want code %q and a message", e, tc.wantCode)
			}
			if tc.wantField != "" && (len(e.Errors) == 0 || e.Errors[0].Field != tc.wantField) {
				t.Errorf("errors = %+v, want field %q", e.Errors, tc.wantField)
			}
		})
	}
	t.Run("request id is echoed", func(t *testing.T) {
		res, _ := send(t, s, "GET", "/organizations", "", map[string]string{"X-Request-ID": "abc-123"})
		if got := res.Header.Get("X-Request-ID"); got != "abc-123" {
			t.Errorf("X-Request-ID = %q", got)
		}
	})
	t.Run("health, readiness and metrics", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			res, b := send(t, s, "GET", p, "", map[string]string{"Authorization": "<none>"})
			if res.StatusCode != 200 {
				t.Errorf("%s = %d", p, res.StatusCode)
			}
			if p == "/metrics" && !strings.Contains(string(b), `gatehouse_http_requests_total{route="GET /organizations"`) {
				t.Errorf("metrics lack per-route request counts")
			}
		}
	})
}

// TestArrayParamEncodings accepts the three array encodings SDKs use.
func TestArrayParamEncodings(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		send(t, s, "POST", "/organizations", fmt.Sprintf(`{"name":%q,"domain_data":[{"domain":%q,"state":"pending"}]}`, d, d), nil)
	}
	for _, tc := range []struct{ name, query string }{
		{"comma", "domains=a.example,b.example"},
		{"comma escaped", "domains=a.example%2Cb.example"},
		{"brackets", "domains[]=a.example&domains[]=b.example"},
		{"brackets escaped", "domains%5B%5D=a.example&domains%5B%5D=b.example"},
		{"repeated", "domains=a.example&domains=b.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := send(t, s, "GET", "/organizations?"+tc.query, "", nil)
			var list struct{ Data []struct{ Name string } }
			json.Unmarshal(b, &list)
			if len(list.Data) != 2 {
				t.Errorf("got %d organizations, want 2: %s", len(list.Data), b)
			}
		})
	}
}

// TestIdempotencyKey replays a POST with the same key and body, and refuses
// the key with another body, on every backend.
func TestIdempotencyKey(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			k := map[string]string{"Idempotency-Key": "key-1"}
			r1, b1 := send(t, s, "POST", "/organizations", `{"name":"Once"}`, k)
			r2, b2 := send(t, s, "POST", "/organizations", `{"name":"Once"}`, k)
			if r1.StatusCode != 201 || r2.StatusCode != 201 || string(b1) != string(b2) {
				t.Fatalf("replay differs: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
			}
			if r2.Header.Get("Idempotent-Replayed") != "true" {
				t.Error("replay not marked")
			}
			r3, b3 := send(t, s, "POST", "/organizations", `{"name":"Twice"}`, k)
			var e errorBody
			json.Unmarshal(b3, &e)
			if r3.StatusCode != 422 || e.Code != "idempotency_key_reused" {
				t.Errorf("other body with same key = %d %s", r3.StatusCode, b3)
			}
			// Empty keys (old SDKs) are no keys: two creates.
			send(t, s, "POST", "/organizations", `{"name":"Empty"}`, map[string]string{"Idempotency-Key": ""})
			send(t, s, "POST", "/organizations", `{"name":"Empty"}`, map[string]string{"Idempotency-Key": ""})
			_, lb := send(t, s, "GET", "/organizations?search=empty", "", nil)
			var list struct{ Data []any }
			json.Unmarshal(lb, &list)
			if len(list.Data) != 2 {
				t.Errorf("empty Idempotency-Key: %d organizations, want 2", len(list.Data))
			}
			// Concurrent requests with one key create one organization.
			var wg sync.WaitGroup
			statuses := make([]int, 8)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, _ := send(t, s, "POST", "/organizations", `{"name":"Racer"}`, map[string]string{"Idempotency-Key": "race"})
					statuses[i] = r.StatusCode
				}()
			}
			wg.Wait()
			_, lb = send(t, s, "GET", "/organizations?search=racer", "", nil)
			json.Unmarshal(lb, &list)
			if len(list.Data) != 1 {
				t.Errorf("concurrent same-key POSTs made %d organizations (statuses %v)", len(list.Data), statuses)
			}
			for _, st := range statuses {
				if st != 201 && st != 409 {
					t.Errorf("status %d for a concurrent same-key POST", st)
				}
			}
		})
	}
}

// TestMethodNotAllowed: a known path with the wrong method is 405 with the
// methods it takes in Allow, in the WorkOS envelope; an unknown path stays 404.
func TestMethodNotAllowed(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	cases := []struct {
		name, method, path string
		wantAllow          string
	}{
		{"collection", "DELETE", "/organizations", "GET, HEAD, POST"},
		{"item", "PATCH", "/organizations/org_123", "GET, HEAD, PUT, DELETE"},
		{"nested item", "GET", "/connections/conn_1/certificates/abc", "DELETE"},
		{"public form post", "GET", "/sso/token", "POST"},
		{"public browser page", "POST", "/sso/authorize", "GET, HEAD"},
		{"health", "POST", "/healthz", "GET, HEAD"},
		{"without an API key", "PUT", "/events", "GET, HEAD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.name == "without an API key" {
				hdr["Authorization"] = "<none>"
			}
			res, b := send(t, s, tc.method, tc.path, "", hdr)
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405: %s", res.StatusCode, b)
			}
			if got := res.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Code != "method_not_allowed" || !strings.Contains(e.Message, tc.method) {
				t.Errorf("body %s", b)
			}
		})
	}
	res, b := send(t, s, "DELETE", "/no/such/thing", "", nil)
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Allow") != "" || !strings.Contains(string(b), "route_not_found") {
		t.Errorf("unknown path: %d %q %s", res.StatusCode, res.Header.Get("Allow"), b)
	}
}
