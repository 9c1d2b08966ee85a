package scim_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingReader is an endless request body that records how much of it
// was read.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}

// TestAuthenticateBeforeReading: a request without a valid bearer token is
// refused before any of its body is read, so strangers cannot make the
// server buffer a megabyte per request.
func TestAuthenticateBeforeReading(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b)
			d := e.newDirectory("okta scim v2.0")
			other := e.newDirectory("okta scim v2.0")
			cases := []struct {
				name, token string
				want        int
				wantRead    bool
			}{
				{name: "no token", want: http.StatusUnauthorized},
				{name: "wrong token", token: "not-a-token", want: http.StatusUnauthorized},
				{name: "another directory's token", token: other.Token, want: http.StatusUnauthorized},
				{name: "the directory's token", token: d.Token, want: http.StatusRequestEntityTooLarge, wantRead: true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					body := &countingReader{}
					req := httptest.NewRequest("POST", strings.TrimPrefix(d.Base, e.srv.URL)+"/Users", body)
					req.Header.Set("Content-Type", "application/scim+json")
					if c.token != "" {
						req.Header.Set("Authorization", "Bearer "+c.token)
					}
					rec := httptest.NewRecorder()
					e.srv.Handler().ServeHTTP(rec, req)
					if rec.Code != c.want {
						t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
					}
					if read := body.n > 0; read != c.wantRead {
						t.Fatalf("%d bytes of the body read", body.n)
					}
				})
			}
		})
	}
}
