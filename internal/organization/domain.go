package organization

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// consumerDomains are mail providers whose domains no organization can
// own; routing their users to one organization's SSO would hijack strangers.
var consumerDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "yahoo.com": true, "yahoo.co.uk": true, "yahoo.fr": true,
	"ymail.com": true, "hotmail.com": true, "hotmail.co.uk": true, "hotmail.fr": true, "outlook.com": true,
	"live.com": true, "msn.com": true, "aol.com": true, "icloud.com": true, "me.com": true, "mac.com": true,
	"proton.me": true, "protonmail.com": true, "pm.me": true, "gmx.com": true, "gmx.de": true, "gmx.net": true,
	"web.de": true, "mail.com": true, "yandex.com": true, "yandex.ru": true, "mail.ru": true, "qq.com": true,
	"163.com": true, "126.com": true, "zoho.com": true, "fastmail.com": true, "tutanota.com": true,
	"hey.com": true, "comcast.net": true, "att.net": true, "verizon.net": true, "orange.fr": true,
	"free.fr": true, "t-online.de": true, "libero.it": true, "naver.com": true, "rediffmail.com": true,
}

// IsConsumerDomain reports whether d is a public mail provider's domain.
func IsConsumerDomain(d string) bool { return consumerDomains[d] }

// domainProfile converts internationalised names to their ASCII (punycode)
// form and checks hostname syntax.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(true))

// NormalizeDomain returns the canonical form of a domain an admin typed
// (lower case, ASCII, no trailing dot), or a message saying what is wrong.
func NormalizeDomain(raw string) (string, string) {
	s := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(s):
		return "", "The domain contains bytes that are not text."
	case s == "":
		return "", "Enter a domain, such as example.com."
	case strings.Contains(s, "://") || strings.ContainsAny(s, "/?#"):
		return "", fmt.Sprintf("%q looks like a URL; enter only the domain, such as example.com.", raw)
	case strings.Contains(s, "@"):
		return "", fmt.Sprintf("%q looks like an email address; enter only the part after the @.", raw)
	case strings.HasPrefix(s, "*."):
		return "", "Wildcard domains cannot be verified; enter the domain itself."
	case strings.ContainsAny(s, " \t:"):
		return "", fmt.Sprintf("%q is not a domain name.", raw)
	}
	s = strings.TrimSuffix(s, ".")
	if _, err := netip.ParseAddr(s); err == nil {
		return "", "IP addresses cannot be verified; enter a domain name."
	}
	ascii, err := domainProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Sprintf("%q is not a valid domain name.", raw)
	}
	ascii = strings.ToLower(ascii)
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 || len(ascii) > 253 {
		return "", fmt.Sprintf("%q is not a full domain name; it needs a dot, as in example.com.", raw)
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", fmt.Sprintf("%q is not a valid domain name.", raw)
		}
	}
	// The canonical form must survive a second pass unchanged (punycode
	// labels that decode to invalid names are refused here).
	if again, err := domainProfile.ToASCII(ascii); err != nil || again != ascii {
		return "", fmt.Sprintf("%q is not a valid domain name.", raw)
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "", fmt.Sprintf("%q is not a valid domain name.", raw)
	}
	return ascii, ""
}

// validLabel checks an ASCII DNS label: 1–63 letters, digits and hyphens,
// not starting or ending with a hyphen.
func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
