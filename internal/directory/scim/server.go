// Package scim is Gatehouse's SCIM 2.0 server (RFC 7643/7644) at
// /scim/v2/{directory_id}/: Users, Groups and the discovery endpoints, with
// filters translated to indexed SQL and PATCH as Okta and Entra ID really
// send it. It is a thin layer over the directory service, which owns the
// records and the dsync.* events.
package scim

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Limits.
const (
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes = 1 << 20
	defaultCount = 100
	maxCount     = 1000
)

// Server serves SCIM for every directory.
type Server struct {
	Svc    *directory.Service
	Log    *RequestLog
	Logger *slog.Logger

	pages cursors // startIndex → seek, for paging through large directories
}

// Routes registers the SCIM endpoints; they authenticate with the
// directory's bearer token, not the API key.
func (s *Server) Routes(r api.Router) {
	r.Public("/scim/v2/{dir}/{rest...}", api.Limited(r.Limits.SCIM, limitKey, rateLimited, http.HandlerFunc(s.ServeHTTP)))
}

// recorder captures the status and the start of the body for the log.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// WriteHeader records the first status.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write keeps the start of the body for the log.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < maxLoggedBody {
		r.body.Write(b[:min(len(b), maxLoggedBody-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}

// request is one authenticated SCIM call.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	dir  store.Directory
	base string
	body []byte
}

// ServeHTTP authenticates, dispatches, maps errors to SCIM errors, marks
// the directory linked on its first success and logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	dirID := r.PathValue("dir")
	rec := &recorder{ResponseWriter: w}
	var body []byte
	var failure *Error
	known := false
	func() {
		defer func() {
			// A bug must still answer in SCIM's error format, and be logged
			// with its stack; http.ErrAbortHandler keeps its meaning.
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Logger.ErrorContext(r.Context(), "scim: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					failure = writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
		}()
		// Authenticate before reading the body: a stranger must not make
		// the server buffer up to MaxBodyBytes per request.
		tok, ok := api.BearerToken(r)
		if !ok {
			failure = writeError(rec, r, &Error{Status: http.StatusUnauthorized, Detail: "Send the directory's bearer token as 'Authorization: Bearer …'."})
			return
		}
		dir, err := s.Svc.Authenticate(r.Context(), dirID, tok)
		if err != nil {
			failure = writeError(rec, r, err)
			return
		}
		known = true
		var readErr error
		if body, readErr = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1)); readErr != nil {
			failure = writeError(rec, r, badRequest(TypeInvalidSyntax, "Could not read the request body."))
			return
		}
		if len(body) > MaxBodyBytes {
			failure = writeError(rec, r, &Error{Status: http.StatusRequestEntityTooLarge, SCIMType: TypeTooMany,
				Detail: fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes)})
			return
		}
		if api.HasNUL(body) {
			failure = writeError(rec, r, badRequest(TypeInvalidValue, "Text may not contain the NUL character (U+0000)."))
			return
		}
		req := &request{w: rec, r: r, dir: dir, base: s.Svc.SCIMBaseURL(dir.ID), body: body}
		if err := s.dispatch(req); err != nil {
			failure = writeError(rec, r, err)
			return
		}
		if rec.status < 300 && dir.State != store.DirectoryLinked {
			if err := s.Svc.Activate(r.Context(), dir.ID); err != nil {
				s.Logger.ErrorContext(r.Context(), "activate directory", "directory_id", dir.ID, "err", err)
			}
		}
	}()
	if s.Log == nil {
		return
	}
	if !known {
		// Log failed authentication only for directories that exist, so the
		// admin sees "wrong token" without strangers filling the log.
		if _, err := s.Svc.Store.GetDirectory(r.Context(), dirID); err != nil {
			return
		}
	}
	e := store.SCIMRequest{
		ID: id.New("scim_request"), DirectoryID: dirID, Method: r.Method, Path: r.URL.RequestURI(), Status: rec.status,
		LatencyMicro: time.Since(start).Microseconds(), RequestBody: redact(body), CreatedAt: start,
	}
	// A successful answer is the stored resource, readable through the
	// API; keeping only failed answers halves the log's write volume
	// during a provisioning burst.
	if rec.status >= 300 {
		e.ResponseBody = truncate(rec.body.String())
	}
	if len(body) > MaxBodyBytes {
		e.RequestBody = "[too large]"
	}
	if failure != nil {
		e.Error = failure.Detail
		if failure.SCIMType != "" {
			e.Error = failure.SCIMType + ": " + failure.Detail
		}
	}
	s.Log.Add(e)
}

