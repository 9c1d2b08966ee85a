package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/webhook"
	v6webhooks "github.com/workos/workos-go/v6/pkg/webhooks"
	"github.com/workos/workos-go/v7"
)

// TestSignatureVerifiesWithSDKs signs bodies the way deliveries do and
// checks them with both SDK generations' verifiers — and that a tampered
// body, a wrong secret or an old timestamp is refused by both.
func TestSignatureVerifiesWithSDKs(t *testing.T) {
	const secret = "whsec_test_secret"
	body := []byte(`{"id":"event_01","event":"dsync.user.created","data":{"id":"directory_user_1"},"created_at":"2026-01-15T12:00:00.000Z"}`)
	now := time.Now()
	header := webhook.Sign(secret, now, body)
	if !regexp.MustCompile(`^t=\d{13}, v1=[0-9a-f]{64}$`).MatchString(header) {
		t.Fatalf("header %q is not t=<ms>, v1=<hex>", header)
	}
	cases := []struct {
		name   string
		header string
		body   string
		secret string
		ok     bool
	}{
		{"valid", header, string(body), secret, true},
		{"tampered body", header, strings.Replace(string(body), "user_1", "user_2", 1), secret, false},
		{"wrong secret", header, string(body), "another", false},
		{"too old", webhook.Sign(secret, now.Add(-10*time.Minute), body), string(body), secret, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err7 := workos.NewWebhookVerifier(tc.secret).VerifyPayload(tc.header, tc.body)
			_, err6 := v6webhooks.NewClient(tc.secret).ValidatePayload(tc.header, tc.body)
			if (err7 == nil) != tc.ok || (err6 == nil) != tc.ok {
				t.Errorf("v7: %v, v6: %v, want ok=%v", err7, err6, tc.ok)
			}
		})
	}
	if ev, err := workos.NewWebhookVerifier(secret).ConstructEvent(header, string(body)); err != nil || ev.Event != "dsync.user.created" {
		t.Errorf("v7 ConstructEvent: %+v, %v", ev, err)
	}
}

// receiver is an endpoint that verifies each delivery with both SDKs.
type receiver struct {
	t      *testing.T
	secret func() string
	status func(n int) int // answer to the n-th request (from 1)

	mu   sync.Mutex
	n    int
	got  []webhook.Payload
	errs []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sig := r.Header.Get("WorkOS-Signature")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.n++
	if st := rc.status(rc.n); st != 200 {
		w.WriteHeader(st)
		fmt.Fprintf(w, "failing on purpose (%d)", st)
		return
	}
	secret := rc.secret()
	if _, err := workos.NewWebhookVerifier(secret).VerifyPayload(sig, string(body)); err != nil {
		rc.errs = append(rc.errs, "v7: "+err.Error())
	}
	if _, err := v6webhooks.NewClient(secret).ValidatePayload(sig, string(body)); err != nil {
		rc.errs = append(rc.errs, "v6: "+err.Error())
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.errs = append(rc.errs, "content type "+ct)
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.errs = append(rc.errs, err.Error())
	}
	rc.got = append(rc.got, p)
	w.Write([]byte("ok"))
}

