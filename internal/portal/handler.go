package portal

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/organization"
	"github.com/gatehouse-dev/gatehouse/internal/sso"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler serves the portal's API route and pages. Pages call the feature
// services with the session's organization, never the store.
type Handler struct {
	Svc         *Service
	Orgs        *organization.Service
	SSO         *sso.Service
	Directories *directory.Service
	LogStreams  *logstream.Service
	// FlushSCIMLog writes buffered SCIM request log entries, so the page
	// shows the latest; SyncNow pulls a Google Workspace directory now.
	FlushSCIMLog func(ctx context.Context)
	SyncNow      func(ctx context.Context, dirID string) (any, error)
	Brand        config.Portal
	// Secure is true when the portal is served over https (Secure cookies).
	Secure bool
	Log    *slog.Logger

	// pages parses the page templates on the first render rather than at
	// start: a node whose portal is never opened does not hold them (about
	// 0.5 MB of heap, and the template parser's code, at idle).
	pages func() (map[string]*template.Template, error)
}

// Routes registers the portal's routes.
func (h *Handler) Routes(r api.Router) {
	h.pages = sync.OnceValues(parsePages)
	r.API("POST /portal/generate_link", h.generateLink)
	r.Public("GET /portal/launch", http.HandlerFunc(h.launch))
	static, _ := fs.Sub(staticFS, "static")
	r.Public("GET /portal/static/", h.assets(http.StripPrefix("/portal/static/", http.FileServerFS(static))))
	r.Public("GET /portal/brand.css", http.HandlerFunc(h.brandCSS))
	r.Public("GET /portal/{$}", h.page(h.home))
	r.Public("POST /portal/sign-out", h.page(h.signOut))
	h.domainRoutes(r)
	h.certificateRoutes(r)
	h.ssoRoutes(r)
	h.directoryRoutes(r)
	h.logStreamRoutes(r)
}

// sessionFunc is a page handler with its session.
type sessionFunc func(w http.ResponseWriter, r *http.Request, s Session) error

// page wraps a page: security headers, the session (or a friendly page),
// the CSRF check on every POST, and errors shown as pages.
func (h *Handler) page(fn sessionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.secureHeaders(w)
		c, _ := r.Cookie(CookieName)
		tok := ""
		if c != nil {
			tok = c.Value
		}
		s, err := h.Svc.Session(r.Context(), tok)
		if errors.Is(err, ErrNoSession) {
			h.problem(w, r, http.StatusUnauthorized, "Your session has ended",
				"For your security, Admin Portal sessions end after 30 minutes without activity. Go back to the application and open the Admin Portal again.")
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
			if err := r.ParseMultipartForm(2 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				h.problem(w, r, http.StatusBadRequest, "The form could not be read", "The upload is too large or malformed. Files may be at most 2 MB.")
				return
			}
			if !s.CheckCSRF(r.PostFormValue("csrf")) {
				h.problem(w, r, http.StatusForbidden, "This form has expired",
					"The page was open too long or came from another site. Reload the page and try again.")
				return
			}
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, err)
		}
	})
}

