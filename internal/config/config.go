// Package config reads Gatehouse's configuration from GATEHOUSE_*
// environment variables and command-line flags (flags win), with defaults
// that make a zero-configuration dev run work.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secrets"
)

// Config is the whole configuration.
type Config struct {
	Addr                string
	BaseURL             string
	DataDir             string
	DatabaseURL         string
	APIKey              string
	ClientID            string
	RedirectURIs        []string
	DNSResolver         string
	DNSTimeout          time.Duration
	AllowPrivateTargets bool
	SecretKey           string
	LogFormat           string // "text" | "json"
	LogLevel            string
	DomainCheckInterval time.Duration

	// SSOMetadataRefresh is how often SAML IdP metadata URLs are fetched again.
	SSOMetadataRefresh time.Duration

	// GoogleAPIBaseURL replaces https://admin.googleapis.com/ for Google
	// Workspace directory pulls (tests, proxies); empty = Google.
	GoogleAPIBaseURL string
	// DirectorySyncInterval is how often Google Workspace directories are pulled.
	DirectorySyncInterval time.Duration

	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed when recording a client's address; empty = none.
	TrustedProxies []netip.Prefix
	// RateLimits bound the request rate per API key and per client.
	RateLimits RateLimits
	// DeliveryParkAfter is how long a webhook endpoint or log stream may
	// keep failing before it is parked (delivery stops until re-enabled).
	DeliveryParkAfter time.Duration
	// Portal is the Admin Portal's branding and embedding.
	Portal Portal
	// SAMLFastPath validates SAML responses with the fast path first (the
	// default); false sends every response to crewjam alone.
	SAMLFastPath bool
}

// RateLimits are requests per second allowed per node, each with bursts of
// twice that; 0 turns a limit off.
type RateLimits struct {
	APIKey int // the management API, per API key
	SSO    int // the public SSO endpoints, per client IP
	SCIM   int // the SCIM endpoints, per directory token (or client IP before one is known)
}

// Portal is the Admin Portal's branding (the host app's name, logo, colour
// and support contact) and the origins allowed to frame it.
type Portal struct {
	Name           string
	LogoURL        string
	AccentColor    string // #rrggbb
	SupportEmail   string
	FrameAncestors []string // origins for CSP frame-ancestors; empty = 'none'
}

// Env reads one variable; tests pass a map-backed lookup.
type Env func(key string) (string, bool)

// Scope says which commands a setting applies to.
type Scope int

// The scopes: storage settings matter to every command that opens the
// database (serve, dev, migrate, keys); server settings only to serve and dev.
const (
	ScopeStorage Scope = iota
	ScopeServer
)

// Var is one configuration setting: its environment variable, its flag
// (if it has one), its default and what it is for.
type Var struct {
	Env     string
	Flag    string // "" = environment only
	Default string
	Help    string
	Scope   Scope
	set     func(c *Config, v string) error
}

