package portal_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/portal"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// fakeWorkspace answers the Admin SDK Directory API calls of one pull:
// the service account's token exchange, one page each of users, groups
// and a group's members.
func fakeWorkspace() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			io.WriteString(w, `{"access_token":"ya29.portal","token_type":"Bearer","expires_in":3600}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer ya29.portal" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":401,"message":"Login Required."}}`)
			return
		}
		user := func(id, email, given, family string) map[string]any {
			return map[string]any{"kind": "admin#directory#user", "id": id, "primaryEmail": email, "suspended": false, "etag": `"` + id + `"`,
				"name": map[string]any{"givenName": given, "familyName": family, "fullName": given + " " + family}}
		}
		var out map[string]any
		switch path := strings.TrimPrefix(r.URL.Path, "/admin/directory/v1/"); {
		case path == "users":
			out = map[string]any{"kind": "admin#directory#users", "users": []any{
				user("g1", "grace@acme-corp.test", "Grace", "Hopper"), user("g2", "alan@acme-corp.test", "Alan", "Turing")}}
		case path == "groups":
			out = map[string]any{"kind": "admin#directory#groups", "groups": []any{
				map[string]any{"kind": "admin#directory#group", "id": "grp-eng", "email": "eng@acme-corp.test", "name": "Engineering", "etag": `"e"`}}}
		case path == "groups/grp-eng/members":
			out = map[string]any{"kind": "admin#directory#members", "members": []any{map[string]any{"id": "g1", "type": "USER"}}}
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":404,"message":"Not found"}}`)
			return
		}
		json.NewEncoder(w).Encode(out)
	})
}

// serviceAccountKey is a Google service-account key file whose token_uri
// is tokenURL.
func serviceAccountKey(t *testing.T, tokenURL string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme-sync", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sync@acme-sync.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURL,
	})
	return string(b)
}

