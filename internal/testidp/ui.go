package testidp

import (
	"bytes"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

//go:embed ui.gohtml
var uiSource string

// pages holds the HTML templates, parsed on first use (only `gatehouse dev`
// and tests run the test IdP; `serve` links it but should not hold it). The
// templates are constant, so a parse error is a programming error.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("ui").Funcs(template.FuncMap{"join": strings.Join}).Parse(uiSource))
})

// pageCSP allows the inline stylesheet and the data: favicon, nothing
// else: no script and no framing (so the login form cannot be clickjacked). It sets no
// form-action: browsers apply it to the redirects that follow a form post,
// and the OIDC login form redirects to the relying party.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"

// loginPage is the data of the "login" template.
type loginPage struct {
	Protocol string
	App      string
	Error    string
	Action   string
	LoginID  string
	Email    string
	Users    []User
}

// errorPage is the data of the "error" template.
type errorPage struct {
	Protocol string
	Title    string
	Message  string
}

// render writes the named page with status. Pages are rendered into a
// buffer first so that a template error becomes a clean 500 rather than a
// half-written page.
func render(w http.ResponseWriter, log *slog.Logger, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, name, data); err != nil {
		log.Error("testidp: render page", "page", name, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError writes the error page.
func renderError(w http.ResponseWriter, log *slog.Logger, protocol string, status int, title, message string) {
	render(w, log, status, "error", errorPage{Protocol: protocol, Title: title, Message: message})
}
