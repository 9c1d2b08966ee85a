package api

import (
	"net/http"
	"net/netip"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// Limits are a node's rate limiters; a nil one allows everything.
type Limits struct {
	APIKey *ratelimit.Limiter // the management API, per API key
	SSO    *ratelimit.Limiter // the public SSO endpoints, per client IP
	SCIM   *ratelimit.Limiter // SCIM, per directory token
}

// Limited calls h unless l refuses the request's key(r); then it sets
// Retry-After and lets reject answer 429 in the endpoint's own format.
func Limited(l *ratelimit.Limiter, key func(*http.Request) string, reject http.HandlerFunc, h http.Handler) http.Handler {
	if l == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.Allow(key(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
			reject(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ByClientIP keys a request by its client address (see ClientIP). An IPv6
// client is keyed by its /64, since one host usually has all of it.
func ByClientIP(r *http.Request) string {
	ip := ClientIP(r)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return ip
}

// ErrRateLimited is the 429 of the management API and the SSO pages.
var ErrRateLimited = &errs.Error{Kind: errs.KindRateLimited, Code: "rate_limit_exceeded",
	Message: "Too many requests: retry after the number of seconds in the Retry-After header."}

// WriteRateLimited answers 429 in the WorkOS error envelope.
func WriteRateLimited(w http.ResponseWriter, r *http.Request) { WriteError(w, r, ErrRateLimited) }