// TestGoogleAndOIDCFormsInBrowser fills and submits, in Chromium, the
// Google Workspace directory form (then "Sync now" against a fake Admin
// SDK) and the OpenID Connect connection form, then runs a real test
// sign-in against the in-process OpenID provider.
func TestGoogleAndOIDCFormsInBrowser(t *testing.T) {
	chrome := apptest.Chromium(t)
	google := httptest.NewServer(fakeWorkspace())
	t.Cleanup(google.Close)
	opSrv := httptest.NewUnstartedServer(nil)
	op, err := testidp.NewOIDC("http://"+opSrv.Listener.Addr().String()+"/oidc", testidp.OIDCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.AddUser(testidp.User{Email: "alice@acme-corp.test", Password: "alice", FirstName: "Alice", LastName: "Liddell",
		Groups: []string{"engineering"}, Subject: "alice-sub-1"}); err != nil {
		t.Fatal(err)
	}
	opSrv.Config.Handler = op
	opSrv.Start()
	t.Cleanup(opSrv.Close)

	s := apptest.Start(t, "sqlite", func(c *config.Config) {
		c.GoogleAPIBaseURL = google.URL
		c.DirectorySyncInterval = time.Hour
		c.Portal = config.Portal{Name: "Acme Cloud", AccentColor: "#4f46e5", SupportEmail: "support@acme-cloud.example"}
	})
	org := newOrg(t, s, "Acme Corp")
	ctx := context.Background()
	link, err := s.Portal.GenerateLink(ctx, portal.LinkInput{Organization: org.ID, Intent: "dsync"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, chrome)

	// Google Workspace: the service-account key pasted, the admin to act
	// as and the domain; then a pull on demand.
	b.do("open link", chromedp.Navigate(link), chromedp.WaitVisible(`input[value="gsuite directory"]`))
	b.do("google form", chromedp.Click(`input[value="gsuite directory"]`), chromedp.SendKeys(`#dir-name`, "Acme Workspace"),
		chromedp.Click(`form[action="/portal/directory-sync"] details summary`), chromedp.WaitVisible(`#g-json`),
		chromedp.SetValue(`#g-json`, serviceAccountKey(t, google.URL+"/token")), chromedp.SendKeys(`#g-admin`, "admin@acme-corp.test"),
		chromedp.SendKeys(`#g-domain`, "acme-corp.test"))
	chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.activeElement.blur(); true`))
	b.shoot("dsync-google-form")
	b.do("create google directory", chromedp.Click(`form[action="/portal/directory-sync"] button[type=submit]`))
	b.waitURL("done=dir-created")
	if txt := b.text("main"); !strings.Contains(txt, "Google Workspace") || !strings.Contains(txt, "acme-corp.test") || strings.Contains(txt, "PRIVATE KEY") {
		t.Errorf("the new Google directory's page: %q", txt)
	}
	b.do("sync now", chromedp.Click(`form[action$="/sync"] button`))
	b.waitURL("done=sync-started")
	b.do("synced users", chromedp.WaitVisible(`#users`))
	if txt := b.text("main"); !strings.Contains(txt, "Sync finished.") || !strings.Contains(txt, "grace@acme-corp.test") ||
		!strings.Contains(txt, "alan@acme-corp.test") || !strings.Contains(txt, "Engineering") {
		t.Errorf("after Sync now: %q", txt)
	}
	if b.text("#count-active") != "2" || b.text("#count-groups") != "1" {
		t.Errorf("counts after the pull: %s users, %s groups", b.text("#count-active"), b.text("#count-groups"))
	}
	b.shoot("dsync-google")

	// OpenID Connect: the preset, then issuer, client ID and secret; the
	// connection activates once discovery succeeds.
	b.do("new OIDC connection", chromedp.Navigate(s.URL+"/portal/sso"), chromedp.WaitVisible(`input[value="GenericOIDC"]`),
		chromedp.Click(`input[value="GenericOIDC"]`), chromedp.SendKeys(`#conn-name`, "Acme OIDC"),
		chromedp.Click(`form[action="/portal/sso"] button[type=submit]`), chromedp.WaitVisible(`#o-issuer`))
	conn := strings.TrimPrefix(strings.SplitN(b.location(), "?", 2)[0], s.URL+"/portal/sso/")
	if err := op.AddClient(testidp.OIDCClient{ID: "acme-cloud-sso", Secret: "oidc-client-secret-0123456789",
		RedirectURIs: []string{s.SSO.OIDCRedirectURI(conn)}}); err != nil {
		t.Fatal(err)
	}
	b.do("OIDC fields", chromedp.SendKeys(`#o-issuer`, op.Issuer()), chromedp.SendKeys(`#o-client`, "acme-cloud-sso"),
		chromedp.SendKeys(`#o-secret`, "oidc-client-secret-0123456789"))
	b.shoot("sso-oidc-form")
	b.do("save OIDC", chromedp.Click(`form:has(#o-issuer) button[type=submit]`), chromedp.WaitVisible(`a[data-test-window]`))
	if html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML("html")); strings.Contains(html, "oidc-client-secret-0123456789") {
		t.Error("the connection page holds the client secret")
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(`#o-issuer`)); v != op.Issuer() {
		t.Errorf("issuer shown after saving: %q", v)
	}
	b.shoot("sso-oidc-connection")
	b.do("OIDC test sign-in", chromedp.Navigate(s.URL+"/portal/sso/"+conn+"/test"))
	b.signInAtIdP("alice@acme-corp.test", "alice")
	b.do("OIDC test result", chromedp.WaitVisible(`[data-test-result]`))
	if txt := b.text("main"); !strings.Contains(txt, "Test sign-in succeeded") || !strings.Contains(txt, "alice@acme-corp.test") ||
		!strings.Contains(txt, "Liddell") {
		t.Errorf("OIDC test sign-in: %q", txt)
	}
	b.shoot("sso-oidc-test-success")
}
