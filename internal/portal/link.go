package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/api"
)

// CookieName is the portal session cookie.
const CookieName = "gatehouse_portal"

// generateLink is POST /portal/generate_link.
func (h *Handler) generateLink(w http.ResponseWriter, r *http.Request) error {
	var in LinkInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	link, err := h.Svc.GenerateLink(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, map[string]string{"link": link})
}

// launch opens a link: it starts the session, sets its cookie and moves to
// a clean URL, so the token never stays in the address bar or history.
func (h *Handler) launch(w http.ResponseWriter, r *http.Request) {
	h.secureHeaders(w)
	tok, sess, err := h.Svc.Open(r.Context(), r.URL.Query().Get("token"))
	switch {
	case errors.Is(err, ErrLinkExpired):
		h.problem(w, r, http.StatusGone, "This link has expired",
			"Admin Portal links work for 5 minutes after they are made. Go back to the application and open the Admin Portal again to get a new link.")
		return
	case errors.Is(err, ErrLinkUsed):
		h.problem(w, r, http.StatusNotFound, "This link has already been used",
			"Each Admin Portal link opens once. Go back to the application and open the Admin Portal again to get a new link.")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	http.SetCookie(w, h.cookie(tok, int(SessionMaxLifetime.Seconds())))
	http.Redirect(w, r, "/portal/"+intentPath(sess.Intent), http.StatusSeeOther)
}

// cookie is the session cookie: HttpOnly always; under https Secure and
// SameSite=None so the portal also works inside the host app's iframe;
// over plain http (local dev) Lax, which browsers require without Secure.
func (h *Handler) cookie(value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/portal", HttpOnly: true, MaxAge: maxAge, SameSite: http.SameSiteLaxMode}
	if h.Secure {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	return c
}

// intentPath is the page a link's intent opens.
func intentPath(intent string) string {
	switch intent {
	case "sso":
		return "sso"
	case "dsync":
		return "directory-sync"
	case "domain_verification":
		return "domains"
	case "certificate_renewal":
		return "certificates"
	case "log_streams":
		return "log-streams"
	}
	// audit_logs has no page yet: the menu opens.
	return ""
}
