package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
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
	// Auth checks API keys on management routes; nil = a KeyAuth on Store
	// with no rate limit.
	Auth *KeyAuth
	// Limits are the rate limiters public routes wrap themselves in.
	Limits Limits
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
	auth := rt.Auth
	if auth == nil {
		auth = &KeyAuth{Keys: rt.Store}
	}
	rt.Mux.Handle(pattern, auth.Wrap(Idempotent(rt.Store, h)))
}

// Public registers a route with no API-key auth.
func (rt Router) Public(pattern string, h http.Handler) {
	rt.Table.add(Route{Pattern: pattern})
	rt.Mux.Handle(pattern, h)
}

// probeMethods are the methods a 405's Allow header may list.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Fallback registers the answer for requests no route takes: 405 with an
// Allow header when the path is served under other methods, else 404. Both
// use the WorkOS error envelope. (A catch-all "/" keeps ServeMux from
// answering 405 itself, in plain text.)
func (rt Router) Fallback() {
	rt.Mux.Handle("/", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if allow := rt.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return WriteJSON(w, http.StatusMethodNotAllowed, ErrorBody{Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allow, " or "))})
		}
		return &errs.Error{Kind: errs.KindNotFound, Code: "route_not_found", Message: fmt.Sprintf("No route for %s %s.", r.Method, r.URL.Path)}
	}))
}

// allowed lists the methods some route other than the fallback serves r's
// path with.
func (rt Router) allowed(r *http.Request) []string {
	var out []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := rt.Mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}