func (rc *receiver) received() ([]webhook.Payload, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Payload(nil), rc.got...), append([]string(nil), rc.errs...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decode[T any](t *testing.T, res *http.Response, status int) T {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

type attempts struct {
	Data []webhook.DeliveryAttemptJSON `json:"data"`
}

// TestWebhooksEndToEnd manages an endpoint with the v7 SDK, makes events
// through the API and checks that the endpoint receives exactly the
// subscribed ones, in outbox order, signed so both SDKs verify them; a
// failing answer is retried and both attempts are in the delivery log.
func TestWebhooksEndToEnd(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			ctx := context.Background()
			c := workos.NewClient(apptest.APIKey, workos.WithBaseURL(s.URL), workos.WithMaxRetries(0))
			var secret string
			rc := &receiver{t: t, secret: func() string { return secret }, status: func(n int) int {
				if n == 1 {
					return 503
				}
				return 200
			}}
			hook := httptest.NewServer(rc)
			defer hook.Close()

			we, err := c.Webhooks().CreateEndpoint(ctx, &workos.WebhooksCreateEndpointParams{EndpointURL: hook.URL,
				Events: []workos.CreateWebhookEndpointEvents{"organization.created", "organization.deleted"}})
			if err != nil {
				t.Fatal(err)
			}
			secret = we.Secret
			if !strings.HasPrefix(we.ID, "we_") || we.Secret == "" || we.Status != "enabled" || len(we.Events) != 2 {
				t.Fatalf("created: %+v", we)
			}
			if _, err := c.Webhooks().CreateEndpoint(ctx, &workos.WebhooksCreateEndpointParams{EndpointURL: hook.URL,
				Events: []workos.CreateWebhookEndpointEvents{"organization.created"}}); err == nil || !strings.Contains(err.Error(), "duplicate_endpoint") {
				t.Errorf("duplicate endpoint: %v", err)
			}

			var want []string
			for i := range 3 {
				org, err := c.Organizations().Create(ctx, &workos.OrganizationsCreateParams{Name: fmt.Sprintf("Org %d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					if err := c.Organizations().Delete(ctx, org.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			evs := decode[struct {
				Data []struct {
					ID    string `json:"id"`
					Event string `json:"event"`
				} `json:"data"`
			}](t, s.Do(t, "GET", "/events?events=organization.created,organization.deleted&limit=100", nil), 200)
			for _, e := range evs.Data {
				want = append(want, e.ID+" "+e.Event)
			}
			if len(want) != 4 {
				t.Fatalf("events: %v", want)
			}
			waitFor(t, "four deliveries", func() bool { got, _ := rc.received(); return len(got) >= 4 })
			got, verr := rc.received()
			var gotIDs []string
			for _, p := range got {
				gotIDs = append(gotIDs, p.ID+" "+p.Event)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
				t.Errorf("delivered %v\nwant      %v", gotIDs, want)
			}
			if len(verr) > 0 {
				t.Errorf("verification: %v", verr)
			}

			// The attempts of a batch are logged when its send returns.
			var log attempts
			waitFor(t, "five logged attempts", func() bool {
				log = decode[attempts](t, s.Do(t, "GET", "/webhook_endpoints/"+we.ID+"/deliveries?order=asc&limit=100", nil), 200)
				return len(log.Data) >= 5
			})
			if len(log.Data) != 5 {
				t.Fatalf("attempts: %+v", log.Data)
			}
			first := log.Data[0]
			if first.Success || first.Status == nil || *first.Status != 503 || first.ErrorCode == nil || *first.ErrorCode != "server_error" ||
				first.Response != "failing on purpose (503)" || first.EventID != log.Data[1].EventID {
				t.Errorf("failed attempt: %+v", first)
			}
			if !log.Data[1].Success || *log.Data[1].Status != 200 || log.Data[1].Response != "ok" {
				t.Errorf("retry: %+v", log.Data[1])
			}

			upd, err := c.Webhooks().UpdateEndpoint(ctx, we.ID, &workos.WebhooksUpdateEndpointParams{
				Status: ptr(workos.UpdateWebhookEndpointStatusDisabled)})
			if err != nil || upd.Status != "disabled" || upd.EndpointURL != hook.URL {
				t.Fatalf("disable: %+v %v", upd, err)
			}
			it := c.Webhooks().ListEndpoints(ctx, &workos.WebhooksListEndpointsParams{})
			var listed []string
			for it.Next() {
				listed = append(listed, it.Current().ID)
			}
			if it.Err() != nil || fmt.Sprint(listed) != fmt.Sprint([]string{we.ID}) {
				t.Errorf("list: %v %v", listed, it.Err())
			}
			if err := c.Webhooks().DeleteEndpoint(ctx, we.ID); err != nil {
				t.Fatal(err)
			}
			var nf *workos.NotFoundError
			if _, err := c.Webhooks().UpdateEndpoint(ctx, we.ID, &workos.WebhooksUpdateEndpointParams{}); !errors.As(err, &nf) {
				t.Errorf("update after delete: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestEndpointValidation: bad input answers a specific 4xx.
func TestEndpointValidation(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"missing url", "POST", "/webhook_endpoints", `{"events":["dsync.user.created"]}`, 422, "invalid_request_parameters"},
		{"not a url", "POST", "/webhook_endpoints", `{"endpoint_url":"ftp://x","events":["dsync.user.created"]}`, 422, "invalid_url"},
		{"no events", "POST", "/webhook_endpoints", `{"endpoint_url":"https://example.com/h","events":[]}`, 422, "invalid_request_parameters"},
		{"bad event name", "POST", "/webhook_endpoints", `{"endpoint_url":"https://example.com/h","events":["Not An Event"]}`, 422, "invalid_request_parameters"},
		{"events not a list", "POST", "/webhook_endpoints", `{"endpoint_url":"https://example.com/h","events":"dsync.user.created"}`, 422, "invalid_request_parameters"},
		{"unknown endpoint", "GET", "/webhook_endpoints/we_missing", ``, 404, "entity_not_found"},
		{"deliveries of unknown endpoint", "GET", "/webhook_endpoints/we_missing/deliveries", ``, 404, "entity_not_found"},
		{"delete unknown", "DELETE", "/webhook_endpoints/we_missing", ``, 404, "entity_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			res := s.Do(t, tc.method, tc.path, body)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || (tc.code != "" && !strings.Contains(string(b), `"code":"`+tc.code+`"`)) {
				t.Errorf("%d %s, want %d %s", res.StatusCode, b, tc.status, tc.code)
			}
		})
	}
	// A created endpoint's bad PATCH.
	var we webhook.EndpointJSON
	we = decode[webhook.EndpointJSON](t, s.Do(t, "POST", "/webhook_endpoints",
		strings.NewReader(`{"endpoint_url":"https://example.com/h","events":["dsync.user.created"]}`)), 201)
	res := s.Do(t, "PATCH", "/webhook_endpoints/"+we.ID, strings.NewReader(`{"status":"paused"}`))
	res.Body.Close()
	if res.StatusCode != 422 {
		t.Errorf("bad status: %d", res.StatusCode)
	}
}

// TestPrivateTargetsRefused: without GATEHOUSE_ALLOW_PRIVATE_TARGETS an
// endpoint on a loopback or private address, or plain http, is refused.
func TestPrivateTargetsRefused(t *testing.T) {
	s := apptest.Start(t, "sqlite", func(c *config.Config) { c.AllowPrivateTargets = false })
	for _, u := range []string{"https://127.0.0.1/h", "https://10.0.0.8/h", "https://localhost/h", "https://[::1]/h", "http://example.com/h"} {
		res := s.Do(t, "POST", "/webhook_endpoints", strings.NewReader(`{"endpoint_url":"`+u+`","events":["dsync.user.created"]}`))
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 422 || !strings.Contains(string(b), "invalid_url") {
			t.Errorf("%s: %d %s", u, res.StatusCode, b)
		}
	}
}
