package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestLoginAnsweredOnce: an SP-initiated login is read at the ACS and
// taken in the transaction that ends it (with the code, or with the
// failure), so it is answered once — even by two different valid
// responses (different assertion IDs, so the replay cache alone would let
// both through), posted one after the other or at the same time.
func TestLoginAnsweredOnce(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			idp := e.samlIdP(testidp.SAMLOptions{})
			conn := e.samlConnection(idp, nil)
			// Every answer carries the login's cookie (a browser whose cookie
			// the ACS cleared could send it again), so only the login being
			// used up can refuse the second one.
			cookie := ""
			startLogin := func() string {
				t.Helper()
				res := e.get(e.srv.URL + "/sso/authorize?" + url.Values{"client_id": {e.srv.ClientID}, "response_type": {"code"},
					"redirect_uri": {redirectURI}, "connection": {conn.ID}, "state": {"x"}}.Encode())
				cs := res.Cookies()
				if len(cs) != 1 {
					t.Fatalf("%d cookies set", len(cs))
				}
				cookie = cs[0].Name + "=" + cs[0].Value
				return must[*url.URL](t)(url.Parse(res.Header.Get("Location"))).Query().Get("RelayState")
			}
			post := func(form url.Values) *http.Response {
				req := must[*http.Request](t)(http.NewRequest("POST", conn.SAML.ACSURL, strings.NewReader(form.Encode())))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Cookie", cookie)
				res, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return &http.Response{}
				}
				res.Body.Close()
				if res.StatusCode >= 500 {
					t.Errorf("status %d", res.StatusCode)
				}
				return res
			}
			answer := func(relay string, o testidp.ResponseOptions) url.Values {
				o.ServiceProvider, o.User, o.InResponseTo = conn.SAML.SPEntityID, alice, relay
				return url.Values{"SAMLResponse": {must[string](t)(idp.Response(o))}, "RelayState": {relay}}
			}
			gotCode := func(res *http.Response) bool {
				loc, _ := url.Parse(res.Header.Get("Location"))
				return res.StatusCode == http.StatusFound && loc != nil && loc.Query().Get("code") != ""
			}

			t.Run("one after the other", func(t *testing.T) {
				relay := startLogin()
				first, second := answer(relay, testidp.ResponseOptions{}), answer(relay, testidp.ResponseOptions{})
				if res := post(first); !gotCode(res) {
					t.Fatalf("first answer refused: %s", res.Header.Get("Location"))
				}
				if res := post(second); gotCode(res) {
					t.Fatal("a second answer to the same login got a code")
				}
			})

			t.Run("at the same time", func(t *testing.T) {
				relay := startLogin()
				const n = 6
				forms := make([]url.Values, n)
				for i := range forms {
					forms[i] = answer(relay, testidp.ResponseOptions{})
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				codes := 0
				for _, f := range forms {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if gotCode(post(f)) {
							mu.Lock()
							codes++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if codes != 1 {
					t.Fatalf("%d codes for one login, want 1", codes)
				}
			})

			t.Run("a refused answer uses the login up", func(t *testing.T) {
				relay := startLogin()
				stranger := must[*testidp.KeyPair](t)(testidp.NewKeyPair("stranger"))
				e.expectRejected(t, post(answer(relay, testidp.ResponseOptions{SigningKey: stranger})), "certificate_unknown")
				if res := post(answer(relay, testidp.ResponseOptions{})); gotCode(res) {
					t.Fatal("a login was answered after a refused answer")
				}
			})
		})
	}
}
