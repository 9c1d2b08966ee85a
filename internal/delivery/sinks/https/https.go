// Package https is the GenericHttps log-stream sink: it POSTs each batch
// as a JSON array of records to a URL, with the admin's headers and, when a
// secret is set, a Gatehouse-Signature header computed like webhooks'.
package https

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
)

// SignatureHeader carries the HMAC of a signed delivery.
const SignatureHeader = "Gatehouse-Signature"

// Config is a GenericHttps stream's destination.
type Config struct {
	URL     string
	Headers map[string]string // sent with every request
	Secret  string            // optional: sign each request
}

// Sink posts batches to Config.URL.
type Sink struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	target sinks.Target
}

// New returns a sink that sends through client (a netguard client).
func New(cfg Config, client *http.Client) *Sink {
	secrets := []string{cfg.Secret}
	for _, v := range cfg.Headers {
		secrets = append(secrets, v)
	}
	return &Sink{cfg: cfg, client: client, now: time.Now, target: sinks.Target{
		Name:    "the HTTPS endpoint",
		Secrets: secrets,
		Fixes: map[string]string{
			sinks.Unauthorized: "Check the authentication header (for example Authorization) in the log stream's headers, and that the endpoint expects it.",
			sinks.Forbidden:    "Allow Gatehouse to post to this endpoint (credentials, IP allowlist), then send a test event.",
		},
	}}
}

// Limits allows 500 events and 1 MiB per request, which common HTTP
// collectors accept by default.
func (s *Sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: 500, MaxBytes: 1 << 20} }

// Send posts the batch as one JSON array; any 2xx answer is success.
func (s *Sink) Send(ctx context.Context, batch []delivery.Event) error {
	body, err := sinks.JSONArray(batch)
	if err != nil {
		return err
	}
	h := http.Header{}
	for k, v := range s.cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Gatehouse-LogStream/1")
	if s.cfg.Secret != "" {
		h.Set(SignatureHeader, Sign(s.cfg.Secret, s.now(), body))
	}
	_, err = s.target.Post(ctx, s.client, s.cfg.URL, h, body, nil)
	return err
}

// Sign returns the Gatehouse-Signature value for body sent at t:
// "t=<unix ms>, v1=<hex HMAC-SHA256(secret, t + "." + body)>", the format
// of WorkOS webhook signatures.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ", v1=" + hex.EncodeToString(mac.Sum(nil))
}
