package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([A-Za-z_]+)" value="([^"]*)"`)

// formValues returns the hidden inputs of the first form in page, and its action.
func formValues(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	m := regexp.MustCompile(`<form[^>]*method="post" action="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in page:\n%s", page)
	}
	v := url.Values{}
	for _, h := range hiddenInput.FindAllStringSubmatch(page, -1) {
		if v.Get(h[1]) == "" {
			v.Set(h[1], html.UnescapeString(h[2]))
		}
	}
	return html.UnescapeString(m[1]), v
}

// TestDev starts `gatehouse dev`, signs in through the demo app and the
// built-in IdP like a browser would, then restarts it on the same data
// directory and signs in again.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"dev", "--addr", addr, "--data-dir", dir, "--log-level", "error"}, &out, io.Discard)
		}()
		base := "http://" + addr
		for i := 0; ; i++ {
			if res, err := http.Get(base + "/healthz"); err == nil {
				res.Body.Close()
				break
			}
			if i > 100 {
				cancel()
				t.Fatalf("dev did not start: %v", <-done)
			}
			time.Sleep(50 * time.Millisecond)
		}
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		read := func(res *http.Response, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d\n%s", res.Request.URL, res.StatusCode, b)
			}
			return string(b)
		}
		// The demo's button leads to the IdP's login form.
		page := read(c.Get(base + "/demo/login"))
		action, v := formValues(t, page)
		v.Set("email", "alice@example.com")
		v.Set("password", "alice")
		// Signing in gives the auto-posting SAML form.
		page = read(c.PostForm(base+action, v))
		action, v = formValues(t, page)
		// Posting it to the ACS comes back to the demo with the profile.
		res, err := c.PostForm(action, v)
		page = read(res, err)
		if !strings.Contains(page, "Signed in with SSO") || !strings.Contains(page, "alice@example.com") {
			t.Fatalf("round %d: demo page:\n%s", round, page)
		}
		// Reloading the callback finds the code spent: a page that says so
		// and offers a new sign-in, not a 502.
		res, err = c.Get(res.Request.URL.String())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "already used") || !strings.Contains(string(b), `href="/demo/login"`) {
			t.Fatalf("round %d: reloaded callback: %d\n%s", round, res.StatusCode, b)
		}
		// The same through the OIDC demo organization and test provider.
		page = read(c.Get(base + "/demo/login?via=oidc"))
		action, v = formValues(t, page)
		v.Set("email", "bob@example.com")
		v.Set("password", "bob")
		page = read(c.PostForm(base+action, v))
		if !strings.Contains(page, "Signed in with SSO") || !strings.Contains(page, "bob@example.com") || !strings.Contains(page, "GenericOIDC") {
			t.Fatalf("round %d: OIDC demo page:\n%s", round, page)
		}
		if !strings.Contains(out.String(), "/demo/") || !strings.Contains(out.String(), "API key:   sk_") {
			t.Fatalf("banner:\n%s", out.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("dev: %v", err)
		}
	}
}