// Vars lists every setting, in the order help shows them.
var Vars = []Var{
	{"GATEHOUSE_DATA_DIR", "data-dir", "./gatehouse-data", "data directory `DIR`: SQLite file, dev master key", ScopeStorage,
		func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"GATEHOUSE_DATABASE_URL", "database-url", "", "database `URL`: postgres://… for PostgreSQL; empty = SQLite in the data dir", ScopeStorage,
		func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"GATEHOUSE_SECRET_KEY", "", "", "32-byte master key for sealed secrets, hex or base64; required with PostgreSQL", ScopeStorage,
		func(c *Config, v string) error { c.SecretKey = v; return nil }},
	{"GATEHOUSE_ADDR", "addr", "127.0.0.1:8080", "listen address `HOST:PORT`", ScopeServer,
		func(c *Config, v string) error { c.Addr = v; return nil }},
	{"GATEHOUSE_BASE_URL", "base-url", "", "public `URL` used in links, ACS URLs and metadata (default http://ADDR)", ScopeServer,
		func(c *Config, v string) error { c.BaseURL = v; return nil }},
	{"GATEHOUSE_LOG_FORMAT", "log-format", "text", "log `FORMAT`: text or json", ScopeServer,
		func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{"GATEHOUSE_LOG_LEVEL", "log-level", "info", "log `LEVEL`: debug, info, warn, error", ScopeServer,
		func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"GATEHOUSE_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated `CIDRs` or IPs of load balancers whose X-Forwarded-For is believed", ScopeServer,
		func(c *Config, v string) (err error) { c.TrustedProxies, err = parseProxies(v); return err }},
	{"GATEHOUSE_RATE_LIMIT_API", "rate-limit-api", "10000", "`N` management API requests per second per API key, per node (bursts of 2N; 0 = off)", ScopeServer,
		func(c *Config, v string) (err error) { c.RateLimits.APIKey, err = parseInt(v); return err }},
	{"GATEHOUSE_RATE_LIMIT_SSO", "rate-limit-sso", "1000", "`N` SSO requests per second per client IP, per node (bursts of 2N; 0 = off)", ScopeServer,
		func(c *Config, v string) (err error) { c.RateLimits.SSO, err = parseInt(v); return err }},
	{"GATEHOUSE_RATE_LIMIT_SCIM", "rate-limit-scim", "10000", "`N` SCIM requests per second per directory token, per node (bursts of 2N; 0 = off)", ScopeServer,
		func(c *Config, v string) (err error) { c.RateLimits.SCIM, err = parseInt(v); return err }},
	{"GATEHOUSE_API_KEY", "", "", "an API key to accept (stored hashed), for automated set-ups", ScopeServer,
		func(c *Config, v string) error { c.APIKey = v; return nil }},
	{"GATEHOUSE_CLIENT_ID", "", "", "the OAuth client ID; empty = generated once and printed at start", ScopeServer,
		func(c *Config, v string) error { c.ClientID = v; return nil }},
	{"GATEHOUSE_REDIRECT_URIS", "", "", "comma-separated redirect URI allow-list for /sso/authorize", ScopeServer,
		func(c *Config, v string) error { c.RedirectURIs = splitList(v); return nil }},
	{"GATEHOUSE_ALLOW_PRIVATE_TARGETS", "", "false", "let outbound calls reach loopback and private addresses", ScopeServer,
		func(c *Config, v string) (err error) { c.AllowPrivateTargets, err = parseBool(v); return err }},
	{"GATEHOUSE_DNS_RESOLVER", "", "", "host:port of the DNS server for domain checks; empty = system resolver", ScopeServer,
		func(c *Config, v string) error { c.DNSResolver = v; return nil }},
	{"GATEHOUSE_DNS_TIMEOUT", "", "4s", "DNS lookup timeout", ScopeServer,
		func(c *Config, v string) (err error) { c.DNSTimeout, err = parseDuration(v); return err }},
	{"GATEHOUSE_DOMAIN_CHECK_INTERVAL", "", "1m", "how often pending domains are checked", ScopeServer,
		func(c *Config, v string) (err error) { c.DomainCheckInterval, err = parseDuration(v); return err }},
	{"GATEHOUSE_SSO_METADATA_REFRESH", "", "12h", "how often SAML IdP metadata URLs are fetched again", ScopeServer,
		func(c *Config, v string) (err error) { c.SSOMetadataRefresh, err = parseDuration(v); return err }},
	{"GATEHOUSE_DIRECTORY_SYNC_INTERVAL", "", "1h", "how often Google Workspace directories are pulled", ScopeServer,
		func(c *Config, v string) (err error) { c.DirectorySyncInterval, err = parseDuration(v); return err }},
	{"GATEHOUSE_GOOGLE_API_BASE_URL", "", "", "Google Admin SDK base URL override (tests, proxies)", ScopeServer,
		func(c *Config, v string) error { c.GoogleAPIBaseURL = v; return nil }},
	{"GATEHOUSE_PORTAL_NAME", "", "", "Admin Portal: your product's name, shown to your customers' admins", ScopeServer,
		func(c *Config, v string) error { c.Portal.Name = v; return nil }},
	{"GATEHOUSE_PORTAL_LOGO_URL", "", "", "Admin Portal: URL of your logo", ScopeServer,
		func(c *Config, v string) error { c.Portal.LogoURL = v; return nil }},
	{"GATEHOUSE_PORTAL_ACCENT_COLOR", "", "", "Admin Portal: accent colour, like #4f46e5", ScopeServer,
		func(c *Config, v string) error { c.Portal.AccentColor = v; return nil }},
	{"GATEHOUSE_PORTAL_SUPPORT_EMAIL", "", "", "Admin Portal: the support address shown on every page", ScopeServer,
		func(c *Config, v string) error { c.Portal.SupportEmail = v; return nil }},
	{"GATEHOUSE_PORTAL_FRAME_ANCESTORS", "", "", "Admin Portal: comma-separated origins allowed to embed it in an iframe", ScopeServer,
		func(c *Config, v string) error { c.Portal.FrameAncestors = splitList(v); return nil }},
	{"GATEHOUSE_SAML_FAST_PATH", "", "true", "validate SAML responses with the fast path first; false = crewjam alone", ScopeServer,
		func(c *Config, v string) (err error) { c.SAMLFastPath, err = parseBool(v); return err }},
	{"GATEHOUSE_DELIVERY_PARK_AFTER", "", "72h", "how long a webhook endpoint or log stream may keep failing before delivery to it is parked", ScopeServer,
		func(c *Config, v string) (err error) { c.DeliveryParkAfter, err = parseDuration(v); return err }},
}

// VarsFor returns the settings that apply to a command of the given scope.
func VarsFor(s Scope) []Var {
	var out []Var
	for _, v := range Vars {
		if v.Scope <= s {
			out = append(out, v)
		}
	}
	return out
}

// Problems is every configuration error found, so an operator fixes them
// all in one go instead of one per restart.
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return "invalid configuration: " + p[0]
	}
	return "invalid configuration (" + strconv.Itoa(len(p)) + " problems):\n  - " + strings.Join(p, "\n  - ")
}

