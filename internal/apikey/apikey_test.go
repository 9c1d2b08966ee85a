package apikey_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/apikey"
	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

type keyJSON = apikey.JSON

// call sends a request with key as the Bearer token.
func call(t *testing.T, base, key, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func list(t *testing.T, base, key string) map[string]keyJSON {
	t.Helper()
	st, b := call(t, base, key, "GET", "/api_keys", "")
	if st != 200 {
		t.Fatalf("list: %d %s", st, b)
	}
	if strings.Contains(string(b), `"value"`) {
		t.Errorf("the list shows a secret: %s", b)
	}
	var l struct {
		Object string    `json:"object"`
		Data   []keyJSON `json:"data"`
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Object != "list" {
		t.Fatalf("list body %s: %v", b, err)
	}
	out := map[string]keyJSON{}
	for _, k := range l.Data {
		out[k.ID] = k
	}
	return out
}

// TestAPIKeys: create shows the secret once, list never does, the new key
// works and its last use is recorded, and a revoked key fails at once.
func TestAPIKeys(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			st, body := call(t, s.URL, apptest.APIKey, "POST", "/api_keys", `{"name":"deploy bot"}`)
			if st != 201 {
				t.Fatalf("create: %d %s", st, body)
			}
			var k keyJSON
			json.Unmarshal(body, &k)
			if k.Object != "api_key" || !strings.HasPrefix(k.ID, "key_") || k.Name != "deploy bot" || !strings.HasPrefix(k.Value, "sk_") ||
				k.ObfuscatedValue != "sk_…"+k.Value[len(k.Value)-4:] || k.LastUsedAt != nil || k.CreatedAt == "" {
				t.Fatalf("created key %s", body)
			}

			got := list(t, s.URL, apptest.APIKey)[k.ID]
			if got.Name != "deploy bot" || got.ObfuscatedValue != k.ObfuscatedValue || got.LastUsedAt != nil {
				t.Errorf("listed %+v", got)
			}
			if len(list(t, s.URL, apptest.APIKey)) != 2 {
				t.Errorf("want the test key and the new one")
			}

			if st, b := call(t, s.URL, k.Value, "GET", "/organizations", ""); st != 200 {
				t.Fatalf("new key refused: %d %s", st, b)
			}
			used := list(t, s.URL, apptest.APIKey)[k.ID].LastUsedAt
			if used == nil {
				t.Fatal("last_used_at not written after the key was used")
			}
			// Used again within the minute: not written again.
			call(t, s.URL, k.Value, "GET", "/organizations", "")
			if again := list(t, s.URL, apptest.APIKey)[k.ID].LastUsedAt; again == nil || *again != *used {
				t.Errorf("last_used_at rewritten within the minute: %v -> %v", *used, again)
			}

			if st, b := call(t, s.URL, apptest.APIKey, "DELETE", "/api_keys/"+k.ID, ""); st != 204 {
				t.Fatalf("revoke: %d %s", st, b)
			}
			if st, _ := call(t, s.URL, k.Value, "GET", "/organizations", ""); st != 401 {
				t.Errorf("revoked key answered %d, want 401", st)
			}
			if _, ok := list(t, s.URL, apptest.APIKey)[k.ID]; ok {
				t.Error("revoked key still listed")
			}
			if st, b := call(t, s.URL, apptest.APIKey, "DELETE", "/api_keys/"+k.ID, ""); st != 404 || !strings.Contains(string(b), "entity_not_found") {
				t.Errorf("second revoke: %d %s", st, b)
			}
		})
	}
}

// TestAPIKeyBadInput names the field.
func TestAPIKeyBadInput(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no name", `{}`, 422, `"field":"name"`},
		{"blank name", `{"name":"  "}`, 422, `"code":"required"`},
		{"name too long", `{"name":"` + strings.Repeat("n", 201) + `"}`, 422, `"code":"too_long"`},
		{"name not a string", `{"name":5}`, 422, "name must be a string"},
		{"not json", `{`, 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := call(t, s.URL, apptest.APIKey, "POST", "/api_keys", tc.body)
			if st != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("= %d %s, want %d with %q", st, b, tc.status, tc.want)
			}
		})
	}
	if st, _ := call(t, s.URL, "sk_wrong", "GET", "/api_keys", ""); st != 401 {
		t.Errorf("list with a wrong key = %d", st)
	}
}

// TestRevokeOnOneNodeStopsTheKeyOnAnother: keys are looked up in the
// shared database on every request, so no node keeps a revoked key alive.
func TestRevokeOnOneNodeStopsTheKeyOnAnother(t *testing.T) {
	url := storetest.PostgresURL(t)
	shared := func(c *config.Config) { c.DatabaseURL = url }
	a := apptest.Start(t, "postgres", shared)
	b := apptest.Start(t, "postgres", shared)
	_, body := call(t, a.URL, apptest.APIKey, "POST", "/api_keys", `{"name":"shared"}`)
	var k keyJSON
	json.Unmarshal(body, &k)
	if st, _ := call(t, b.URL, k.Value, "GET", "/organizations", ""); st != 200 {
		t.Fatalf("key made on A refused on B: %d", st)
	}
	if st, _ := call(t, a.URL, apptest.APIKey, "DELETE", "/api_keys/"+k.ID, ""); st != 204 {
		t.Fatalf("revoke on A: %d", st)
	}
	if st, _ := call(t, b.URL, k.Value, "GET", "/organizations", ""); st != 401 {
		t.Errorf("key revoked on A still works on B: %d", st)
	}
}
