package logstream_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

const (
	ddKey       = "dd_api_key_0123456789abcdef"
	splunkToken = "splunk-hec-token-00000000001"
	s3Secret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	httpsSecret = "whsec_stream_secret_123456"
	authHeader  = "Bearer collector-token-987654"
)

func call(t *testing.T, s *apptest.Server, method, path, body string) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	res := s.Do(t, method, path, rd)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return res.StatusCode, m, string(raw)
}

func newOrg(t *testing.T, s *apptest.Server) string {
	st, m, raw := call(t, s, "POST", "/organizations", `{"name":"Acme"}`)
	if st != 201 {
		t.Fatalf("create org: %d %s", st, raw)
	}
	return m["id"].(string)
}

// datadog answers like the logs intake: 202 for the right DD-API-KEY, 403
// {"errors":["Forbidden"]} otherwise; it keeps the entries it accepted.
func datadog(t *testing.T) (*httptest.Server, func() []map[string]any) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DD-API-KEY") != ddKey {
			w.WriteHeader(403)
			io.WriteString(w, `{"errors":["Forbidden"]}`)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		var entries []map[string]any
		json.NewDecoder(zr).Decode(&entries)
		mu.Lock()
		got = append(got, entries...)
		mu.Unlock()
		w.WriteHeader(202)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), got...)
	}
}

func TestLogStreamAPI(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			org := newOrg(t, s)
			dd, got := datadog(t)
			testCRUD(t, s, org, dd.URL)
			testValidation(t, s, org)
			testTestEvent(t, s, org, dd.URL, got)
			testAnswerNotEchoed(t, s, org)
			testOrganizationScope(t, s, org)
		})
	}
}

