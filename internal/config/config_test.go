package config

import (
	"flag"
	"io"
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
		c.DatabaseURL != "" || c.AllowPrivateTargets || c.DNSTimeout != 4*time.Second || !c.SAMLFastPath {
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

// TestInvalidConfiguration names the wrong setting.
func TestInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"postgres without secret key", nil, map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://x/y"}, "GATEHOUSE_SECRET_KEY is required"},
		{"unknown database scheme", []string{"--database-url", "mysql://x"}, nil, "must start with postgres://"},
		{"relative base url", []string{"--base-url", "id.example.com"}, nil, "absolute http(s) URL"},
		{"bad boolean", nil, map[string]string{"GATEHOUSE_ALLOW_PRIVATE_TARGETS": "maybe"}, "GATEHOUSE_ALLOW_PRIVATE_TARGETS"},
		{"bad duration", nil, map[string]string{"GATEHOUSE_DNS_TIMEOUT": "soon"}, "GATEHOUSE_DNS_TIMEOUT"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "log format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
