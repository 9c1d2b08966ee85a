package api

import (
	"net/http"
	"sort"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Router registers routes on a ServeMux: management routes behind API-key
// auth and idempotency, public routes (SSO browser flow, SCIM with its own
// tokens) as they are. It remembers every pattern so tests can
// walk the whole surface.
type Router struct {
	Mux   *http.ServeMux
	Store store.Store
	Table *RouteTable // optional
}

// RouteTable lists registered routes.
type RouteTable struct {
	mu     sync.Mutex
	routes []Route
}

// Route is one registered pattern and whether it needs an API key.
type Route struct {
	Pattern string
	APIKey  bool
}

func (t *RouteTable) add(r Route) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.routes = append(t.routes, r)
	t.mu.Unlock()
}

// Routes returns the registered routes sorted by pattern.
func (t *RouteTable) Routes() []Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]Route(nil), t.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

// API registers an authenticated management-API route, e.g.
// r.API("GET /organizations", h.list).
func (rt Router) API(pattern string, h HandlerFunc) {
	rt.Table.add(Route{Pattern: pattern, APIKey: true})
	rt.Mux.Handle(pattern, Authenticate(rt.Store, Idempotent(rt.Store, h)))
}

// Public registers a route with no API-key auth.
func (rt Router) Public(pattern string, h http.Handler) {
	rt.Table.add(Route{Pattern: pattern})
	rt.Mux.Handle(pattern, h)
}
