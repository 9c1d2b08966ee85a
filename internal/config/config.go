// Package config reads Gatehouse's configuration from GATEHOUSE_*
// environment variables and command-line flags (flags win), with defaults
// that make a zero-configuration dev run work.
package config

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
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

	// SAMLFastPath validates SAML responses with the fast path first (the
	// default); false sends every response to crewjam alone.
	SAMLFastPath bool
}

// Env reads one variable; tests pass a map-backed lookup.
type Env func(key string) (string, bool)

// Load builds a Config from env and args (flags for one subcommand).
func Load(fs *flag.FlagSet, args []string, env Env) (Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	get := func(k, def string) string {
		if v, ok := env(k); ok && v != "" {
			return v
		}
		return def
	}
	c := Config{}
	fs.StringVar(&c.Addr, "addr", get("GATEHOUSE_ADDR", "127.0.0.1:8080"), "listen address (GATEHOUSE_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", get("GATEHOUSE_BASE_URL", ""), "public URL used in links, ACS URLs and metadata (GATEHOUSE_BASE_URL; default http://ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", get("GATEHOUSE_DATA_DIR", "./gatehouse-data"), "data directory: SQLite file, dev master key (GATEHOUSE_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", get("GATEHOUSE_DATABASE_URL", ""), "postgres://… to use PostgreSQL; empty = SQLite in the data dir (GATEHOUSE_DATABASE_URL)")
	fs.StringVar(&c.LogFormat, "log-format", get("GATEHOUSE_LOG_FORMAT", "text"), "log format: text or json (GATEHOUSE_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", get("GATEHOUSE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (GATEHOUSE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.APIKey = get("GATEHOUSE_API_KEY", "")
	c.ClientID = get("GATEHOUSE_CLIENT_ID", "")
	c.RedirectURIs = splitList(get("GATEHOUSE_REDIRECT_URIS", ""))
	c.DNSResolver = get("GATEHOUSE_DNS_RESOLVER", "")
	c.SecretKey = get("GATEHOUSE_SECRET_KEY", "")
	var err error
	if c.AllowPrivateTargets, err = parseBool(get("GATEHOUSE_ALLOW_PRIVATE_TARGETS", "false")); err != nil {
		return c, fmt.Errorf("GATEHOUSE_ALLOW_PRIVATE_TARGETS: %w", err)
	}
	if c.DNSTimeout, err = time.ParseDuration(get("GATEHOUSE_DNS_TIMEOUT", "4s")); err != nil {
		return c, fmt.Errorf("GATEHOUSE_DNS_TIMEOUT: %w", err)
	}
	if c.DomainCheckInterval, err = time.ParseDuration(get("GATEHOUSE_DOMAIN_CHECK_INTERVAL", "1m")); err != nil {
		return c, fmt.Errorf("GATEHOUSE_DOMAIN_CHECK_INTERVAL: %w", err)
	}
	if c.SSOMetadataRefresh, err = time.ParseDuration(get("GATEHOUSE_SSO_METADATA_REFRESH", "12h")); err != nil {
		return c, fmt.Errorf("GATEHOUSE_SSO_METADATA_REFRESH: %w", err)
	}
	c.GoogleAPIBaseURL = get("GATEHOUSE_GOOGLE_API_BASE_URL", "")
	if c.DirectorySyncInterval, err = time.ParseDuration(get("GATEHOUSE_DIRECTORY_SYNC_INTERVAL", "1h")); err != nil || c.DirectorySyncInterval <= 0 {
		return c, fmt.Errorf("GATEHOUSE_DIRECTORY_SYNC_INTERVAL: must be a positive duration such as 1h")
	}
	if c.SAMLFastPath, err = parseBool(get("GATEHOUSE_SAML_FAST_PATH", "true")); err != nil {
		return c, fmt.Errorf("GATEHOUSE_SAML_FAST_PATH: %w", err)
	}
	return c, c.finish()
}

// finish fills derived defaults and checks the values.
func (c *Config) finish() error {
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base URL %q must be an absolute http(s) URL", c.BaseURL)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("database URL must start with postgres:// (leave it empty for SQLite)")
	}
	if c.DatabaseURL != "" && c.SecretKey == "" {
		return fmt.Errorf("GATEHOUSE_SECRET_KEY is required with PostgreSQL: every node must seal secrets with the same key")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log format must be text or json, got %q", c.LogFormat)
	}
	return nil
}

// Defaults returns the configuration of a run with no flags and no env,
// adjusted by fn; for tests.
func Defaults(fn func(*Config)) (Config, error) {
	c, err := Load(flag.NewFlagSet("test", flag.ContinueOnError), nil, func(string) (string, bool) { return "", false })
	if err != nil {
		return c, err
	}
	fn(&c)
	return c, c.finish()
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

func parseBool(s string) (bool, error) { return strconv.ParseBool(strings.TrimSpace(s)) }
