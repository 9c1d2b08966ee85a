package scim

import (
	"encoding/hex"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/api"
)

// limitKey buckets SCIM requests per directory token: an IdP's sync gets
// its own allowance whatever its addresses. A request without a token
// counts against its directory and client address.
func limitKey(r *http.Request) string {
	dir := r.PathValue("dir")
	if tok, ok := api.BearerToken(r); ok {
		// A hash, so the limiter's memory holds no secrets.
		return dir + "/token/" + hex.EncodeToString(secrets.Hash(tok)[:12])
	}
	return dir + "/ip/" + api.ByClientIP(r)
}

// rateLimited is SCIM's 429 (RFC 7644 §3.12 has no scimType for it).
func rateLimited(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusTooManyRequests, errorBody{Schemas: []string{SchemaError}, Status: strconv.Itoa(http.StatusTooManyRequests),
		Detail: "Too many requests for this directory: retry after the number of seconds in the Retry-After header."})
}