func methodNotAllowed(r *http.Request, allowed string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, SCIMType: TypeInvalidSyntax,
		Detail: fmt.Sprintf("%s is not allowed here; use %s.", r.Method, allowed)}
}

func (s *Server) dispatch(req *request) error {
	parts := strings.Split(strings.Trim(req.r.PathValue("rest"), "/"), "/")
	m := req.r.Method
	switch parts[0] {
	case "ServiceProviderConfig", "ResourceTypes", "Schemas":
		if m != http.MethodGet {
			return methodNotAllowed(req.r, "GET")
		}
		return s.discovery(req.w, req.base, parts)
	case "Users", "Groups":
	default:
		return notFound(fmt.Sprintf("No SCIM endpoint %q; use Users, Groups, ServiceProviderConfig, ResourceTypes or Schemas.", parts[0]))
	}
	group := parts[0] == "Groups"
	if len(parts) > 2 {
		return notFound("No such resource.")
	}
	if len(parts) == 1 {
		switch m {
		case http.MethodGet:
			q := req.r.URL.Query()
			return s.list(req, group, q.Get("filter"), q.Get("startIndex"), q.Get("count"), q.Get("attributes"), q.Get("excludedAttributes"))
		case http.MethodPost:
			if group {
				return s.createGroup(req)
			}
			return s.createUser(req)
		}
		return methodNotAllowed(req.r, "GET or POST")
	}
	rid := parts[1]
	if rid == ".search" {
		if m != http.MethodPost {
			return methodNotAllowed(req.r, "POST")
		}
		return s.search(req, group)
	}
	switch m {
	case http.MethodGet:
		if group {
			return s.getGroup(req, rid)
		}
		return s.getUser(req, rid)
	case http.MethodPut:
		if group {
			return s.replaceGroup(req, rid)
		}
		return s.replaceUser(req, rid)
	case http.MethodPatch:
		if group {
			return s.patchGroup(req, rid)
		}
		return s.patchUser(req, rid)
	case http.MethodDelete:
		var err error
		if group {
			err = s.Svc.DeleteGroup(req.r.Context(), req.dir.ID, rid)
		} else {
			err = s.Svc.DeleteUser(req.r.Context(), req.dir.ID, rid)
		}
		if err != nil {
			return err
		}
		writeJSON(req.w, http.StatusNoContent, nil)
		return nil
	}
	return methodNotAllowed(req.r, "GET, PUT, PATCH or DELETE")
}

// decodeResource reads a JSON object body.
func decodeResource(body []byte) (object, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(TypeInvalidSyntax, "The request needs a JSON body.")
	}
	var m object
	if err := decodeStrict(body, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, badRequest(TypeInvalidSyntax, "The body must be a JSON object.")
	}
	return m, nil
}

func parseIndex(name, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, badRequest(TypeInvalidValue, "%s must be an integer, got %q.", name, s)
	}
	return n, nil
}

