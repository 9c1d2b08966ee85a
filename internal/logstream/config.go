package logstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/datadog"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/gcs"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/https"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/s3"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/splunk"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
)

// The stream types, as WorkOS names them.
const (
	TypeGenericHTTPS = "GenericHttps"
	TypeDatadog      = "Datadog"
	TypeSplunk       = "Splunk"
	TypeS3           = "S3"
	TypeGCS          = "GoogleCloudStorage"
)

// Types lists the types Gatehouse can stream to.
var Types = []string{TypeGenericHTTPS, TypeDatadog, TypeSplunk, TypeS3, TypeGCS}

type kind int

const (
	kString kind = iota
	kBool
	kHeaders // object of string → string
)

// field is one config key of a type. Secret fields are sealed at rest and
// only ever shown masked.
type field struct {
	name     string
	kind     kind
	required bool
	secret   bool
}

var fields = map[string][]field{
	TypeGenericHTTPS: {{name: "url", required: true}, {name: "headers", kind: kHeaders, secret: true}, {name: "secret", secret: true}},
	TypeDatadog: {{name: "api_key", required: true, secret: true}, {name: "site"}, {name: "endpoint"},
		{name: "service"}, {name: "tags"}},
	TypeSplunk: {{name: "url", required: true}, {name: "token", required: true, secret: true}, {name: "index"},
		{name: "source"}, {name: "sourcetype"}},
	TypeS3: {{name: "bucket", required: true}, {name: "region"}, {name: "prefix"}, {name: "access_key_id", required: true},
		{name: "secret_access_key", required: true, secret: true}, {name: "endpoint"}, {name: "force_path_style", kind: kBool}},
	TypeGCS: {{name: "bucket", required: true}, {name: "prefix"}, {name: "credentials_json", secret: true}, {name: "endpoint"}},
}

// values is a stream's configuration, decoded: strings, bools and header
// maps by key.
type values map[string]any

func (v values) str(k string) string                { s, _ := v[k].(string); return s }
func (v values) boolean(k string) bool              { b, _ := v[k].(bool); return b }
func (v values) headers(k string) map[string]string { h, _ := v[k].(map[string]string); return h }

func fieldOf(typ, name string) (field, bool) {
	for _, f := range fields[typ] {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// decodeValue reads one config value of f's kind. credentials_json may be
// given as the key file's JSON object or as a string holding it.
func decodeValue(f field, raw json.RawMessage) (any, *errs.FieldError) {
	bad := func(want string) *errs.FieldError {
		return &errs.FieldError{Field: "config." + f.name, Code: "invalid_type", Message: fmt.Sprintf("config.%s must be %s.", f.name, want)}
	}
	switch f.kind {
	case kBool:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, bad("true or false")
		}
		return b, nil
	case kHeaders:
		var h map[string]string
		if json.Unmarshal(raw, &h) != nil {
			return nil, bad("an object of header names to string values")
		}
		if h == nil {
			h = map[string]string{}
		}
		return h, nil
	}
	if f.name == "credentials_json" && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return string(bytes.TrimSpace(raw)), nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, bad("a string")
	}
	return strings.TrimSpace(s), nil
}

// reservedHeaders are set by Gatehouse itself and may not be configured.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Host",
	"Connection", "User-Agent", "Gatehouse-Signature", "Te", "Trailer", "Upgrade"}

