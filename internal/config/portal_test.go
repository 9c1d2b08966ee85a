package config

import (
	"strings"
	"testing"
)

// TestPortalBranding reads the portal settings and refuses bad ones with
// the variable's name.
func TestPortalBranding(t *testing.T) {
	c, err := load(t, nil, map[string]string{
		"GATEHOUSE_PORTAL_NAME": "Acme Cloud", "GATEHOUSE_PORTAL_LOGO_URL": "https://cdn.acme.example/logo.svg",
		"GATEHOUSE_PORTAL_ACCENT_COLOR": "#4F46E5", "GATEHOUSE_PORTAL_SUPPORT_EMAIL": "support@acme.example",
		"GATEHOUSE_PORTAL_FRAME_ANCESTORS": "https://app.acme.example, 'self'",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Portal
	if p.Name != "Acme Cloud" || p.LogoURL != "https://cdn.acme.example/logo.svg" || p.AccentColor != "#4f46e5" ||
		p.SupportEmail != "support@acme.example" || len(p.FrameAncestors) != 2 || p.FrameAncestors[0] != "https://app.acme.example" {
		t.Errorf("portal = %+v", p)
	}
	cases := []struct {
		name, key, value string
	}{
		{"name with markup", "GATEHOUSE_PORTAL_NAME", "<b>Acme</b>"},
		{"logo not a URL", "GATEHOUSE_PORTAL_LOGO_URL", "logo.png"},
		{"logo javascript", "GATEHOUSE_PORTAL_LOGO_URL", "javascript:alert(1)"},
		{"colour name", "GATEHOUSE_PORTAL_ACCENT_COLOR", "red"},
		{"colour with css", "GATEHOUSE_PORTAL_ACCENT_COLOR", "#fff;}body{"},
		{"support with display name", "GATEHOUSE_PORTAL_SUPPORT_EMAIL", "Help <help@acme.example>"},
		{"support not an address", "GATEHOUSE_PORTAL_SUPPORT_EMAIL", "help"},
		{"ancestor wildcard", "GATEHOUSE_PORTAL_FRAME_ANCESTORS", "*"},
		{"ancestor with path", "GATEHOUSE_PORTAL_FRAME_ANCESTORS", "https://app.example/x"},
		{"ancestor injects directive", "GATEHOUSE_PORTAL_FRAME_ANCESTORS", "https://a.example;script-src"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, nil, map[string]string{tc.key: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("%s=%q: err = %v, want one naming %s", tc.key, tc.value, err, tc.key)
			}
		})
	}
}
