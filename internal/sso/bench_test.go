package sso_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workos/workos-go/v7"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/cputime"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// noSSOLimit turns the per-client SSO rate limit off: every request of a
// benchmark comes from one address.
func noSSOLimit(c *config.Config) { c.RateLimits.SSO = 0 }

// BenchmarkACS measures the ACS endpoint end to end over HTTP: form
// parsing, connection and certificates from the store, a ServiceProvider
// per request, signature verification, the replay cache insert, the code
// insert and the sso_succeeded event. Responses are signed before the
// timer starts (each has a fresh assertion ID, as the replay cache needs).
func BenchmarkACS(b *testing.B) {
	for _, backend := range backends(b) {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, backend, noSSOLimit)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			responses := make([]string, b.N)
			for i := range responses {
				responses[i] = must[string](b)(idp.Response(testidp.ResponseOptions{ServiceProvider: conn.SAML.SPEntityID, User: alice}))
			}
			b.ResetTimer()
			cpu0 := cputime.Process()
			for i := 0; i < b.N; i++ {
				res := e.post(conn.SAML.ACSURL, url.Values{"SAMLResponse": {responses[i]}})
				if !strings.Contains(res.Header.Get("Location"), "code=") {
					b.Fatalf("refused: %d %s", res.StatusCode, res.Header.Get("Location"))
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op") // the whole process: server and client
		})
	}
}

// BenchmarkLogin measures a whole SP-initiated login: GET /sso/authorize,
// the IdP answering the AuthnRequest (in process, including its signing),
// POST to the ACS and POST /sso/token through the WorkOS Go SDK v7.
func BenchmarkLogin(b *testing.B) {
	for _, backend := range backends(b) {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, backend, noSSOLimit)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			wc := workos.NewClient("sk_test_gatehouse_0123456789", workos.WithBaseURL(e.srv.URL),
				workos.WithClientID(e.srv.ClientID), workos.WithMaxRetries(0))
			authURL := wc.SSO().GetAuthorizationURL(&workos.SSOGetAuthorizationURLParams{Connection: &conn.ID, RedirectURI: redirectURI})
			ctx := context.Background()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for b.Loop() {
				res := e.get(authURL)
				if res.StatusCode != http.StatusFound {
					b.Fatalf("authorize %d", res.StatusCode)
				}
				form := must[*testidp.PostForm](b)(idp.SPInitiatedLogin(res.Header.Get("Location"), alice.Email))
				q := callback(b, e.post(form.URL, form.Values()))
				if _, err := wc.SSO().GetProfileAndToken(ctx, &workos.SSOGetProfileAndTokenParams{Code: q.Get("code")}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op") // the whole process: server and client
		})
	}
}

// BenchmarkAuthorize measures GET /sso/authorize for a SAML connection
// (redirect binding, unsigned AuthnRequest): the client and redirect_uri
// checks, the connection, the AuthnRequest and the one write transaction
// that stores the login in flight with its sso_started event. The client
// keeps no cookies, so the request does not grow with the logins started.
func BenchmarkAuthorize(b *testing.B) {
	for _, backend := range backends(b) {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, backend, noSSOLimit)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			e.client.Jar = nil
			authURL := e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
				"redirect_uri": {redirectURI}, "connection": {conn.ID}, "state": {"bench"}}.Encode()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for b.Loop() {
				if res := e.get(authURL); res.StatusCode != http.StatusFound {
					b.Fatalf("authorize %d", res.StatusCode)
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op") // the whole process: server and client
		})
	}
}
