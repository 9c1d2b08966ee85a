package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

func call(t *testing.T, base, method, path, body, idemKey string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("Authorization", "Bearer "+apptest.APIKey)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestTwoNodesShareOnePostgres runs two Gatehouse nodes on one database:
// what one writes the other reads, idempotency holds across them, the
// client ID is shared, and a cursor reader sees every event from both.
func TestTwoNodesShareOnePostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	shared := func(c *config.Config) { c.DatabaseURL = url }
	a := apptest.Start(t, "postgres", shared)
	b := apptest.Start(t, "postgres", shared)
	if a.ClientID != b.ClientID {
		t.Errorf("client IDs differ: %s / %s", a.ClientID, b.ClientID)
	}
	st, body := call(t, a.URL, "POST", "/organizations", `{"name":"Shared"}`, "k1")
	if st != 201 {
		t.Fatalf("create on A: %d %s", st, body)
	}
	st2, body2 := call(t, b.URL, "POST", "/organizations", `{"name":"Shared"}`, "k1")
	if st2 != 201 || string(body2) != string(body) {
		t.Errorf("idempotent replay on B = %d %s, want A's answer", st2, body2)
	}
	var org struct{ ID string }
	json.Unmarshal(body, &org)
	if st, _ := call(t, b.URL, "GET", "/organizations/"+org.ID, "", ""); st != 200 {
		t.Errorf("read on B = %d", st)
	}

	var wg sync.WaitGroup
	const each = 25
	for _, base := range []string{a.URL, b.URL} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if st, b := call(t, base, "POST", "/organizations", fmt.Sprintf(`{"name":"N%d"}`, i), ""); st != 201 {
					t.Errorf("create: %d %s", st, b)
				}
			}
		}()
	}
	// Read forward by cursor on A while both nodes write.
	seen := map[string]bool{}
	after := ""
	readAll := func() {
		for {
			path := "/events?events=organization.created&limit=100&order=asc"
			if after != "" {
				path += "&after=" + after
			}
			st, body := call(t, a.URL, "GET", path, "", "")
			if st != 200 {
				t.Fatalf("events: %d %s", st, body)
			}
			var page struct {
				Data []struct{ ID string }
			}
			json.Unmarshal(body, &page)
			for _, e := range page.Data {
				if seen[e.ID] {
					t.Fatalf("event %s read twice", e.ID)
				}
				seen[e.ID] = true
				after = e.ID
			}
			if len(page.Data) < 100 {
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		readAll()
	}
	readAll()
	if len(seen) != 2*each+1 {
		t.Errorf("cursor reader saw %d organization.created events, want %d", len(seen), 2*each+1)
	}
}

// TestDeletingAnOrganizationEmitsItsChildrensEvents deletes an organization
// that has a connection and a directory: both go, each with its own
// deletion event, in the same transaction.
func TestDeletingAnOrganizationEmitsItsChildrensEvents(t *testing.T) {
	s := apptest.Start(t, "sqlite")
	_, body := call(t, s.URL, "POST", "/organizations", `{"name":"Doomed"}`, "")
	var org struct{ ID string }
	json.Unmarshal(body, &org)
	st, body := call(t, s.URL, "POST", "/connections", fmt.Sprintf(`{"organization_id":%q,"connection_type":"GenericOIDC","name":"c"}`, org.ID), "")
	if st != 201 {
		t.Fatalf("create connection: %d %s", st, body)
	}
	var conn struct{ ID string }
	json.Unmarshal(body, &conn)
	st, body = call(t, s.URL, "POST", "/directories", fmt.Sprintf(`{"organization_id":%q,"type":"okta scim v2.0"}`, org.ID), "")
	if st != 201 {
		t.Fatalf("create directory: %d %s", st, body)
	}
	var dir struct{ ID string }
	json.Unmarshal(body, &dir)
	if st, body := call(t, s.URL, "DELETE", "/organizations/"+org.ID, "", ""); st != 204 {
		t.Fatalf("delete organization: %d %s", st, body)
	}
	for _, p := range []string{"/connections/" + conn.ID, "/directories/" + dir.ID} {
		if st, _ := call(t, s.URL, "GET", p, "", ""); st != 404 {
			t.Errorf("GET %s after the organization's deletion = %d", p, st)
		}
	}
	_, body = call(t, s.URL, "GET", "/events?organization_id="+org.ID+"&events=connection.deleted,dsync.deleted,organization.deleted", "", "")
	var evs struct {
		Data []struct {
			Event string
			Data  struct{ ID string }
		}
	}
	json.Unmarshal(body, &evs)
	got := map[string]string{}
	for _, e := range evs.Data {
		got[e.Event] = e.Data.ID
	}
	if got["connection.deleted"] != conn.ID || got["dsync.deleted"] != dir.ID || got["organization.deleted"] != org.ID {
		t.Errorf("deletion events = %v", got)
	}
}