func testCRUD(t *testing.T, s *apptest.Server, org, ddURL string) {
	creates := []struct {
		name, typ, config string
		secrets           []string
		shown             map[string]any
	}{
		{"GenericHttps", "GenericHttps", `{"url":"https://collector.example.com/in","headers":{"Authorization":"` + authHeader + `"},"secret":"` + httpsSecret + `"}`,
			[]string{authHeader, httpsSecret}, map[string]any{"secret": "••••3456", "headers": map[string]any{"Authorization": "••••7654"}}},
		{"Datadog", "Datadog", `{"api_key":"` + ddKey + `","site":"datadoghq.eu","service":"acme","tags":"env:prod"}`,
			[]string{ddKey}, map[string]any{"api_key": "••••cdef", "site": "datadoghq.eu"}},
		{"Splunk", "Splunk", `{"url":"https://splunk.example.com:8088","token":"` + splunkToken + `","index":"security"}`,
			[]string{splunkToken}, map[string]any{"token": "••••0001", "index": "security"}},
		{"S3", "S3", `{"bucket":"acme-logs","region":"eu-west-1","access_key_id":"AKIAEXAMPLE","secret_access_key":"` + s3Secret + `","force_path_style":true}`,
			[]string{s3Secret}, map[string]any{"secret_access_key": "••••EKEY", "access_key_id": "AKIAEXAMPLE", "force_path_style": true}},
		{"GCS emulator without credentials", "GoogleCloudStorage", `{"bucket":"acme-logs","prefix":"gh","endpoint":"http://127.0.0.1:4443"}`,
			nil, map[string]any{"bucket": "acme-logs", "prefix": "gh"}},
	}
	for _, c := range creates {
		t.Run("create "+c.name, func(t *testing.T) {
			st, m, raw := call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":%q,"config":%s}`, org, c.typ, c.config))
			if st != 201 {
				t.Fatalf("%d %s", st, raw)
			}
			if !strings.HasPrefix(m["id"].(string), "als_") || m["object"] != "log_stream" || m["state"] != "active" || m["type"] != c.typ ||
				m["organization_id"] != org || m["last_error"] != nil || m["last_synced_at"] != nil {
				t.Fatalf("stream %s", raw)
			}
			cfg := m["config"].(map[string]any)
			for k, want := range c.shown {
				if fmt.Sprint(cfg[k]) != fmt.Sprint(want) {
					t.Errorf("config.%s = %v, want %v", k, cfg[k], want)
				}
			}
			_, _, got := call(t, s, "GET", "/log_streams/"+m["id"].(string), "")
			for _, sec := range c.secrets {
				if strings.Contains(raw, sec) || strings.Contains(got, sec) {
					t.Fatalf("a secret is echoed: %s", got)
				}
			}
			// At rest the secrets are sealed.
			row, err := s.Store.GetLogStream(context.Background(), org, m["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range c.secrets {
				if strings.Contains(string(row.Config), sec) || strings.Contains(row.SecretsSealed, sec) {
					t.Fatalf("secret stored in clear: %s / %s", row.Config, row.SecretsSealed)
				}
			}
		})
	}

	st, m, raw := call(t, s, "GET", "/log_streams?organization_id="+org+"&limit=2", "")
	if st != 200 || m["object"] != "list" || len(m["data"].([]any)) != 2 || m["list_metadata"].(map[string]any)["after"] == nil {
		t.Fatalf("list: %d %s", st, raw)
	}

	// PUT merges: a masked secret sent back keeps the secret; a new value
	// replaces it; null removes an optional key; the state can change.
	_, created, _ := call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":"Datadog","config":{"api_key":%q,"endpoint":%q,"tags":"a:b"}}`, org, ddKey, ddURL))
	id := created["id"].(string)
	shown := created["config"].(map[string]any)
	st, m, raw = call(t, s, "PUT", "/log_streams/"+id, fmt.Sprintf(`{"config":{"api_key":%q,"service":"acme-auth","tags":null},"state":"inactive"}`, shown["api_key"]))
	if st != 200 || m["state"] != "inactive" {
		t.Fatalf("update: %d %s", st, raw)
	}
	cfg := m["config"].(map[string]any)
	if cfg["service"] != "acme-auth" || cfg["tags"] != nil || cfg["api_key"] != shown["api_key"] {
		t.Fatalf("config after update: %v", cfg)
	}
	st, m, _ = call(t, s, "POST", "/log_streams/"+id+"/test", "")
	if st != 200 || m["success"] != true {
		t.Fatalf("the kept key no longer works: %v", m)
	}
	st, m, _ = call(t, s, "PUT", "/log_streams/"+id, `{"config":{"api_key":"another_key_0000000000"},"state":"active"}`)
	if st != 200 || m["config"].(map[string]any)["api_key"] != "••••0000" || m["state"] != "active" {
		t.Fatalf("replace key: %d %v", st, m)
	}
	if st, _, raw := call(t, s, "PUT", "/log_streams/"+id, `{"type":"S3"}`); st != 422 || !strings.Contains(raw, "immutable") {
		t.Fatalf("type change: %d %s", st, raw)
	}
	if st, _, raw := call(t, s, "PUT", "/log_streams/"+id, `{"state":"error"}`); st != 422 {
		t.Fatalf("state error set by hand: %d %s", st, raw)
	}
	if st, _, raw := call(t, s, "PUT", "/log_streams/"+id, `{"config":{"api_key":null}}`); st != 422 || !strings.Contains(raw, `"required"`) {
		t.Fatalf("required key removed: %d %s", st, raw)
	}

	if st, _, _ := call(t, s, "DELETE", "/log_streams/"+id, ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	for _, path := range []string{"/log_streams/" + id, "/log_streams/als_missing"} {
		if st, m, _ := call(t, s, "GET", path, ""); st != 404 || m["code"] != "entity_not_found" {
			t.Fatalf("GET %s: %d %v", path, st, m)
		}
	}
}

func testValidation(t *testing.T, s *apptest.Server, org string) {
	key := `{"api_key":"` + ddKey + `"}`
	cases := []struct {
		name   string
		body   string
		status int
		field  string
		code   string
	}{
		{"organization missing", `{"type":"Datadog","config":` + key + `}`, 422, "organization_id", "required"},
		{"organization unknown", `{"organization_id":"org_nope","type":"Datadog","config":` + key + `}`, 404, "", "entity_not_found"},
		{"unknown type", `{"organization_id":"ORG","type":"Snowflake","config":{}}`, 422, "type", "invalid"},
		{"required key missing", `{"organization_id":"ORG","type":"Splunk","config":{"url":"https://s.example.com"}}`, 422, "config.token", "required"},
		{"unknown key", `{"organization_id":"ORG","type":"Datadog","config":{"api_key":"k","apikey":"x"}}`, 422, "config.apikey", "unknown_field"},
		{"wrong type of value", `{"organization_id":"ORG","type":"S3","config":{"bucket":"b-1","access_key_id":"a","secret_access_key":"s","force_path_style":"yes"}}`, 422, "config.force_path_style", "invalid_type"},
		{"url not a URL", `{"organization_id":"ORG","type":"GenericHttps","config":{"url":"collector"}}`, 422, "config.url", "invalid_url"},
		{"url with credentials", `{"organization_id":"ORG","type":"GenericHttps","config":{"url":"https://u:p@c.example.com"}}`, 422, "config.url", "invalid_url"},
		{"reserved header", `{"organization_id":"ORG","type":"GenericHttps","config":{"url":"https://c.example.com","headers":{"content-type":"text/plain"}}}`, 422, "config.headers", "reserved_header"},
		{"header with a newline", `{"organization_id":"ORG","type":"GenericHttps","config":{"url":"https://c.example.com","headers":{"X-A":"a\nb"}}}`, 422, "config.headers", "invalid_header"},
		{"unknown Datadog site", `{"organization_id":"ORG","type":"Datadog","config":{"api_key":"k","site":"datadog.example"}}`, 422, "config.site", "invalid"},
		{"bad S3 bucket", `{"organization_id":"ORG","type":"S3","config":{"bucket":"Bad_Bucket","access_key_id":"a","secret_access_key":"s"}}`, 422, "config.bucket", "invalid"},
		{"bad S3 region", `{"organization_id":"ORG","type":"S3","config":{"bucket":"b-1","region":"EU West 1","access_key_id":"a","secret_access_key":"s"}}`, 422, "config.region", "invalid"},
		{"bad GCS bucket", `{"organization_id":"ORG","type":"GoogleCloudStorage","config":{"bucket":"-b","endpoint":"http://127.0.0.1:4443"}}`, 422, "config.bucket", "invalid"},
		{"GCS without credentials or endpoint", `{"organization_id":"ORG","type":"GoogleCloudStorage","config":{"bucket":"b-1"}}`, 422, "config.credentials_json", "required"},
		{"GCS credentials not a key file", `{"organization_id":"ORG","type":"GoogleCloudStorage","config":{"bucket":"b-1","credentials_json":{"type":"authorized_user"}}}`, 422, "config.credentials_json", "invalid"},
		{"config not an object", `{"organization_id":"ORG","type":"Datadog","config":"x"}`, 422, "config", "invalid_type"},
	}
	for _, c := range cases {
		t.Run("refuse "+c.name, func(t *testing.T) {
			st, m, raw := call(t, s, "POST", "/log_streams", strings.ReplaceAll(c.body, "ORG", org))
			if st != c.status {
				t.Fatalf("%d %s, want %d", st, raw, c.status)
			}
			if c.field == "" {
				if m["code"] != c.code {
					t.Fatalf("code %v, want %s", m["code"], c.code)
				}
				return
			}
			for _, e := range m["errors"].([]any) {
				fe := e.(map[string]any)
				if fe["field"] == c.field && fe["code"] == c.code {
					return
				}
			}
			t.Fatalf("no error {%s, %s} in %s", c.field, c.code, raw)
		})
	}
}

func testTestEvent(t *testing.T, s *apptest.Server, org, ddURL string, received func() []map[string]any) {
	create := func(key string) string {
		_, m, raw := call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":"Datadog","config":{"api_key":%q,"endpoint":%q}}`, org, key, ddURL))
		if m["id"] == nil {
			t.Fatal(raw)
		}
		return m["id"].(string)
	}
	good := create(ddKey)
	st, m, raw := call(t, s, "POST", "/log_streams/"+good+"/test", "")
	if st != 200 || m["success"] != true || m["status"] != float64(200) {
		t.Fatalf("test: %d %s", st, raw)
	}
	got := received()
	last := got[len(got)-1]
	if last["event"] != "log_stream.test" || last["organization_id"] != org || last["data"].(map[string]any)["log_stream_id"] != good ||
		last["gatehouse"].(map[string]any)["version"] != float64(1) {
		t.Fatalf("test event as received: %v", last)
	}

	const wrongKey = "wrong_key_abcdefghijklmnop"
	bad := create(wrongKey)
	st, m, raw = call(t, s, "POST", "/log_streams/"+bad+"/test", "")
	if st != 200 || m["success"] != false || m["status"] != float64(403) || m["code"] != "unauthorized" ||
		!strings.Contains(m["message"].(string), "API key") || strings.Contains(raw, wrongKey) {
		t.Fatalf("test with a wrong key: %d %s", st, raw)
	}

	// Replay waits for the delivery engine; its input is checked first.
	for _, c := range []struct {
		body   string
		status int
	}{{`{}`, 422}, {`{"since":"yesterday"}`, 422}, {`{"since":"2999-01-01T00:00:00Z"}`, 422}} {
		if st, _, raw := call(t, s, "POST", "/log_streams/"+good+"/replay", c.body); st != c.status {
			t.Fatalf("replay %s: %d %s", c.body, st, raw)
		}
	}
}

// testAnswerNotEchoed: a collector's answer body is never shown by a test
// (docs/security.md): the result gives the HTTP status, the plain reason
// and the fix.
func testAnswerNotEchoed(t *testing.T, s *apptest.Server, org string) {
	const body = "db_password=hunter2 at internal-10-0-0-7"
	for _, c := range []struct {
		name, code string
		status     int
		reason     string
	}{
		{"refused credentials", "unauthorized", 401, "refused the credentials"},
		{"rejected request", "rejected", 400, "rejected the request"},
		{"server error", "server_error", 503, "had an internal error"},
	} {
		t.Run("answer not echoed: "+c.name, func(t *testing.T) {
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, body, c.status)
			}))
			defer collector.Close()
			_, m, raw := call(t, s, "POST", "/log_streams", fmt.Sprintf(`{"organization_id":%q,"type":"GenericHttps","config":{"url":%q}}`, org, collector.URL+"/in"))
			if m["id"] == nil {
				t.Fatal(raw)
			}
			st, m, raw := call(t, s, "POST", "/log_streams/"+m["id"].(string)+"/test", "")
			msg, _ := m["message"].(string)
			if st != 200 || m["success"] != false || m["code"] != c.code || m["status"] != float64(c.status) {
				t.Fatalf("test: %d %s", st, raw)
			}
			if strings.Contains(raw, "hunter2") || strings.Contains(raw, "internal-10") || strings.Contains(raw, "answered") {
				t.Errorf("the collector's answer is shown: %s", raw)
			}
			if !strings.Contains(msg, c.reason) || !strings.Contains(msg, fmt.Sprintf("HTTP %d", c.status)) || m["fix"] == "" {
				t.Errorf("message %q lacks the reason, the status or a fix (%v)", msg, m["fix"])
			}
		})
	}
}

