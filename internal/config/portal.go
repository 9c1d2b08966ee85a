package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// validate checks the portal's branding and frame ancestors, so that a
// typo refuses to start instead of breaking every customer's portal.
func (p *Portal) validate() error {
	if len(p.Name) > 80 || strings.ContainsAny(p.Name, "<>\n\r") {
		return fmt.Errorf("GATEHOUSE_PORTAL_NAME must be at most 80 characters of plain text")
	}
	if p.LogoURL != "" {
		u, err := url.Parse(p.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return fmt.Errorf("GATEHOUSE_PORTAL_LOGO_URL %q must be an absolute http(s) URL", p.LogoURL)
		}
	}
	if p.AccentColor != "" {
		if !hexColor.MatchString(p.AccentColor) {
			return fmt.Errorf("GATEHOUSE_PORTAL_ACCENT_COLOR %q must be a colour like #4f46e5", p.AccentColor)
		}
		p.AccentColor = strings.ToLower(p.AccentColor)
	}
	if p.SupportEmail != "" {
		a, err := mail.ParseAddress(p.SupportEmail)
		if err != nil || a.Name != "" || a.Address != p.SupportEmail {
			return fmt.Errorf("GATEHOUSE_PORTAL_SUPPORT_EMAIL %q must be a plain email address", p.SupportEmail)
		}
	}
	for _, o := range p.FrameAncestors {
		if o == "'self'" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.User != nil || strings.ContainsAny(o, " ;,'\"") {
			return fmt.Errorf("GATEHOUSE_PORTAL_FRAME_ANCESTORS: %q must be an origin such as https://app.example.com", o)
		}
	}
	return nil
}
