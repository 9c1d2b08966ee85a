package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/sso"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestLoginBoundToBrowser: an SP-initiated SAML or OIDC login completes
// only in the browser that started it (login CSRF). Another cookie jar —
// with no login cookie, or with a forged one of the right name — is
// refused with browser_mismatch and gets no code; two logins started at
// once in one browser both complete; IdP-initiated SAML needs no cookie.
func TestLoginBoundToBrowser(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { testLoginBoundToBrowser(t, backend) })
	}
}

func testLoginBoundToBrowser(t *testing.T, backend string) {
	e := newEnv(t, backend)
	idp := e.samlIdP(testidp.SAMLOptions{})
	conn := e.samlConnection(idp, nil)
	var oidcOrg struct{ ID string }
	e.api("POST", "/organizations", map[string]any{"name": "OIDC Co"}, 201, &oidcOrg)
	op := e.oidcProvider(testidp.OIDCOptions{})
	oconn := e.oidcConnection(op, oidcOrg.ID)
	authURL := func(connID, state string) string {
		return e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
			"redirect_uri": {redirectURI}, "connection": {connID}, "state": {state}}.Encode()
	}
	// start begins a login in browser c; it returns the IdP URL and the
	// login cookie /sso/authorize set.
	start := func(t *testing.T, c *http.Client, connID, state string) (string, *http.Cookie) {
		t.Helper()
		res, err := c.Get(authURL(connID, state))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("authorize: %d", res.StatusCode)
		}
		var login *http.Cookie
		for _, ck := range res.Cookies() {
			if strings.HasPrefix(ck.Name, "gatehouse_login_") {
				login = ck
			}
		}
		if login == nil || !login.HttpOnly || login.Path != "/sso/" || login.MaxAge != 600 || login.SameSite != http.SameSiteLaxMode || login.Secure {
			t.Fatalf("login cookie %+v; want HttpOnly, Path=/sso/, Max-Age=600, SameSite=Lax (plain http)", login)
		}
		return res.Header.Get("Location"), login
	}
	// samlAnswer is the IdP's form for an SP-initiated login.
	samlAnswer := func(t *testing.T, loc string) *testidp.PostForm {
		return must[*testidp.PostForm](t)(idp.SPInitiatedLogin(loc, alice.Email))
	}
	// oidcAnswer is the provider's redirect back to our callback.
	oidcAnswer := func(t *testing.T, loc string) string {
		t.Helper()
		res := e.get(loc) // the provider approves at once
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("provider: %d", res.StatusCode)
		}
		return res.Header.Get("Location")
	}
	post := func(c *http.Client, f *testidp.PostForm) *http.Response {
		res, err := c.PostForm(f.URL, f.Values())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	get := func(c *http.Client, u string) *http.Response {
		res, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	// forged is a browser holding a cookie with the login's name and
	// another value.
	forged := func(t *testing.T, login *http.Cookie) *http.Client {
		c := browserClient(t)
		u := must[*url.URL](t)(url.Parse(e.srv.URL + "/sso/"))
		c.Jar.SetCookies(u, []*http.Cookie{{Name: login.Name, Value: "not-the-secret", Path: "/sso/"}})
		return c
	}
	wantCode := func(t *testing.T, res *http.Response, state string) {
		t.Helper()
		if q := callback(t, res); q.Get("code") == "" || q.Get("state") != state {
			t.Fatalf("callback %v", q)
		}
	}

	t.Run("saml/same browser", func(t *testing.T) {
		b := browserClient(t)
		loc, login := start(t, b, conn.ID, "s1")
		res := post(b, samlAnswer(t, loc))
		wantCode(t, res, "s1")
		// The spent cookie is cleared.
		if cs := res.Cookies(); len(cs) != 1 || cs[0].Name != login.Name || cs[0].MaxAge >= 0 {
			t.Fatalf("cookies at the ACS %+v, want %s cleared", cs, login.Name)
		}
	})
	t.Run("saml/other browser", func(t *testing.T) {
		loc, _ := start(t, browserClient(t), conn.ID, "s2")
		e.expectRejected(t, post(browserClient(t), samlAnswer(t, loc)), "browser_mismatch")
	})
	t.Run("saml/forged cookie", func(t *testing.T) {
		loc, login := start(t, browserClient(t), conn.ID, "s3")
		e.expectRejected(t, post(forged(t, login), samlAnswer(t, loc)), "browser_mismatch")
	})
	// An IdP that drops RelayState: the login is found by InResponseTo.
	t.Run("saml/no RelayState, same browser", func(t *testing.T) {
		b := browserClient(t)
		loc, _ := start(t, b, conn.ID, "s4")
		f := samlAnswer(t, loc)
		f.RelayState = ""
		wantCode(t, post(b, f), "s4")
	})
	t.Run("saml/no RelayState, other browser", func(t *testing.T) {
		loc, _ := start(t, browserClient(t), conn.ID, "s5")
		f := samlAnswer(t, loc)
		f.RelayState = ""
		e.expectRejected(t, post(browserClient(t), f), "browser_mismatch")
	})
	t.Run("saml/two tabs", func(t *testing.T) {
		b := browserClient(t)
		loc1, _ := start(t, b, conn.ID, "tab1")
		loc2, _ := start(t, b, conn.ID, "tab2")
		f1, f2 := samlAnswer(t, loc1), samlAnswer(t, loc2)
		wantCode(t, post(b, f2), "tab2")
		wantCode(t, post(b, f1), "tab1")
	})
	t.Run("saml/idp-initiated needs no cookie", func(t *testing.T) {
		f := must[*testidp.PostForm](t)(idp.IdPInitiatedLogin(conn.SAML.SPEntityID, alice.Email, ""))
		if q := callback(t, post(browserClient(t), f)); q.Get("code") == "" {
			t.Fatalf("callback %v", q)
		}
	})
	t.Run("oidc/same browser", func(t *testing.T) {
		b := browserClient(t)
		loc, _ := start(t, b, oconn.ID, "o1")
		wantCode(t, get(b, oidcAnswer(t, loc)), "o1")
	})
	t.Run("oidc/other browser", func(t *testing.T) {
		loc, _ := start(t, browserClient(t), oconn.ID, "o2")
		e.expectRejected(t, get(browserClient(t), oidcAnswer(t, loc)), "browser_mismatch")
	})
	t.Run("oidc/forged cookie", func(t *testing.T) {
		loc, login := start(t, browserClient(t), oconn.ID, "o3")
		e.expectRejected(t, get(forged(t, login), oidcAnswer(t, loc)), "browser_mismatch")
	})
	t.Run("oidc/two tabs", func(t *testing.T) {
		b := browserClient(t)
		loc1, _ := start(t, b, oconn.ID, "ot1")
		loc2, _ := start(t, b, oconn.ID, "ot2")
		cb1, cb2 := oidcAnswer(t, loc1), oidcAnswer(t, loc2)
		wantCode(t, get(b, cb2), "ot2")
		wantCode(t, get(b, cb1), "ot1")
	})
}

// TestLoginCookieName: one name per login, valid as a cookie name.
func TestLoginCookieName(t *testing.T) {
	a, b := sso.LoginCookieName("_abc"), sso.LoginCookieName("_abd")
	if a == b || !strings.HasPrefix(a, "gatehouse_login_") {
		t.Fatalf("names %q %q", a, b)
	}
	if (&http.Cookie{Name: a, Value: "v"}).Valid() != nil {
		t.Fatalf("invalid cookie name %q", a)
	}
}