// testOrganizationScope calls the service as the portal does: with the
// session's organization, another organization's stream does not exist.
func testOrganizationScope(t *testing.T, s *apptest.Server, org string) {
	other := newOrg(t, s)
	ctx := context.Background()
	ls, err := s.LogStreams.Create(ctx, logstream.CreateInput{OrganizationID: other, Type: "Splunk",
		Config: map[string]json.RawMessage{"url": json.RawMessage(`"https://splunk.example.com"`), "token": json.RawMessage(`"t0000000000000"`)}})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["get"] = s.LogStreams.Get(ctx, org, ls.ID)
	_, checks["update"] = s.LogStreams.Update(ctx, org, ls.ID, logstream.UpdateInput{})
	_, checks["test"] = s.LogStreams.Test(ctx, org, ls.ID)
	checks["delete"] = s.LogStreams.Delete(ctx, org, ls.ID)
	for name, err := range checks {
		if !errs.IsKind(err, errs.KindNotFound) {
			t.Errorf("%s through another organization: %v", name, err)
		}
	}
	if list, _, _ := s.LogStreams.List(ctx, org, store.Page{Limit: 100}); containsID(list, ls.ID) {
		t.Error("another organization's stream is listed")
	}
	if first, ok, err := s.LogStreams.First(ctx, other); err != nil || !ok || first.ID != ls.ID {
		t.Errorf("first stream of the organization: %v %v %v", first.ID, ok, err)
	}
	if _, err := s.LogStreams.Get(ctx, other, ls.ID); err != nil {
		t.Errorf("own stream: %v", err)
	}
	// Deleting the organization takes its streams and their places in the
	// outbox with it.
	if _, err := s.Store.GetConsumer(ctx, logstream.Kind, ls.ID); err != nil {
		t.Fatalf("consumer of a new stream: %v", err)
	}
	if st, _, raw := call(t, s, "DELETE", "/organizations/"+other, ""); st != 204 {
		t.Fatalf("delete organization: %d %s", st, raw)
	}
	if _, err := s.Store.GetConsumer(ctx, logstream.Kind, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consumer outlives its organization: %v", err)
	}
	if _, err := s.Store.GetLogStream(ctx, "", ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stream outlives its organization: %v", err)
	}
}

func containsID(list []logstream.LogStream, id string) bool {
	for _, ls := range list {
		if ls.ID == id {
			return true
		}
	}
	return false
}
