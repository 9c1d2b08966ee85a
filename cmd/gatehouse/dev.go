package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/workos/workos-go/v7"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// External IDs mark the demo organizations so restarts find them again.
const (
	demoExternalID     = "gatehouse-dev-demo"
	demoOIDCExternalID = "gatehouse-dev-demo-oidc"
)

// The test OpenID provider's client for the OIDC demo connection. It is a
// local demo, so a fixed secret is fine.
const demoOIDCClientID, demoOIDCSecret = "gatehouse-dev", "gatehouse-dev-secret"

// demoUsers sign in at the built-in test IdP.
var demoUsers = []testidp.User{
	{Email: "alice@example.com", Password: "alice", FirstName: "Alice", LastName: "Liddell", Groups: []string{"engineering", "admins"}},
	{Email: "bob@example.com", Password: "bob", FirstName: "Bob", LastName: "Builder", Groups: []string{"sales"}},
}

// dev runs `gatehouse serve` plus everything a newcomer needs to see a
// login work: an API key, a demo organization, a built-in SAML IdP wired
// to it as a connection, and a tiny host app at /demo/, all on one port.
// State lives in the data directory, so a restart reuses the demo.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, log, err := loadConfig("dev", args, stderr)
	if err != nil {
		return err
	}
	// The test IdP is on our own (loopback) address.
	cfg.AllowPrivateTargets = true
	demoCallback := cfg.BaseURL + "/demo/callback"
	cfg.RedirectURIs = append([]string{demoCallback}, cfg.RedirectURIs...)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cfg.APIKey == "" {
		if cfg.APIKey, err = loadOrCreate(filepath.Join(cfg.DataDir, "dev-api-key"), func() ([]byte, error) {
			return []byte(NewAPIKey()), nil
		}); err != nil {
			return err
		}
	}
	keys, err := devIdPKeys(cfg.DataDir)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()

	idp, err := testidp.NewSAML(testidp.SAMLOptions{BaseURL: cfg.BaseURL + "/testidp/saml", KeyPair: keys,
		Logger: log.With("component", "testidp")})
	if err != nil {
		return err
	}
	for _, u := range demoUsers {
		if err := idp.AddUser(u); err != nil {
			return err
		}
	}
	op, err := testidp.NewOIDC(cfg.BaseURL+"/testidp/oidc", testidp.OIDCOptions{RequirePKCE: true, AuthorizationResponseIss: true,
		Logger: log.With("component", "testidp")})
	if err != nil {
		return err
	}
	for _, u := range demoUsers {
		if err := op.AddUser(u); err != nil {
			return err
		}
	}

	demo := &demoApp{
		sdk:      workos.NewClient(cfg.APIKey, workos.WithBaseURL(cfg.BaseURL), workos.WithClientID(a.ClientID), workos.WithMaxRetries(0)),
		callback: demoCallback, base: cfg.BaseURL, log: log, ready: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.Handle("/testidp/saml/", idp)
	mux.Handle("/testidp/oidc/", op)
	mux.Handle("/demo/", demo.routes())
	mux.Handle("GET /{$}", http.RedirectHandler("/demo/", http.StatusFound))
	mux.Handle("/", a.Handler())

	// Serve first: the OIDC connection's discovery calls this very server.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := a.HTTPServer(mux)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	defer srv.Close()

	org, conn, err := setUpDemo(ctx, a, idp)
	if err != nil {
		return fmt.Errorf("set up the demo: %w", err)
	}
	md, err := a.SSO.SPMetadata(ctx, conn.ID)
	if err != nil {
		return err
	}
	if _, err := idp.AddServiceProviderMetadata(md); err != nil {
		return fmt.Errorf("register the demo connection at the test IdP: %w", err)
	}
	oidcOrg, oidcConn, err := setUpOIDCDemo(ctx, a, op)
	if err != nil {
		return fmt.Errorf("set up the OIDC demo: %w", err)
	}
	demo.orgID, demo.oidcOrgID = org.ID, oidcOrg.ID
	demo.idpStart = idp.StartURL(a.SSO.SPEntityID(conn.ID), "")
	close(demo.ready)

	printBanner(stdout, a, cfg.APIKey)
	fmt.Fprintf(stdout, "\n  Try a login:  %s/demo/\n", cfg.BaseURL)
	fmt.Fprintf(stdout, "  Admin Portal: %s/demo/settings (or %s/demo/admin-portal for a fresh one-time link)\n", cfg.BaseURL, cfg.BaseURL)
	fmt.Fprintf(stdout, "  Test IdPs:    %s/testidp/saml/ (SAML), %s/testidp/oidc/ (OIDC)\n", cfg.BaseURL, cfg.BaseURL)
	fmt.Fprintf(stdout, "                users: alice@example.com / alice, bob@example.com / bob\n")
	fmt.Fprintf(stdout, "  Demo Corp:    %s   SAML connection: %s\n", org.ID, conn.ID)
	fmt.Fprintf(stdout, "  Demo OIDC:    %s   OIDC connection: %s\n", oidcOrg.ID, oidcConn.ID)
	fmt.Fprintf(stdout, "  SDK:          workos.NewClient(%q, workos.WithBaseURL(%q), workos.WithClientID(%q))\n", cfg.APIKey, cfg.BaseURL, a.ClientID)
	fmt.Fprintf(stdout, "\n  For the curl examples, in another shell:\n    export GATEHOUSE_URL=%s GATEHOUSE_API_KEY=%s\n", cfg.BaseURL, cfg.APIKey)
	where := cfg.DataDir
	if cfg.DatabaseURL != "" {
		where = "the PostgreSQL database"
	}
	fmt.Fprintf(stdout, "\n  Stop with Ctrl-C; the demo's data stays in %s for the next start.\n\n", where)
	return a.Run(ctx, srv, errc)
}

