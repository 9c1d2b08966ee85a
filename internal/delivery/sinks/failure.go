package sinks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
)

// The failure codes every sink reports. They are stable: the API, the
// portal and docs/events.md use them.
const (
	Unauthorized      = "unauthorized"
	Forbidden         = "forbidden"
	NotFound          = "not_found"
	BucketNotFound    = "bucket_not_found"
	PayloadTooLarge   = "payload_too_large"
	RateLimited       = "rate_limited"
	ServerError       = "server_error"
	Rejected          = "rejected"
	TLSError          = "tls_error"
	DNSError          = "dns_error"
	ConnectionRefused = "connection_refused"
	Timeout           = "timeout"
	ForbiddenTarget   = "forbidden_target"
	NetworkError      = "network_error"
	InvalidConfig     = "invalid_config"
)

// Reason is a code's default wording. Message may contain %s, replaced by
// the destination's name ("Datadog", "the S3 bucket"); sinks may give a
// more specific Fix for their destination.
type Reason struct {
	Message   string
	Fix       string
	Retryable bool
}

// Catalogue holds every code's reason. A test keeps it, the constants and
// docs/events.md in step.
var Catalogue = map[string]Reason{
	Unauthorized: {"%s refused the credentials (wrong or revoked key or token).",
		"Check the key or token in the log stream's configuration, paste it again, and send a test event.", false},
	Forbidden: {"%s accepted the credentials but does not allow this write.",
		"Give the key, token or account permission to write to this destination, then send a test event.", false},
	NotFound: {"%s answered 404 Not Found: the address does not exist.",
		"Check the URL in the log stream's configuration.", false},
	BucketNotFound: {"%s does not exist.",
		"Check the bucket name (and region or endpoint), or create the bucket.", false},
	PayloadTooLarge: {"%s refused the batch as too large (413).",
		"Raise the destination's request size limit; Gatehouse keeps its batches within each destination's documented limits.", false},
	RateLimited: {"%s is rate limiting Gatehouse (429).",
		"Nothing to do if it is brief: Gatehouse retries with backoff. If it persists, raise the destination's rate limit or quota.", true},
	ServerError: {"%s had an internal error (5xx).",
		"Gatehouse retries with backoff. If it persists, check the destination's health.", true},
	Rejected: {"%s rejected the request.",
		"Check the log stream's configuration against the destination's settings; the destination's answer is quoted.", false},
	TLSError: {"The TLS connection to %s failed (untrusted, expired or mismatched certificate).",
		"Give the destination a certificate from a public CA that matches its host name and has not expired.", true},
	DNSError: {"The host name of %s could not be resolved.",
		"Check the host name in the log stream's configuration and that it resolves in public DNS.", true},
	ConnectionRefused: {"%s refused the connection.",
		"Check the host and port, and that the service is running and reachable from Gatehouse.", true},
	Timeout: {"%s did not answer in time.",
		"Check that the destination is reachable from Gatehouse and not overloaded; Gatehouse retries with backoff.", true},
	ForbiddenTarget: {"%s is on a loopback, link-local or private address, which Gatehouse does not call.",
		"Use a public address, or (on a private network you trust) set GATEHOUSE_ALLOW_PRIVATE_TARGETS=true.", false},
	NetworkError: {"The connection to %s failed.",
		"Check that the destination is reachable from Gatehouse; Gatehouse retries with backoff.", true},
	InvalidConfig: {"The configuration for %s cannot be used.",
		"Correct the log stream's configuration (see the message) and send a test event.", false},
}

// Target names a destination in failure messages and carries the fixes
// specific to it.
type Target struct {
	Name    string            // e.g. "Datadog", "Splunk HEC", "the S3 bucket"
	Fixes   map[string]string // code → a fix worded for this destination
	Secrets []string          // values never to appear in a message
}

// Fail builds the Failure for code. detail, if not empty, is appended to
// the message (destination answers are quoted this way) with secrets
// redacted.
func (t Target) Fail(code string, status int, detail string, err error) *delivery.Failure {
	r, ok := Catalogue[code]
	if !ok {
		r = Catalogue[Rejected]
	}
	msg := r.Message
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, t.Name)
	}
	if status != 0 {
		msg = strings.TrimSuffix(msg, ".") + fmt.Sprintf(" (HTTP %d).", status)
	}
	if detail = t.Redact(detail); detail != "" {
		msg += " " + detail
	}
	fix := r.Fix
	if f, ok := t.Fixes[code]; ok {
		fix = f
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	return &delivery.Failure{Code: code, Message: msg, Fix: fix, Status: status, Retryable: r.Retryable, Err: err}
}

// Redact replaces every secret in s with "[redacted]".
func (t Target) Redact(s string) string {
	for _, sec := range t.Secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// FromStatus maps a non-2xx HTTP status to a Failure; detail is the
// destination's own words about it (may be empty).
func (t Target) FromStatus(status int, detail string) *delivery.Failure {
	code := Rejected
	switch {
	case status == http.StatusUnauthorized:
		code = Unauthorized
	case status == http.StatusForbidden:
		code = Forbidden
	case status == http.StatusNotFound:
		code = NotFound
	case status == http.StatusRequestEntityTooLarge:
		code = PayloadTooLarge
	case status == http.StatusTooManyRequests:
		code = RateLimited
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		code = Timeout
	case status >= 500:
		code = ServerError
	}
	return t.Fail(code, status, detail, fmt.Errorf("HTTP %d", status))
}

// FromError maps a transport error (DNS, TLS, refused, timeout, netguard)
// to a Failure. The error's own text is kept for logs only: it may hold
// URLs with credentials in them.
func (t Target) FromError(ctx context.Context, err error) *delivery.Failure {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var alert tls.AlertError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, netguard.ErrForbiddenTarget):
		return t.Fail(ForbiddenTarget, 0, "", err)
	case errors.As(err, &dnsErr):
		return t.Fail(DNSError, 0, "", err)
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &alert), errors.As(err, &recordErr):
		return t.Fail(TLSError, 0, "", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return t.Fail(ConnectionRefused, 0, "", err)
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() == context.DeadlineExceeded,
		errors.As(err, &netErr) && netErr.Timeout():
		return t.Fail(Timeout, 0, "", err)
	}
	return t.Fail(NetworkError, 0, "", err)
}

// AsFailure returns err as a *delivery.Failure if it is one.
func AsFailure(err error) (*delivery.Failure, bool) {
	var f *delivery.Failure
	ok := errors.As(err, &f)
	return f, ok
}