// list serves GET /Users and /Groups (and .search): a filtered page in ID
// order, so paging by startIndex is stable.
func (s *Server) list(req *request, group bool, filterStr, startStr, countStr, attrs, excluded string) error {
	start, err := parseIndex("startIndex", startStr, 1)
	if err != nil {
		return err
	}
	count, err := parseIndex("count", countStr, defaultCount)
	if err != nil {
		return err
	}
	start, count = max(start, 1), min(max(count, 0), maxCount)
	var cond *store.Cond
	if strings.TrimSpace(filterStr) != "" {
		if cond, err = ParseFilter(filterStr, group); err != nil {
			return err
		}
	}
	ctx := req.r.Context()
	// A walk's next page seeks after the previous page's last row (see
	// cursors); a cursor is looked up only for pages that are not the first.
	now := time.Now()
	changes := s.Svc.Changes(req.dir.ID)
	var seek cursor
	seeking := false
	if start > 1 && count > 0 {
		seek, seeking = s.pages.take(cursorKey(req.dir.ID, group, filterStr, start-1), changes, now)
	}
	offset, after, knownTotal := start-1, "", false
	if seeking {
		offset, after, knownTotal = 0, seek.lastID, now.Sub(seek.counted) <= totalTTL
	}
	// remember stores the cursor for the page after this one.
	remember := func(n int, lastID string, total int) {
		if n == 0 {
			return
		}
		next := cursor{lastID: lastID, total: total, counted: now, made: now, changes: changes}
		if knownTotal {
			next.counted = seek.counted
		}
		s.pages.put(cursorKey(req.dir.ID, group, filterStr, start-1+n), next)
	}
	var resources []any
	var total int
	if group {
		gs, n, err := s.Svc.Store.QueryDirectoryGroups(ctx, store.GroupQuery{DirectoryID: req.dir.ID, Filter: cond, Offset: offset, Count: count,
			After: after, NoTotal: knownTotal})
		if err != nil {
			return fmt.Errorf("query groups: %w", err)
		}
		total = n
		if knownTotal {
			total = seek.total
		}
		if len(gs) > 0 {
			remember(len(gs), gs[len(gs)-1].ID, total)
		}
		withMembers := wanted(groupSchema, attrs, excluded, "members")
		byGroup := map[string][]store.Member{}
		if withMembers && len(gs) > 0 {
			ids := make([]string, len(gs))
			for i, g := range gs {
				ids[i] = g.ID
			}
			ms, err := s.Svc.Store.GroupMembers(ctx, ids)
			if err != nil {
				return fmt.Errorf("group members: %w", err)
			}
			for _, m := range ms {
				byGroup[m.GroupID] = append(byGroup[m.GroupID], m)
			}
		}
		for _, g := range gs {
			resources = append(resources, project(groupSchema, renderGroup(req.base, g, byGroup[g.ID], withMembers), attrs, excluded))
		}
	} else {
		us, n, err := s.Svc.Store.QueryDirectoryUsers(ctx, store.UserQuery{DirectoryID: req.dir.ID, Filter: cond, Offset: offset, Count: count,
			After: after, NoTotal: knownTotal})
		if err != nil {
			return fmt.Errorf("query users: %w", err)
		}
		total = n
		if knownTotal {
			total = seek.total
		}
		if len(us) > 0 {
			remember(len(us), us[len(us)-1].ID, total)
		}
		groups := map[string][]store.DirectoryGroup{}
		if wanted(userSchema, attrs, excluded, "groups") && len(us) > 0 {
			ids := make([]string, len(us))
			for i, u := range us {
				ids[i] = u.ID
			}
			if groups, err = s.Svc.Store.UserGroups(ctx, ids); err != nil {
				return fmt.Errorf("user groups: %w", err)
			}
		}
		for _, u := range us {
			resources = append(resources, project(userSchema, renderUser(req.base, u, groups[u.ID]), attrs, excluded))
		}
	}
	if resources == nil {
		resources = []any{}
	}
	writeJSON(req.w, http.StatusOK, object{
		"schemas": []any{SchemaListResp}, "totalResults": total, "itemsPerPage": len(resources), "startIndex": start, "Resources": resources,
	})
	return nil
}

// search serves POST /.search (RFC 7644 §3.4.3).
func (s *Server) search(req *request, group bool) error {
	m, err := decodeResource(req.body)
	if err != nil {
		return err
	}
	str := func(k string) (string, error) {
		key, ok := lookup(m, k)
		if !ok || m[key] == nil {
			return "", nil
		}
		switch v := m[key].(type) {
		case string:
			return v, nil
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return "", badRequest(TypeInvalidValue, "%s must hold strings.", k)
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ","), nil
		}
		return "", badRequest(TypeInvalidValue, "%s has the wrong type.", k)
	}
	var vals [5]string
	for i, k := range []string{"filter", "startIndex", "count", "attributes", "excludedAttributes"} {
		if vals[i], err = str(k); err != nil {
			return err
		}
	}
	return s.list(req, group, vals[0], vals[1], vals[2], vals[3], vals[4])
}

// checkVersion honours If-Match (RFC 7644 §3.14): a write against another
// version than the current one is refused with 412.
func checkVersion(r *http.Request, updated time.Time) error {
	want := strings.TrimSpace(r.Header.Get("If-Match"))
	if want == "" || want == "*" {
		return nil
	}
	cur := version(updated)
	for _, v := range strings.Split(want, ",") {
		v = strings.TrimSpace(v)
		if v == cur || "W/"+v == cur {
			return nil
		}
	}
	return &Error{Status: http.StatusPreconditionFailed, SCIMType: TypeInvalidVers,
		Detail: fmt.Sprintf("The resource is at version %s, not %s.", cur, want)}
}