// secureHeaders sets the CSP and friends on every portal answer. No
// inline script or style is allowed; branding comes from /portal/brand.css.
func (h *Handler) secureHeaders(w http.ResponseWriter) {
	img := "'self' data:"
	if u, err := url.Parse(h.Brand.LogoURL); err == nil && h.Brand.LogoURL != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	ancestors := "'none'"
	if len(h.Brand.FrameAncestors) > 0 {
		ancestors = strings.Join(h.Brand.FrameAncestors, " ")
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src "+img+
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "+ancestors)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (h *Handler) assets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.secureHeaders(w)
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Brand   brandView
	Org     organization.Organization
	CSRF    string
	Session *Session
	// Event, when set, is posted to window.opener ("success").
	Event  string
	Notice string
	Error  string
	Data   any
}

type brandView struct {
	Name, LogoURL, Support, OpenerOrigin, ReturnURL, SuccessURL string
}

func (h *Handler) brand(s *Session) brandView {
	b := brandView{Name: h.Brand.Name, LogoURL: h.Brand.LogoURL, Support: h.Brand.SupportEmail}
	if b.Name == "" {
		b.Name = "Gatehouse"
	}
	if s != nil {
		b.ReturnURL, b.SuccessURL = s.ReturnURL, s.SuccessURL
		for _, u := range []string{s.ReturnURL, s.SuccessURL} {
			if p, err := url.Parse(u); err == nil && u != "" {
				b.OpenerOrigin = p.Scheme + "://" + p.Host
				break
			}
		}
	}
	return b
}

// render executes a page into a buffer first, so a template error never
// sends half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, s *Session, v view) error {
	pages, err := h.pages()
	if err != nil {
		return err
	}
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	v.Brand, v.Session = h.brand(s), s
	if s != nil {
		v.CSRF = s.CSRFToken()
		if v.Org.ID == "" {
			o, err := h.Orgs.Get(r.Context(), s.OrganizationID)
			if err != nil {
				return err
			}
			v.Org = o
		}
		if v.Notice == "" {
			v.Notice = noticeText(r.URL.Query().Get("done"))
			if v.Notice != "" {
				v.Event = "success"
			}
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// problem shows a friendly page with no session details.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	if err := h.render(w, r, status, "problem", nil, view{Title: title, Data: text}); err != nil {
		http.Error(w, title, status)
	}
}

// fail shows a typed error's message, or a bare 500 that names the
// request for support.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := errs.As(err); ok {
		title := "Something is not right"
		if e.Kind == errs.KindNotFound {
			title = "Not found"
		}
		h.problem(w, r, api.StatusOf(e.Kind), title, e.Message)
		return
	}
	rid := api.RequestID(r.Context())
	if h.Log != nil {
		h.Log.ErrorContext(r.Context(), "portal error", "err", err, "path", r.URL.Path, "request_id", rid)
	}
	h.problem(w, r, http.StatusInternalServerError, "Something went wrong on our side",
		"Please try again in a moment. If it keeps happening, contact support and mention request "+rid+".")
}

// message is the admin-facing text of a typed error, for inline form
// errors. Not-found errors are not inline: they answer 404 (another
// organization's object, or one that is gone).
func message(err error) (string, bool) {
	if e, ok := errs.As(err); ok && e.Kind != errs.KindUnavailable && e.Kind != errs.KindNotFound {
		msg := e.Message
		for _, f := range e.Fields {
			if f.Message != "" && !strings.Contains(msg, f.Message) {
				msg += " " + f.Message
			}
		}
		return msg, true
	}
	return "", false
}

func noticeText(done string) string {
	return map[string]string{
		"domain-added": "Domain added. Create the DNS record below, then check it.", "domain-verified": "Domain verified.",
		"domain-removed": "Domain removed.", "cert-added": "Certificate added. Sign-ins signed with either certificate now work.",
		"cert-removed": "Certificate removed.", "conn-created": "Connection created. Follow the steps below to finish it.",
		"conn-saved": "Identity provider details saved.", "policy-saved": "SSO policy saved.", "conn-activated": "Connection activated.",
		"conn-deactivated": "Connection deactivated.", "dir-created": "Directory created.", "sync-started": "Sync finished.",
		"stream-added": "Log stream added. Send a test event to check it.", "stream-saved": "Log stream saved. Send a test event to check it.", "stream-paused": "Log stream paused.",
		"stream-resumed": "Log stream resumed.", "stream-removed": "Log stream removed.",
	}[done]
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request, s Session) error {
	acts, err := h.SSO.RecentSignIns(r.Context(), s.OrganizationID, 15)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "home", &s, view{Title: "Admin Portal", Nav: "home", Data: acts})
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s Session) error {
	if err := h.Svc.End(r.Context(), s.token); err != nil {
		return err
	}
	http.SetCookie(w, h.cookie("", -1))
	return h.render(w, r, http.StatusOK, "problem", nil, view{Title: "You are signed out", Data: "You can close this window."})
}

// parsePages parses every page template, each with the layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2 Jan 2006, 15:04 UTC")
		},
		"day": func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("portal templates: %w", err)
	}
	pages := map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("portal templates: %w", err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := layout.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, n)
		}
		if err != nil {
			return nil, fmt.Errorf("portal templates: %w", err)
		}
		pages[base] = t
	}
	return pages, nil
}