// loadOrCreate returns the trimmed contents of path, creating it (0600)
// with make's output first if it does not exist.
func loadOrCreate(path string, make func() ([]byte, error)) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b, err := make()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// devIdPKeys keeps the test IdP's signing key in the data directory, so
// the demo connection's certificate stays valid across restarts.
func devIdPKeys(dir string) (*testidp.KeyPair, error) {
	certPath, keyPath := filepath.Join(dir, "dev-idp.crt"), filepath.Join(dir, "dev-idp.key")
	certPEM, err1 := os.ReadFile(certPath)
	keyPEM, err2 := os.ReadFile(keyPath)
	if err1 == nil && err2 == nil {
		if kp, err := testidp.ParseKeyPair(certPEM, keyPEM); err == nil {
			return kp, nil
		}
	}
	kp, err := testidp.NewKeyPair("Gatehouse dev test IdP")
	if err != nil {
		return nil, err
	}
	keyPEM, err = kp.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, kp.CertificatePEM(), 0o600); err != nil {
		return nil, err
	}
	return kp, nil
}

// setUpDemo finds or creates the demo organization and its SAML
// connection to the test IdP, refreshing the IdP metadata (the base URL or
// key may have changed since the last run).
func setUpDemo(ctx context.Context, a *app.App, idp *testidp.SAMLIdP) (organization.Organization, sso.Connection, error) {
	org, err := a.Orgs.GetByExternalID(ctx, demoExternalID)
	if err != nil {
		org, err = a.Orgs.Create(ctx, organization.Input{
			Name:       organization.Optional[string]{Set: true, Value: "Demo Corp"},
			ExternalID: organization.Optional[string]{Set: true, Value: demoExternalID},
			DomainData: organization.Optional[[]organization.DomainData]{Set: true, Value: []organization.DomainData{{Domain: "example.com", State: "verified"}}},
		})
		if err != nil {
			return org, sso.Connection{}, err
		}
	}
	md := string(idp.MetadataXML())
	conns, _, err := a.SSO.List(ctx, store.ConnectionFilter{OrganizationID: org.ID, Type: "GenericSAML"}, store.Page{Limit: 1, Order: store.Asc})
	if err != nil {
		return org, sso.Connection{}, err
	}
	name := "Gatehouse test IdP"
	in := sso.ConnectionInput{OrganizationID: org.ID, ConnectionType: "GenericSAML", Name: &name, SAML: &sso.SAMLInput{IdPMetadataXML: &md}}
	var conn sso.Connection
	if len(conns) == 0 {
		conn, err = a.SSO.Create(ctx, in)
	} else {
		conn, err = a.SSO.Update(ctx, conns[0].ID, in)
	}
	return org, conn, err
}