// names reports whether a problem about setting (its variable name) is
// already listed, so a value that failed to parse is not reported twice.
func (p Problems) names(setting string) bool {
	env, _, _ := strings.Cut(setting, " ")
	for _, s := range p {
		if strings.HasPrefix(s, env+":") || strings.HasPrefix(s, env+" ") {
			return true
		}
	}
	return false
}

// Load builds a server's Config from env and args (flags for one
// subcommand): every setting, every flag.
func Load(fs *flag.FlagSet, args []string, env Env) (Config, error) {
	return loadScope(fs, args, env, ScopeServer)
}

// LoadStorage builds the Config of an offline command (migrate, keys): only
// the flags that choose the database are registered on fs.
func LoadStorage(fs *flag.FlagSet, args []string, env Env) (Config, error) {
	return loadScope(fs, args, env, ScopeStorage)
}

func loadScope(fs *flag.FlagSet, args []string, env Env, scope Scope) (Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	raw := make([]*string, len(Vars))
	for i, v := range Vars {
		val := v.Default
		if s, ok := env(v.Env); ok && s != "" {
			val = s
		}
		raw[i] = &val
		if v.Flag != "" && v.Scope <= scope {
			raw[i] = fs.String(v.Flag, val, v.Help+" ("+v.Env+")")
		}
	}
	c := Config{}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var p Problems
	for i, v := range Vars {
		if err := v.set(&c, *raw[i]); err != nil {
			p = append(p, fmt.Sprintf("%s: %q is not valid: %s", v.name(), *raw[i], err))
		}
	}
	return c, c.finish(p)
}

// name is how a problem names the setting: its variable and its flag.
func (v Var) name() string {
	if v.Flag == "" {
		return v.Env
	}
	return v.Env + " (--" + v.Flag + ")"
}

