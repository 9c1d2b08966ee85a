package api

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Router registers routes on a ServeMux: management routes behind API-key
// auth and idempotency, public routes (SSO browser flow, SCIM with its own
// tokens, the portal) as they are.
type Router struct {
	Mux   *http.ServeMux
	Store store.Store
}

// API registers an authenticated management-API route, e.g.
// r.API("GET /organizations", h.list).
func (rt Router) API(pattern string, h HandlerFunc) {
	rt.Mux.Handle(pattern, Authenticate(rt.Store, Idempotent(rt.Store, h)))
}

// Public registers a route with no API-key auth.
func (rt Router) Public(pattern string, h http.Handler) {
	rt.Mux.Handle(pattern, h)
}
