package sso

import (
	"net/http"
	"testing"
)

// TestLoginCookieAttributes: under https the login cookie is
// SameSite=None; Secure (the SAML ACS is a cross-site POST); over plain
// http it is SameSite=Lax; its path follows the base URL's.
func TestLoginCookieAttributes(t *testing.T) {
	cases := []struct {
		name, baseURL, path string
		secure              bool
		sameSite            http.SameSite
	}{
		{"https", "https://sso.example.com", "/sso/", true, http.SameSiteNoneMode},
		{"https under a path", "https://example.com/gatehouse/", "/gatehouse/sso/", true, http.SameSiteNoneMode},
		{"plain http", "http://127.0.0.1:8080", "/sso/", false, http.SameSiteLaxMode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck := (&Service{BaseURL: c.baseURL}).loginCookie("_r1", "secret", 600)
			if ck.Path != c.path || ck.Secure != c.secure || ck.SameSite != c.sameSite || !ck.HttpOnly || ck.MaxAge != 600 || ck.Name != LoginCookieName("_r1") {
				t.Fatalf("cookie %+v", ck)
			}
			if err := ck.Valid(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