// setUpOIDCDemo finds or creates a second demo organization with an OIDC
// connection to the test OpenID provider, and registers the client there.
func setUpOIDCDemo(ctx context.Context, a *app.App, op *testidp.OIDCProvider) (organization.Organization, sso.Connection, error) {
	org, err := a.Orgs.GetByExternalID(ctx, demoOIDCExternalID)
	if err != nil {
		org, err = a.Orgs.Create(ctx, organization.Input{
			Name:       organization.Optional[string]{Set: true, Value: "Demo OIDC Corp"},
			ExternalID: organization.Optional[string]{Set: true, Value: demoOIDCExternalID},
		})
		if err != nil {
			return org, sso.Connection{}, err
		}
	}
	conns, _, err := a.SSO.List(ctx, store.ConnectionFilter{OrganizationID: org.ID, Type: "GenericOIDC"}, store.Page{Limit: 1, Order: store.Asc})
	if err != nil {
		return org, sso.Connection{}, err
	}
	name, iss, id, secret := "Gatehouse test OpenID provider", op.Issuer(), demoOIDCClientID, demoOIDCSecret
	in := sso.ConnectionInput{OrganizationID: org.ID, ConnectionType: "GenericOIDC", Name: &name,
		OIDC: &sso.OIDCInput{Issuer: &iss, ClientID: &id, ClientSecret: &secret}}
	var conn sso.Connection
	if len(conns) == 0 {
		conn, err = a.SSO.Create(ctx, in)
	} else {
		conn, err = a.SSO.Update(ctx, conns[0].ID, in)
	}
	if err != nil {
		return org, conn, err
	}
	err = op.AddClient(testidp.OIDCClient{ID: demoOIDCClientID, Secret: demoOIDCSecret, RedirectURIs: []string{a.SSO.OIDCRedirectURI(conn.ID)}})
	return org, conn, err
}

// demoApp is a tiny host app: it signs users in with Gatehouse through the
// WorkOS Go SDK, exactly as a real app would.
type demoApp struct {
	sdk       *workos.Client
	orgID     string // SAML demo organization
	oidcOrgID string // OIDC demo organization
	callback  string
	idpStart  string
	base      string // the install's base URL (the portal's origin)
	log       *slog.Logger
	// ready is closed once the fields above are set; the server starts
	// before that (OIDC discovery calls it), so the demo pages wait.
	ready chan struct{}
}

const demoStateCookie = "gatehouse_demo_state"

func (d *demoApp) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /demo/{$}", d.home)
	mux.HandleFunc("GET /demo/login", d.login)
	mux.HandleFunc("GET /demo/callback", d.handleCallback)
	mux.HandleFunc("GET /demo/settings", d.settings)
	mux.HandleFunc("GET /demo/admin-portal", d.adminPortal)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-d.ready:
			mux.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
}

