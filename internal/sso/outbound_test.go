package sso_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetadataErrorBodyNotEchoed: a metadata URL that answers with an
// error, or with something that is not metadata, leaves the connection a
// draft whose metadata_error says what went wrong without the answer body.
func TestMetadataErrorBodyNotEchoed(t *testing.T) {
	const secret = "sk_live_LEAKED_51HxYz"
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"error status", http.StatusInternalServerError, `{"internal":"` + secret + `"}`, "500"},
		{"not metadata", http.StatusOK, `<html><body>` + secret + `</body></html>`, "EntityDescriptor"},
		{"not XML", http.StatusOK, secret, "EntityDescriptor"},
	}
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.WriteHeader(c.status)
						w.Write([]byte(c.body))
					}))
					defer hs.Close()
					var conn struct {
						State string
						SAML  struct {
							MetadataError string `json:"metadata_error"`
						}
					}
					e.api("POST", "/connections", map[string]any{"organization_id": e.orgID, "connection_type": "GenericSAML",
						"saml": map[string]any{"idp_metadata_url": hs.URL + "/metadata"}}, 201, &conn)
					if conn.State != "draft" || !strings.Contains(conn.SAML.MetadataError, c.want) || strings.Contains(conn.SAML.MetadataError, "LEAKED") {
						t.Fatalf("connection: %+v", conn)
					}
				})
			}
		})
	}
}
