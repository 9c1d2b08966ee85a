package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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

	"github.com/workos/workos-go/v7"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func init() { extraCommands["dev"] = dev }

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
	fmt.Fprintf(stdout, "  Test IdPs:    %s/testidp/saml/ (SAML), %s/testidp/oidc (OIDC)\n", cfg.BaseURL, cfg.BaseURL)
	fmt.Fprintf(stdout, "                users: alice@example.com / alice, bob@example.com / bob\n")
	fmt.Fprintf(stdout, "  Demo Corp:    %s   SAML connection: %s\n", org.ID, conn.ID)
	fmt.Fprintf(stdout, "  Demo OIDC:    %s   OIDC connection: %s\n", oidcOrg.ID, oidcConn.ID)
	fmt.Fprintf(stdout, "  SDK:          workos.NewClient(%q, workos.WithBaseURL(%q), workos.WithClientID(%q))\n\n", cfg.APIKey, cfg.BaseURL, a.ClientID)
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

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo app · Gatehouse</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1f2937}
a.button{display:inline-block;background:#4f46e5;color:#fff;padding:.7rem 1.2rem;border-radius:6px;text-decoration:none;font-weight:600}
pre{background:#f3f4f6;padding:1rem;border-radius:6px;overflow:auto;font-size:.85rem}
.err{background:#fef2f2;border:1px solid #fecaca;padding:1rem;border-radius:6px}
dt{font-weight:600}dd{margin:0 0 .5rem 0}
</style></head><body>
<h1>Demo host app</h1>
{{if .Error}}<div class="err"><p><strong>Sign-in failed:</strong> {{.Error}}</p><p>{{.Description}}</p></div>
<p><a class="button" href="/demo/login">Try again</a></p>
{{else if .Profile}}<p>Signed in with SSO. This is the profile Gatehouse returned:</p>
<dl><dt>Name</dt><dd>{{.Name}}</dd><dt>Email</dt><dd>{{.Profile.Email}}</dd>
<dt>Organization</dt><dd>{{.OrgID}}</dd><dt>Connection</dt><dd>{{.Profile.ConnectionID}} ({{.Profile.ConnectionType}})</dd>
<dt>Groups</dt><dd>{{range .Profile.Groups}}{{.}} {{end}}</dd></dl>
<pre>{{.JSON}}</pre><p><a class="button" href="/demo/login">Sign in again</a> <a href="/demo/">Home</a></p>
{{else}}<p>This page plays your application. It sends you to Gatehouse's <code>/sso/authorize</code> for the demo
organization, Gatehouse sends you to the built-in test IdP, and you come back here with a code that the app exchanges
for your profile with the WorkOS Go SDK.</p>
<p><a class="button" href="/demo/login">Sign in with SSO</a> &nbsp; <a class="button" href="/demo/login?via=oidc">Sign in with SSO (OIDC)</a></p>
<p>Test users: <code>alice@example.com</code> / <code>alice</code>, <code>bob@example.com</code> / <code>bob</code>.</p>
<p>Or <a href="{{.IdPStart}}">start at the IdP</a> (IdP-initiated login).</p>
<p>Admin: <a href="/demo/settings">Account settings → Admin → Edit account</a> opens the Admin Portal in a pop-up.</p>{{end}}
</body></html>
`))

type demoData struct {
	Error, Description, Name, OrgID, JSON, IdPStart string
	Profile                                         *workos.Profile
}

func (d *demoApp) render(w http.ResponseWriter, status int, data demoData) {
	data.IdPStart = d.idpStart
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := demoPage.Execute(w, data); err != nil {
		d.log.Error("demo page", "err", err)
	}
}

func (d *demoApp) home(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, demoData{})
}

func (d *demoApp) login(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
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
	if err != nil {
		d.render(w, http.StatusBadGateway, demoData{Error: "token_exchange_failed", Description: err.Error()})
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
