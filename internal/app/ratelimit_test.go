package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// untilLimited sends requests until one is refused (at most 100: the
// limits here are 1/s with bursts of 2, so a few suffice however slow the
// machine) and returns the refusal.
func untilLimited(t *testing.T, send func() *http.Response) (*http.Response, []byte) {
	t.Helper()
	for range 100 {
		res := send()
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			return res, b
		}
		if res.StatusCode >= 500 {
			t.Fatalf("status %d: %s", res.StatusCode, b)
		}
	}
	t.Fatal("never rate limited")
	return nil, nil
}

func request(t *testing.T, method, url, token, body string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type limitCase struct {
	name  string
	send  func() *http.Response
	check func(b []byte) bool // the 429 body is in the endpoint's format
}

func workosEnvelope(b []byte) bool {
	var e struct{ Message, Code string }
	return json.Unmarshal(b, &e) == nil && e.Code == "rate_limit_exceeded" && e.Message != ""
}

// TestRateLimits: each limit answers 429 with Retry-After in its
// endpoint's error format, other clients keep their own allowance, and
// /metrics counts the refusals.
func TestRateLimits(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			// The management API is unlimited here so the set-up cannot
			// run out; TestAPIKeyRateLimit covers it.
			s := apptest.Start(t, b.Name, func(c *config.Config) {
				c.RateLimits = config.RateLimits{APIKey: 0, SSO: 1, SCIM: 1}
			})
			_, body := call(t, s.URL, "POST", "/organizations", `{"name":"Limited"}`, "")
			var org struct{ ID string }
			json.Unmarshal(body, &org)
			_, body = call(t, s.URL, "POST", "/directories", fmt.Sprintf(`{"organization_id":%q,"type":"generic scim v2.0"}`, org.ID), "")
			var dir struct{ ID string }
			json.Unmarshal(body, &dir)
			var tok, tok2 struct{ Token string }
			_, body = call(t, s.URL, "POST", "/directories/"+dir.ID+"/tokens", `{}`, "")
			json.Unmarshal(body, &tok)
			_, body = call(t, s.URL, "POST", "/directories/"+dir.ID+"/tokens", `{}`, "")
			json.Unmarshal(body, &tok2)

			cases := []limitCase{
				{"sso authorize per IP", func() *http.Response {
					return request(t, "GET", s.URL+"/sso/authorize?client_id="+s.ClientID, "", "")
				}, workosEnvelope},
				{"sso token per IP, in OAuth's format", func() *http.Response {
					return request(t, "POST", s.URL+"/sso/token", "", "grant_type=authorization_code&code=x")
				}, func(b []byte) bool {
					var e struct {
						Error       string `json:"error"`
						Description string `json:"error_description"`
					}
					return json.Unmarshal(b, &e) == nil && e.Error == "rate_limit_exceeded" && e.Description != ""
				}},
				{"scim per directory token, in SCIM's format", func() *http.Response {
					return request(t, "GET", s.URL+"/scim/v2/"+dir.ID+"/Users", tok.Token, "")
				}, func(b []byte) bool {
					var e struct {
						Schemas []string `json:"schemas"`
						Status  string   `json:"status"`
						Detail  string   `json:"detail"`
					}
					return json.Unmarshal(b, &e) == nil && e.Status == "429" && len(e.Schemas) == 1 &&
						e.Schemas[0] == "urn:ietf:params:scim:api:messages:2.0:Error" && e.Detail != ""
				}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					res, body := untilLimited(t, tc.send)
					if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
						t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
					}
					if !tc.check(body) {
						t.Errorf("429 body %s", body)
					}
				})
			}
			// Another directory token has its own bucket; the management API
			// is not limited by SSO traffic from the same address.
			if res := request(t, "GET", s.URL+"/scim/v2/"+dir.ID+"/Users", tok2.Token, ""); res.StatusCode != 200 {
				t.Errorf("second SCIM token = %d, want 200", res.StatusCode)
			}
			if st, b := call(t, s.URL, "GET", "/organizations", "", ""); st != 200 {
				t.Errorf("management API = %d %s", st, b)
			}
			checkMetric(t, s, "sso", "scim")
		})
	}
}

// TestAPIKeyRateLimit: the management API is limited per key.
func TestAPIKeyRateLimit(t *testing.T) {
	s := apptest.Start(t, "sqlite", func(c *config.Config) { c.RateLimits = config.RateLimits{APIKey: 1} })
	other, err := s.APIKeys.Create(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	res, body := untilLimited(t, func() *http.Response { return request(t, "GET", s.URL+"/organizations", apptest.APIKey, "") })
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
	}
	if !workosEnvelope(body) {
		t.Errorf("429 body %s", body)
	}
	if res := request(t, "GET", s.URL+"/organizations", other.Value, ""); res.StatusCode != 200 {
		t.Errorf("another key = %d, want 200", res.StatusCode)
	}
	if res := request(t, "GET", s.URL+"/sso/authorize", "", ""); res.StatusCode == http.StatusTooManyRequests {
		t.Error("SSO limited by the API key's limit")
	}
	checkMetric(t, s, "api_key")
}

// checkMetric requires a non-zero refusal count for each limit.
func checkMetric(t *testing.T, s *apptest.Server, limits ...string) {
	t.Helper()
	res := request(t, "GET", s.URL+"/metrics", "", "")
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, limit := range limits {
		m := regexp.MustCompile(`gatehouse_rate_limited_total\{limit="` + limit + `"\} (\d+)`).FindSubmatch(metrics)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("gatehouse_rate_limited_total{limit=%q} missing or zero", limit)
		}
	}
}