// finish fills derived defaults and checks every value, adding to the
// problems already found while parsing.
func (c *Config) finish(p Problems) error {
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p = append(p, fmt.Sprintf("GATEHOUSE_ADDR (--addr): %q must be host:port, e.g. 127.0.0.1:8080", c.Addr))
	}
	if !httpURL(c.BaseURL) {
		p = append(p, fmt.Sprintf("GATEHOUSE_BASE_URL (--base-url): base URL %q must be an absolute http(s) URL", c.BaseURL))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		p = append(p, "GATEHOUSE_DATABASE_URL (--database-url): database URL must start with postgres:// (leave it empty for SQLite)")
	}
	if c.SecretKey != "" {
		if _, err := secrets.ParseKeys(c.SecretKey); err != nil {
			p = append(p, err.Error())
		}
	} else if c.DatabaseURL != "" {
		p = append(p, "GATEHOUSE_SECRET_KEY is required with PostgreSQL: every node must seal secrets with the same key")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p = append(p, fmt.Sprintf("GATEHOUSE_LOG_FORMAT (--log-format): log format must be text or json, got %q", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("GATEHOUSE_LOG_LEVEL (--log-level): log level must be debug, info, warn or error, got %q", c.LogLevel))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"GATEHOUSE_DNS_TIMEOUT", c.DNSTimeout},
		{"GATEHOUSE_DOMAIN_CHECK_INTERVAL", c.DomainCheckInterval},
		{"GATEHOUSE_SSO_METADATA_REFRESH", c.SSOMetadataRefresh},
		{"GATEHOUSE_DIRECTORY_SYNC_INTERVAL", c.DirectorySyncInterval},
		{"GATEHOUSE_DELIVERY_PARK_AFTER", c.DeliveryParkAfter},
	} {
		if d.v <= 0 && !p.names(d.name) {
			p = append(p, fmt.Sprintf("%s: must be a positive duration such as 30s or 1h, got %s", d.name, d.v))
		}
	}
	if c.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(c.DNSResolver); err != nil {
			p = append(p, fmt.Sprintf("GATEHOUSE_DNS_RESOLVER: %q must be host:port, e.g. 127.0.0.1:53", c.DNSResolver))
		}
	}
	if c.GoogleAPIBaseURL != "" && !httpURL(c.GoogleAPIBaseURL) {
		p = append(p, fmt.Sprintf("GATEHOUSE_GOOGLE_API_BASE_URL: %q must be an absolute http(s) URL", c.GoogleAPIBaseURL))
	}
	for _, u := range c.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			p = append(p, fmt.Sprintf("GATEHOUSE_REDIRECT_URIS: %q %s", u, msg))
		}
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"GATEHOUSE_RATE_LIMIT_API (--rate-limit-api)", c.RateLimits.APIKey},
		{"GATEHOUSE_RATE_LIMIT_SSO (--rate-limit-sso)", c.RateLimits.SSO},
		{"GATEHOUSE_RATE_LIMIT_SCIM (--rate-limit-scim)", c.RateLimits.SCIM},
	} {
		if l.v < 0 && !p.names(l.name) {
			p = append(p, fmt.Sprintf("%s: must be 0 (off) or a positive number of requests per second, got %d", l.name, l.v))
		}
	}
	if err := c.Portal.validate(); err != nil {
		p = append(p, err.Error())
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkRedirectURI applies the rules of POST /redirect_uris to a configured
// URI and says what is wrong, or "".
func checkRedirectURI(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || ((u.Scheme == "http" || u.Scheme == "https") && u.Host == ""):
		return "must be an absolute URL"
	case u.Fragment != "":
		return "must not have a fragment (#…)"
	case strings.EqualFold(u.Scheme, "javascript") || strings.EqualFold(u.Scheme, "data") || strings.EqualFold(u.Scheme, "vbscript"):
		return "must not use the " + u.Scheme + " scheme"
	}
	return ""
}

// parseProxies reads comma-separated CIDRs or single addresses.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, part := range splitList(s) {
		if pr, err := netip.ParsePrefix(part); err == nil {
			out = append(out, pr.Masked())
			continue
		}
		if a, err := netip.ParseAddr(part); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, strconv.Quote(part))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: want CIDRs (10.0.0.0/8) or IP addresses", strings.Join(bad, ", "))
	}
	return out, nil
}

// Defaults returns the configuration of a run with no flags and no env,
// adjusted by fn; for tests.
func Defaults(fn func(*Config)) (Config, error) {
	c, err := Load(flag.NewFlagSet("test", flag.ContinueOnError), nil, func(string) (string, bool) { return "", false })
	if err != nil {
		return c, err
	}
	fn(&c)
	return c, c.finish(nil)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// The parsers' errors say what is wanted; the caller names the setting and
// quotes the value.
func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("want a duration such as 30s, 5m or 1h")
	}
	return d, nil
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("want a whole number")
	}
	return n, nil
}
