package scim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
)

// backends lists the backends the tests run on.
func backends(t *testing.T) []string { return apptest.Backends(t) }

// env is a running node with one organization.
type env struct {
	t   testing.TB
	srv *apptest.Server
	org string
}

func newEnv(t testing.TB, backend string) *env {
	srv := apptest.Start(t, backend)
	e := &env{t: t, srv: srv}
	var org struct{ ID string }
	e.api("POST", "/organizations", map[string]any{"name": "Acme"}, 201, &org)
	e.org = org.ID
	return e
}

// api calls the management API and decodes the answer into out.
func (e *env) api(method, path string, body any, want int, out any) {
	e.t.Helper()
	e.srv.JSON(e.t, method, path, body, want, out)
}

// directory is a SCIM directory with a token.
type directory struct {
	e     *env
	ID    string
	Token string
	Base  string
}

func (e *env) newDirectory(typ string) *directory {
	e.t.Helper()
	var d struct {
		ID   string
		SCIM struct {
			BaseURL string `json:"base_url"`
		}
	}
	e.api("POST", "/directories", map[string]any{"organization_id": e.org, "type": typ, "name": typ}, 201, &d)
	var tok struct{ Token string }
	e.api("POST", "/directories/"+d.ID+"/tokens", map[string]any{"name": "idp"}, 201, &tok)
	return &directory{e: e, ID: d.ID, Token: tok.Token, Base: d.SCIM.BaseURL}
}

// resp is a decoded SCIM answer.
type resp struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (r resp) str(path string) string {
	v := dig(r.Body, path)
	s, _ := v.(string)
	return s
}

// dig reads a dotted path (numbers index arrays).
func dig(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// scim sends a SCIM request with the directory's token.
func (d *directory) scim(method, path string, body any) resp {
	return d.scimWith(d.Token, "application/scim+json", method, path, body)
}

func (d *directory) scimWith(token, ctype, method, path string, body any) resp {
	d.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, d.Base+path, rd)
	if err != nil {
		d.e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Raw: string(raw)}
	if len(raw) > 0 {
		json.Unmarshal(raw, &out.Body)
	}
	return out
}

// must checks a SCIM answer's status.
func (d *directory) must(r resp, want int, what string) resp {
	d.e.t.Helper()
	if r.Status != want {
		d.e.t.Fatalf("%s: status %d, want %d: %s", what, r.Status, want, r.Raw)
	}
	return r
}

// eventNames returns the names of every event so far, oldest first.
func (e *env) eventNames() []string {
	e.t.Helper()
	var names []string
	after := ""
	for {
		var page struct {
			Data []struct {
				ID    string
				Event string
			}
			ListMetadata struct {
				After *string `json:"after"`
			} `json:"list_metadata"`
		}
		path := "/events?limit=100"
		if after != "" {
			path += "&after=" + after
		}
		e.api("GET", path, nil, 200, &page)
		for _, ev := range page.Data {
			names = append(names, ev.Event)
		}
		if page.ListMetadata.After == nil {
			return names
		}
		after = *page.ListMetadata.After
	}
}

// lastEvent returns the newest event with the given name.
func (e *env) lastEvent(name string) map[string]any {
	e.t.Helper()
	var page struct {
		Data []map[string]any
	}
	e.api("GET", "/events?order=desc&limit=1&events="+name, nil, 200, &page)
	if len(page.Data) == 0 {
		e.t.Fatalf("no %s event", name)
	}
	return page.Data[0]
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}
