package config

import (
	"flag"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, envOf(env))
}

// TestDefaults is a zero-configuration run: SQLite in ./gatehouse-data on
// 127.0.0.1:8080.
func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.DataDir != "./gatehouse-data" ||
		c.DatabaseURL != "" || c.AllowPrivateTargets || c.DNSTimeout != 4*time.Second || !c.SAMLFastPath ||
		c.RateLimits != (RateLimits{APIKey: 10000, SSO: 1000, SCIM: 10000}) || c.TrustedProxies != nil {
		t.Errorf("defaults = %+v", c)
	}
}

// TestFlagsOverrideEnvironment checks the precedence DESIGN sets.
func TestFlagsOverrideEnvironment(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_ADDR": "0.0.0.0:9000", "GATEHOUSE_BASE_URL": "https://id.example.com/", "GATEHOUSE_DATA_DIR": "/env",
		"GATEHOUSE_REDIRECT_URIS": "https://a.example/cb, https://b.example/cb", "GATEHOUSE_ALLOW_PRIVATE_TARGETS": "true",
		"GATEHOUSE_API_KEY": "sk_env", "GATEHOUSE_DNS_RESOLVER": "127.0.0.1:5353", "GATEHOUSE_SAML_FAST_PATH": "false",
	}
	c, err := load(t, []string{"--addr", "127.0.0.1:7000", "--data-dir", "/flag"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.DataDir != "/flag" {
		t.Errorf("flags did not win: addr %q data dir %q", c.Addr, c.DataDir)
	}
	if c.BaseURL != "https://id.example.com" {
		t.Errorf("base URL = %q (trailing slash must go)", c.BaseURL)
	}
	if len(c.RedirectURIs) != 2 || c.RedirectURIs[1] != "https://b.example/cb" || !c.AllowPrivateTargets || c.APIKey != "sk_env" || c.DNSResolver != "127.0.0.1:5353" || c.SAMLFastPath {
		t.Errorf("env not read: %+v", c)
	}
}

// TestInvalidConfiguration refuses every bad value and names the setting;
// with several bad values it lists each of them.
func TestInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		wantErrs []string
	}{
		{"postgres without secret key", nil, map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://x/y"}, []string{"GATEHOUSE_SECRET_KEY is required"}},
		{"unknown database scheme", []string{"--database-url", "mysql://x"}, nil, []string{"must start with postgres://"}},
		{"relative base url", []string{"--base-url", "id.example.com"}, nil, []string{"GATEHOUSE_BASE_URL", "absolute http(s) URL"}},
		{"bad boolean", nil, map[string]string{"GATEHOUSE_ALLOW_PRIVATE_TARGETS": "maybe"}, []string{"GATEHOUSE_ALLOW_PRIVATE_TARGETS", "true or false"}},
		{"bad duration", nil, map[string]string{"GATEHOUSE_DNS_TIMEOUT": "soon"}, []string{"GATEHOUSE_DNS_TIMEOUT", `"soon"`}},
		{"zero interval", nil, map[string]string{"GATEHOUSE_DOMAIN_CHECK_INTERVAL": "0s"}, []string{"GATEHOUSE_DOMAIN_CHECK_INTERVAL: must be a positive duration"}},
		{"negative interval", nil, map[string]string{"GATEHOUSE_SSO_METADATA_REFRESH": "-1h"}, []string{"GATEHOUSE_SSO_METADATA_REFRESH: must be a positive duration"}},
		{"zero sync interval", nil, map[string]string{"GATEHOUSE_DIRECTORY_SYNC_INTERVAL": "0"}, []string{"GATEHOUSE_DIRECTORY_SYNC_INTERVAL"}},
		{"bad log format", []string{"--log-format", "xml"}, nil, []string{"log format"}},
		{"unknown log level", nil, map[string]string{"GATEHOUSE_LOG_LEVEL": "verbose"}, []string{"GATEHOUSE_LOG_LEVEL", `"verbose"`}},
		{"bad listen address", []string{"--addr", "8080"}, nil, []string{"GATEHOUSE_ADDR", "host:port"}},
		{"bad secret key", nil, map[string]string{"GATEHOUSE_SECRET_KEY": "hunter2"}, []string{"GATEHOUSE_SECRET_KEY must be 32 bytes"}},
		{"relative redirect uri", nil, map[string]string{"GATEHOUSE_REDIRECT_URIS": "https://ok.example/cb,/callback"}, []string{`GATEHOUSE_REDIRECT_URIS: "/callback" must be an absolute URL`}},
		{"javascript redirect uri", nil, map[string]string{"GATEHOUSE_REDIRECT_URIS": "javascript:alert(1)"}, []string{"javascript scheme"}},
		{"redirect uri with fragment", nil, map[string]string{"GATEHOUSE_REDIRECT_URIS": "https://a.example/cb#x"}, []string{"fragment"}},
		{"bad google url", nil, map[string]string{"GATEHOUSE_GOOGLE_API_BASE_URL": "admin.googleapis.com"}, []string{"GATEHOUSE_GOOGLE_API_BASE_URL"}},
		{"bad dns resolver", nil, map[string]string{"GATEHOUSE_DNS_RESOLVER": "1.1.1.1"}, []string{"GATEHOUSE_DNS_RESOLVER", "host:port"}},
		{"bad trusted proxy", []string{"--trusted-proxies", "10.0.0.0/8, lb.internal"}, nil, []string{"GATEHOUSE_TRUSTED_PROXIES", `"lb.internal"`}},
		{"bad trusted prefix", nil, map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"GATEHOUSE_TRUSTED_PROXIES"}},
		{"negative rate limit", []string{"--rate-limit-api", "-5"}, nil, []string{"GATEHOUSE_RATE_LIMIT_API", "0 (off) or a positive number"}},
		{"rate limit not a number", nil, map[string]string{"GATEHOUSE_RATE_LIMIT_SSO": "lots"}, []string{"GATEHOUSE_RATE_LIMIT_SSO", "whole number"}},
		{"several problems at once", []string{"--log-level", "loud"}, map[string]string{
			"GATEHOUSE_DOMAIN_CHECK_INTERVAL": "0s", "GATEHOUSE_LOG_FORMAT": "yaml", "GATEHOUSE_BASE_URL": "ftp://x",
			"GATEHOUSE_SECRET_KEY": "short", "GATEHOUSE_DNS_TIMEOUT": "later",
		}, []string{"6 problems", "GATEHOUSE_DOMAIN_CHECK_INTERVAL", "GATEHOUSE_LOG_FORMAT", "GATEHOUSE_LOG_LEVEL",
			"GATEHOUSE_BASE_URL", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_DNS_TIMEOUT"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil {
				t.Fatalf("accepted; want an error naming %q", tc.wantErrs)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

// TestUnparsableValueReportedOnce: a duration that does not parse is one
// problem, not also "must be positive".
func TestUnparsableValueReportedOnce(t *testing.T) {
	_, err := load(t, nil, map[string]string{"GATEHOUSE_DOMAIN_CHECK_INTERVAL": "soon"})
	if n := strings.Count(err.Error(), "GATEHOUSE_DOMAIN_CHECK_INTERVAL"); n != 1 {
		t.Errorf("named %d times: %v", n, err)
	}
}

// TestTrustedProxies reads CIDRs and single addresses.
func TestTrustedProxies(t *testing.T) {
	c, err := load(t, nil, map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7,::1, 2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(c.TrustedProxies, want) {
		t.Errorf("trusted proxies = %v, want %v", c.TrustedProxies, want)
	}
}

// TestStorageCommandsRegisterOnlyStorageFlags: migrate and keys have no
// --addr or --log-level to mislead anyone.
func TestStorageCommandsRegisterOnlyStorageFlags(t *testing.T) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := LoadStorage(fs, []string{"--data-dir", "/x"}, envOf(nil)); err != nil {
		t.Fatal(err)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if !slices.Equal(names, []string{"data-dir", "database-url"}) {
		t.Errorf("flags = %v", names)
	}
}
