// Package gcs is the Google Cloud Storage log-stream sink: each batch
// becomes one NDJSON object, <prefix>/YYYY/MM/DD/<first-event-id>.ndjson,
// uploaded with the JSON API's simple upload over plain net/http (the
// netguard client), authorised by a service account's OAuth token. It does
// not use cloud.google.com/go/storage, which would pull gRPC into the
// binary.
package gcs

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
)

// DefaultEndpoint is Google's JSON API host.
const DefaultEndpoint = "https://storage.googleapis.com"

// Scope lets the token create objects (and nothing in other services).
const Scope = "https://www.googleapis.com/auth/devstorage.read_write"

// Config is a GoogleCloudStorage stream's destination.
type Config struct {
	Bucket          string
	Prefix          string // optional object-name prefix
	CredentialsJSON string // a service-account key file; may be empty with a test Endpoint
	Endpoint        string // optional, e.g. an emulator; default DefaultEndpoint
}

// ServiceAccount is the part of a key file Gatehouse checks and shows.
type ServiceAccount struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// ParseCredentials checks that b is a service-account key file that
// Gatehouse can sign token requests with.
func ParseCredentials(b []byte) (ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, errors.New("credentials_json is not JSON; paste the whole key file downloaded from IAM → Service accounts → Keys")
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return sa, errors.New(`credentials_json must be a service-account key file (with "type": "service_account", client_email and private_key)`)
	}
	if _, err := google.JWTConfigFromJSON(b, Scope); err != nil {
		return sa, errors.New("credentials_json cannot be used as a service-account key")
	}
	if !validKey(sa.PrivateKey) {
		return sa, errors.New("the private_key of credentials_json is not a PEM RSA private key; paste the key file unchanged")
	}
	return sa, nil
}

// validKey reports whether pemText holds an RSA private key, the only kind
// Google issues for service accounts.
func validKey(pemText string) bool {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return false
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		_, ok := k.(*rsa.PrivateKey)
		return ok
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}

// Sink uploads batches to a bucket.
type Sink struct {
	cfg    Config
	client *http.Client
	tokens oauth2.TokenSource // nil without credentials
	dials  *lastError         // transport errors of token requests
	target sinks.Target
}

// New returns a sink whose uploads and token requests go through client (a
// netguard client). credentials_json must have passed ParseCredentials.
func New(cfg Config, client *http.Client) (*Sink, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	s := &Sink{cfg: cfg, client: client}
	email := "the service account"
	var private string
	if cfg.CredentialsJSON != "" {
		sa, err := ParseCredentials([]byte(cfg.CredentialsJSON))
		if err != nil {
			return nil, err
		}
		email, private = sa.ClientEmail, sa.PrivateKey
		jc, _ := google.JWTConfigFromJSON([]byte(cfg.CredentialsJSON), Scope)
		// The token source keeps this context for every refresh; it only
		// carries the HTTP client, so token requests obey netguard too.
		s.dials = &lastError{rt: client.Transport}
		tc := *client
		tc.Transport = s.dials
		s.tokens = jc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, &tc))
	}
	s.target = sinks.Target{
		Name:    "the Google Cloud Storage bucket " + cfg.Bucket,
		Secrets: []string{private, cfg.CredentialsJSON},
		Fixes: map[string]string{
			sinks.Unauthorized:   "The service-account key was refused (deleted, disabled or from another project). Create a new key for " + email + " (IAM → Service accounts → Keys) and paste its JSON.",
			sinks.Forbidden:      "Grant " + email + " the Storage Object Creator role (roles/storage.objectCreator) on the bucket " + cfg.Bucket + ".",
			sinks.BucketNotFound: "Check the bucket name, or create the bucket.",
		},
	}
	return s, nil
}

// Limits bounds one object to 10,000 events and 16 MiB.
func (s *Sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: 10000, MaxBytes: 16 << 20} }

// ObjectName returns the object for a batch: the date (UTC) and ID of its
// first event, so a re-sent batch overwrites its earlier copy.
func (s *Sink) ObjectName(batch []delivery.Event) string {
	n := batch[0].CreatedAt.UTC().Format("2006/01/02") + "/" + batch[0].ID + ".ndjson"
	if s.cfg.Prefix != "" {
		n = s.cfg.Prefix + "/" + n
	}
	return n
}

// Send uploads the batch as one NDJSON object.
func (s *Sink) Send(ctx context.Context, batch []delivery.Event) error {
	body, err := sinks.NDJSON(batch)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("User-Agent", "Gatehouse-LogStream/1")
	if s.tokens != nil {
		tok, err := s.tokens.Token()
		if err != nil {
			return s.tokenFailure(ctx, err)
		}
		h.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	u := fmt.Sprintf("%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s",
		s.cfg.Endpoint, url.PathEscape(s.cfg.Bucket), url.QueryEscape(s.ObjectName(batch)))
	_, err = s.target.Post(ctx, s.client, u, h, body, s.explain)
	return err
}

// tokenFailure maps a failed token request: an OAuth error answer means
// the key was refused; anything else is the network's fault.
func (s *Sink) tokenFailure(ctx context.Context, err error) *delivery.Failure {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		detail := ""
		if re.ErrorDescription != "" {
			detail = sinks.Quote([]byte(re.ErrorCode + ": " + re.ErrorDescription))
		}
		return s.target.Fail(sinks.Unauthorized, 0, detail, err)
	}
	if dialErr := s.dials.take(); dialErr != nil {
		err = dialErr
	}
	return s.target.FromError(ctx, err)
}

// lastError is a RoundTripper that remembers the last transport error: the
// oauth2 package formats errors with %v, losing the chain that tells a DNS
// failure from a refused private address.
type lastError struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	last error
}

func (l *lastError) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := l.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(r)
	if err != nil {
		l.mu.Lock()
		l.last = err
		l.mu.Unlock()
	}
	return resp, err
}

func (l *lastError) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.last
	l.last = nil
	return err
}

// explain reads the JSON API's {"error":{"code","message"}}; a 404 on an
// upload means the bucket does not exist.
func (s *Sink) explain(status int, body []byte) *delivery.Failure {
	var ans struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	detail := sinks.Quote(body)
	if json.Unmarshal(body, &ans) == nil && ans.Error.Message != "" {
		detail = sinks.Quote([]byte(ans.Error.Message))
	}
	if status == http.StatusNotFound {
		return s.target.Fail(sinks.BucketNotFound, status, detail, nil)
	}
	return s.target.FromStatus(status, detail)
}