// The name patterns are compiled on first use: their bounded repetitions
// make large programs (about 200 KB of heap together), which a node that
// never configures a bucket need not hold.
var (
	s3Bucket  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`) })
	gcsBucket = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`) })
	region    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$|^[a-z0-9-]{2,32}$`)
	})
)

// validate checks a complete configuration of typ. URLs must be https
// unless private targets are allowed (development and tests), and may not
// name a refused address.
func validate(typ string, v values, g netguard.Guard) []errs.FieldError {
	var out []errs.FieldError
	add := func(name, code, msg string) {
		out = append(out, errs.FieldError{Field: "config." + name, Code: code, Message: msg})
	}
	for _, f := range fields[typ] {
		if f.required && isEmpty(v[f.name]) {
			add(f.name, "required", fmt.Sprintf("config.%s is required for %s streams.", f.name, typ))
		}
	}
	checkURL := func(name string) {
		raw := v.str(name)
		if raw == "" {
			return
		}
		u, err := g.CheckURL(raw)
		switch {
		case err != nil:
			add(name, "invalid_url", fmt.Sprintf("config.%s: %v.", name, err))
		case u.Scheme != "https" && !g.AllowPrivate:
			add(name, "invalid_url", fmt.Sprintf("config.%s must be an https URL (credentials travel with each request).", name))
		case u.RawQuery != "" || u.Fragment != "":
			add(name, "invalid_url", fmt.Sprintf("config.%s may not have a query or fragment.", name))
		}
	}
	for _, name := range []string{"url", "endpoint"} {
		checkURL(name)
	}
	if p := v.str("prefix"); len(p) > 512 || strings.Contains(p, "..") || strings.Contains(p, "//") {
		add("prefix", "invalid", "config.prefix must be at most 512 characters, without \"..\" or \"//\".")
	}
	switch typ {
	case TypeGenericHTTPS:
		for name, val := range v.headers("headers") {
			switch {
			case !httpguts.ValidHeaderFieldName(name):
				add("headers", "invalid_header", fmt.Sprintf("%q is not a valid header name.", name))
			case slices.Contains(reservedHeaders, http.CanonicalHeaderKey(name)):
				add("headers", "reserved_header", fmt.Sprintf("%s is set by Gatehouse and cannot be configured.", http.CanonicalHeaderKey(name)))
			case !httpguts.ValidHeaderFieldValue(val):
				add("headers", "invalid_header", fmt.Sprintf("The value of %s contains characters not allowed in a header.", name))
			}
		}
		if len(v.headers("headers")) > 20 {
			add("headers", "invalid", "config.headers may hold at most 20 headers.")
		}
	case TypeDatadog:
		if s := v.str("site"); s != "" && !datadog.ValidSite(s) {
			add("site", "invalid", fmt.Sprintf("config.site must be one of %s.", strings.Join(datadog.Sites, ", ")))
		}
	case TypeS3:
		if b := v.str("bucket"); b != "" && !s3Bucket().MatchString(b) {
			add("bucket", "invalid", "config.bucket must be an S3 bucket name: 3–63 lowercase letters, digits, dots and hyphens.")
		}
		if r := v.str("region"); r != "" && !region().MatchString(r) {
			add("region", "invalid", "config.region must be a region name such as eu-west-1.")
		}
	case TypeGCS:
		if b := v.str("bucket"); b != "" && !gcsBucket().MatchString(b) {
			add("bucket", "invalid", "config.bucket must be a Cloud Storage bucket name: lowercase letters, digits, dots, hyphens and underscores.")
		}
		switch cj := v.str("credentials_json"); {
		case cj == "" && v.str("endpoint") == "":
			add("credentials_json", "required", "config.credentials_json (a service-account key file) is required unless a test endpoint is set.")
		case cj != "":
			if _, err := gcs.ParseCredentials([]byte(cj)); err != nil {
				add("credentials_json", "invalid", err.Error()+".")
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	}
	return false
}

// split separates the public settings from the secret ones.
func split(typ string, v values) (public, secret values) {
	public, secret = values{}, values{}
	for k, val := range v {
		if f, _ := fieldOf(typ, k); f.secret {
			secret[k] = val
		} else {
			public[k] = val
		}
	}
	return public, secret
}

// Mask shows the end of a secret: "••••abcd" for secrets of 12 or more
// characters (enough to tell keys apart), "••••" for shorter ones.
func Mask(s string) string {
	if len(s) >= 12 {
		return "••••" + s[len(s)-4:]
	}
	return "••••"
}

// masked renders a configuration for callers: secrets masked, header
// values masked, the service-account key shown only by its account.
func masked(typ string, v values) map[string]any {
	out := map[string]any{}
	for k, val := range v {
		f, _ := fieldOf(typ, k)
		switch {
		case !f.secret:
			out[k] = val
		case f.kind == kHeaders:
			h := map[string]string{}
			for name, hv := range val.(map[string]string) {
				h[name] = Mask(hv)
			}
			out[k] = h
		case k == "credentials_json":
			sa, _ := gcs.ParseCredentials([]byte(val.(string)))
			out[k] = "•••• " + sa.ClientEmail
		default:
			out[k] = Mask(val.(string))
		}
	}
	return out
}

// newSink builds the sink of a validated configuration.
func newSink(typ string, v values, client *http.Client) (delivery.Sink, error) {
	switch typ {
	case TypeGenericHTTPS:
		return https.New(https.Config{URL: v.str("url"), Headers: v.headers("headers"), Secret: v.str("secret")}, client), nil
	case TypeDatadog:
		return datadog.New(datadog.Config{APIKey: v.str("api_key"), Site: v.str("site"), Endpoint: v.str("endpoint"),
			Service: v.str("service"), Tags: v.str("tags")}, client), nil
	case TypeSplunk:
		return splunk.New(splunk.Config{URL: v.str("url"), Token: v.str("token"), Index: v.str("index"),
			Source: v.str("source"), Sourcetype: v.str("sourcetype")}, client), nil
	case TypeS3:
		return s3.New(s3.Config{Bucket: v.str("bucket"), Region: v.str("region"), Prefix: v.str("prefix"),
			AccessKeyID: v.str("access_key_id"), SecretAccessKey: v.str("secret_access_key"), Endpoint: v.str("endpoint"),
			ForcePathStyle: v.boolean("force_path_style")}, client), nil
	case TypeGCS:
		return gcs.New(gcs.Config{Bucket: v.str("bucket"), Prefix: v.str("prefix"), CredentialsJSON: v.str("credentials_json"),
			Endpoint: v.str("endpoint")}, client)
	}
	return nil, fmt.Errorf("log stream type %q has no sink", typ)
}