// demoPage is the demo host app's one page. It is meant to read well on a
// phone (390 px) as on a desktop: long IDs wrap inside the card, and the
// buttons sit apart from each other and from links.
var demoPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{if .Error}}Sign-in failed · {{else if .Profile}}Signed in · {{end}}Demo app · Gatehouse</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%234f46e5'/%3E%3Cpath d='M10 23l6-14 6 14M12.5 18h7' fill='none' stroke='white' stroke-width='3' stroke-linecap='round' stroke-linejoin='round'/%3E%3C/svg%3E">
<style>
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f5f6fa;--accent:#4f46e5;--accent-soft:#eef2ff;--ok:#166534;--ok-bg:#ecfdf3;--err:#991b1b;--err-bg:#fef2f2}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line)}
.bar{max-width:44rem;margin:0 auto;padding:14px 16px;display:flex;align-items:center;gap:10px}
.logo{width:30px;height:30px;border-radius:7px;background:var(--accent);color:#fff;display:grid;place-items:center;font-weight:700}
.bar b{font-size:16px}
.bar span{color:var(--muted);font-size:13px}
main{max-width:44rem;margin:32px auto;padding:0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:28px;box-shadow:0 1px 3px rgba(20,30,60,.06);overflow-wrap:anywhere}
h1{font-size:22px;line-height:1.3;margin:0 0 10px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:26px 0 8px}
p{margin:0 0 14px}
.muted{color:var(--muted)}
code{background:var(--bg);padding:1px 5px;border-radius:4px;font-size:13px}
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:12px 16px;margin:20px 0 4px}
.button{display:inline-block;background:var(--accent);color:#fff;padding:10px 18px;border-radius:8px;text-decoration:none;font-weight:600}
.button.secondary{background:#fff;color:var(--accent);border:1px solid #c7d2fe}
a{color:var(--accent)}
.banner{border-radius:8px;padding:12px 14px;margin-bottom:18px}
.banner.ok{background:var(--ok-bg);color:var(--ok)}
.banner.err{background:var(--err-bg);color:var(--err)}
.banner p{margin:0}
.banner p+p{margin-top:6px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 20px;margin:0}
dt{font-weight:600;color:var(--muted)}
dd{margin:0;min-width:0}
ul.users{list-style:none;margin:0;padding:0;border:1px solid var(--line);border-radius:8px}
ul.users li{padding:10px 12px}
ul.users li+li{border-top:1px solid var(--line)}
ul.groups{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:6px}
ul.groups li{background:var(--accent-soft);color:var(--accent);border-radius:999px;padding:1px 10px;font-size:13px;font-weight:600}
details{margin-top:22px}
summary{cursor:pointer;color:var(--muted);font-weight:600}
pre{background:var(--bg);padding:14px;border-radius:8px;overflow:auto;font-size:12.5px;margin:10px 0 0;overflow-wrap:normal}
@media (max-width:480px){.card{padding:20px}dl{grid-template-columns:1fr;gap:2px}dd{margin-bottom:10px}}
</style></head><body>
<header><div class="bar"><div class="logo" aria-hidden="true">A</div><div><b>Acme app</b> <span>· a demo host app for Gatehouse</span></div></div></header>
<main><div class="card">
{{if .Error}}<h1>{{if .Title}}{{.Title}}{{else}}Sign-in failed{{end}}</h1>
<div class="banner err" role="alert"><p>{{.Description}}</p>{{if not .Title}}<p>Error code: <code>{{.Error}}</code></p>{{end}}</div>
<div class="actions"><a class="button" href="/demo/login">Sign in again</a><a href="/demo/">Back to the demo home</a></div>
{{else if .Profile}}<h1>Welcome, {{.Name}}</h1>
<div class="banner ok"><p>Signed in with SSO. This is the profile Gatehouse returned to the app:</p></div>
<dl><dt>Name</dt><dd>{{.Name}}</dd><dt>Email</dt><dd>{{.Profile.Email}}</dd>
<dt>Organization</dt><dd><code>{{.OrgID}}</code></dd>
<dt>Connection</dt><dd><code>{{.Profile.ConnectionID}}</code> ({{.Profile.ConnectionType}})</dd>
<dt>Groups</dt><dd>{{if .Profile.Groups}}<ul class="groups">{{range .Profile.Groups}}<li>{{.}}</li>{{end}}</ul>{{else}}<span class="muted">none</span>{{end}}</dd></dl>
<details open><summary>The profile as JSON</summary><pre>{{.JSON}}</pre></details>
<div class="actions"><a class="button" href="/demo/login">Sign in again</a><a href="/demo/">Back to the demo home</a></div>
{{else}}<h1>Sign in to the demo app</h1>
<p>This page plays your application. It sends you to Gatehouse's <code>/sso/authorize</code> for the demo
organization, Gatehouse sends you to the built-in test IdP, and you come back here with a code that the app exchanges
for your profile with the WorkOS Go SDK.</p>
<div class="actions"><a class="button" href="/demo/login">Sign in with SSO (SAML)</a><a class="button secondary" href="/demo/login?via=oidc">Sign in with SSO (OIDC)</a></div>
<h2>Test users</h2>
<ul class="users"><li><code>alice@example.com</code> · password <code>alice</code></li><li><code>bob@example.com</code> · password <code>bob</code></li></ul>
<p class="muted" style="margin-top:18px">Or <a href="{{.IdPStart}}">start at the IdP</a> to try an IdP-initiated login.</p>
<h2>Admin</h2>
<p><a href="/demo/settings">Account settings → Admin → Edit account</a> opens the Admin Portal in a pop-up, as your app would for a customer's IT admin.</p>{{end}}
</div></main>
</body></html>
`))
})

type demoData struct {
	Error, Description, Name, OrgID, JSON, IdPStart string
	// Title, when set, heads a failure the user can act on; its
	// Description says what to do.
	Title   string
	Profile *workos.Profile
}

func (d *demoApp) render(w http.ResponseWriter, status int, data demoData) {
	data.IdPStart = d.idpStart
	var buf bytes.Buffer
	if err := demoPage().Execute(&buf, data); err != nil {
		d.log.Error("demo page", "err", err)
		http.Error(w, "The demo page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (d *demoApp) home(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, demoData{})
}

func (d *demoApp) login(w http.ResponseWriter, r *http.Request) {
	state := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: demoStateCookie, Value: state, Path: "/demo/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	org := d.orgID
	if r.URL.Query().Get("via") == "oidc" {
		org = d.oidcOrgID
	}
	u := d.sdk.SSO().GetAuthorizationURL(&workos.SSOGetAuthorizationURLParams{Organization: &org, RedirectURI: d.callback, State: &state})
	http.Redirect(w, r, u, http.StatusFound)
}

func (d *demoApp) handleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		d.render(w, http.StatusBadRequest, demoData{Error: e, Description: q.Get("error_description")})
		return
	}
	// A state comes back from logins started here; IdP-initiated logins
	// have none. A state that is present must match our cookie (CSRF).
	if st := q.Get("state"); st != "" {
		c, err := r.Cookie(demoStateCookie)
		if err != nil || c.Value != st {
			d.render(w, http.StatusBadRequest, demoData{Error: "state_mismatch", Description: "The state does not match this browser's login."})
			return
		}
	}
	tok, err := d.sdk.SSO().GetProfileAndToken(r.Context(), &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")})
	var apiErr *workos.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == "invalid_grant" {
		// A reloaded or bookmarked callback: codes are single-use.
		d.render(w, http.StatusBadRequest, demoData{Error: "invalid_grant", Title: "This sign-in link was already used",
			Description: "Each sign-in code works once and for 10 minutes, so reloading this page cannot sign you in again. Sign in again to get a new one."})
		return
	}
	if err != nil {
		d.render(w, http.StatusBadGateway, demoData{Error: "token_exchange_failed", Description: "The app could not exchange the code with Gatehouse: " + err.Error()})
		return
	}
	p := tok.Profile
	js, _ := json.MarshalIndent(p, "", "  ")
	name := p.Email
	if p.FirstName != nil {
		name = strings.TrimSpace(*p.FirstName + " " + deref(p.LastName))
	}
	org := ""
	if p.OrganizationID != nil {
		org = *p.OrganizationID
	}
	d.render(w, http.StatusOK, demoData{Profile: p, Name: name, OrgID: org, JSON: string(js)})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
