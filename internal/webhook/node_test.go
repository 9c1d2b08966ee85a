package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/webhook"
)

// nodeVerifierDir holds package.json, package-lock.json (the exact
// @workos-inc/node version) and verify.mjs; `npm ci` there installs the SDK.
const nodeVerifierDir = "testdata/node"

// nodeVerifier finds node and the installed SDK. Without them the test
// skips locally; in CI (CI=true) it fails, because .ci/run installs them.
func nodeVerifier(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; .ci/run installs it", what)
		}
		t.Skip(what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(nodeVerifierDir, "node_modules", "@workos-inc", "node", "package.json")); err != nil {
		missing("@workos-inc/node is not installed (run npm ci in internal/webhook/" + nodeVerifierDir + ")")
	}
	return node
}

type nodeCase struct {
	Name      string `json:"name"`
	Body      string `json:"body"`
	SigHeader string `json:"sig_header"`
	Secret    string `json:"secret"`
}

type nodeResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Event string `json:"event"`
	ID    string `json:"id"`
}

// runNodeVerifier passes the cases to verify.mjs, which calls
// workos.webhooks.constructEvent for each.
func runNodeVerifier(t *testing.T, node string, cases []nodeCase) map[string]nodeResult {
	t.Helper()
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "verify.mjs")
	cmd.Dir = nodeVerifierDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.Bytes())
	}
	var res []nodeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node verify.mjs answered %q: %v", out, err)
	}
	byName := map[string]nodeResult{}
	for _, r := range res {
		byName[r.Name] = r
	}
	return byName
}

// capture is an endpoint that keeps each delivery's raw body and signature.
type capture struct {
	mu   sync.Mutex
	got  []nodeCase
	seen chan struct{}
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got = append(c.got, nodeCase{Body: string(body), SigHeader: r.Header.Get(webhook.SignatureHeader)})
	if len(c.got) == 1 {
		close(c.seen)
	}
	c.mu.Unlock()
	w.Write([]byte("ok"))
}

// TestNodeSDKVerifiesDeliveries: a delivery Gatehouse really sent (its raw
// body and WorkOS-Signature header, as the endpoint received them) passes
// the official Node SDK's workos.webhooks.constructEvent, which verifies
// JSON.stringify of the parsed body; the same delivery with a tampered body
// or checked with a wrong secret is refused. The organization's name has
// the characters a JSON encoder may escape differently (&, <, >, U+2028,
// non-ASCII, quotes), because the Node SDK re-serializes the body.
func TestNodeSDKVerifiesDeliveries(t *testing.T) {
	node := nodeVerifier(t)
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			rc := &capture{seen: make(chan struct{})}
			hook := httptest.NewServer(rc)
			defer hook.Close()

			var we webhook.EndpointJSON
			s.JSON(t, "POST", "/webhook_endpoints", map[string]any{
				"endpoint_url": hook.URL, "events": []string{"organization.created"}}, 201, &we)
			const name = "Acme & Co <R&D> \"Zürich\" \u2028 \\ 東京"
			var org struct {
				ID string `json:"id"`
			}
			s.JSON(t, "POST", "/organizations", map[string]any{"name": name}, 201, &org)
			waitFor(t, "a delivery", func() bool {
				select {
				case <-rc.seen:
					return true
				default:
					return false
				}
			})
			rc.mu.Lock()
			got := rc.got[0]
			rc.mu.Unlock()
			var p struct {
				Event string `json:"event"`
				Data  struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(got.Body), &p); err != nil || p.Data.ID != org.ID || p.Data.Name != name {
				t.Fatalf("delivered %s (%v)", got.Body, err)
			}

			tampered := strings.Replace(got.Body, org.ID, org.ID+"X", 1)
			if tampered == got.Body {
				t.Fatal("could not tamper with the body")
			}
			cases := []struct {
				c  nodeCase
				ok bool
			}{
				{nodeCase{Name: "delivered", Body: got.Body, SigHeader: got.SigHeader, Secret: we.Secret}, true},
				{nodeCase{Name: "tampered body", Body: tampered, SigHeader: got.SigHeader, Secret: we.Secret}, false},
				{nodeCase{Name: "wrong secret", Body: got.Body, SigHeader: got.SigHeader, Secret: we.Secret + "x"}, false},
			}
			var in []nodeCase
			for _, tc := range cases {
				in = append(in, tc.c)
			}
			res := runNodeVerifier(t, node, in)
			for _, tc := range cases {
				r, ok := res[tc.c.Name]
				switch {
				case !ok:
					t.Errorf("%s: no answer from node", tc.c.Name)
				case r.OK != tc.ok:
					t.Errorf("%s: node SDK ok=%v (%s), want ok=%v; body %s", tc.c.Name, r.OK, r.Error, tc.ok, tc.c.Body)
				case r.OK && (r.Event != "organization.created" || r.ID == ""):
					t.Errorf("%s: constructEvent gave %+v", tc.c.Name, r)
				case !r.OK && !strings.HasPrefix(r.Error, "SignatureVerificationException"):
					t.Errorf("%s: refused for the wrong reason: %s", tc.c.Name, r.Error)
				case r.OK:
					t.Logf("%s: node SDK accepted %s %s", tc.c.Name, r.Event, r.ID)
				default:
					t.Logf("%s: node SDK refused: %s", tc.c.Name, r.Error)
				}
			}
		})
	}
}
