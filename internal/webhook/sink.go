package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// SignatureHeader carries the signature of a delivery.
const SignatureHeader = "WorkOS-Signature"

// Sign returns the WorkOS-Signature value for body sent at t:
// "t=<unix ms>, v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". Exactly one
// space follows the comma: workos-go v4–v6 split the header positionally.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ", v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Payload is the body of one delivery, as WorkOS sends it.
type Payload struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
}

// maxExcerpt bounds the part of an answer kept in the delivery log.
const maxExcerpt = 512

// maxBatch is how many events one Send carries (one request each).
const maxBatch = 50

// sink delivers to one endpoint, one POST per event, and logs each
// attempt; the engine writes the log with the batch's cursor move
// (delivery.Journaler).
type sink struct {
	endpoint store.WebhookEndpoint
	secret   string
	http     *http.Client
	now      func() time.Time
	log      []store.WebhookDelivery // attempts not yet taken by the engine
}

func (s *sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: maxBatch} }

// Send posts each event in order and stops at the first failure, telling
// the engine how many were accepted before it. It starts a request only
// while the batch has time left for the request's whole timeout, so that
// an endpoint that answers slowly but within that timeout never sees a
// request cut short: it stops instead and the engine sends the rest next.
func (s *sink) Send(ctx context.Context, batch []delivery.Event) error {
	for i, ev := range batch {
		if dl, ok := ctx.Deadline(); ok && i > 0 && s.http.Timeout > 0 && time.Until(dl) < s.http.Timeout {
			return &delivery.Stopped{Delivered: i}
		}
		d, f := s.post(ctx, ev)
		s.log = append(s.log, d)
		if f != nil {
			f.Delivered = i
			return f
		}
	}
	return nil
}

// TakeJournal hands the logged attempts to the engine to write.
func (s *sink) TakeJournal() func(ctx context.Context, q store.Queries) error {
	if len(s.log) == 0 {
		return nil
	}
	ds := s.log
	s.log = nil
	return func(ctx context.Context, q store.Queries) error { return q.AddWebhookDeliveries(ctx, ds) }
}

func (s *sink) post(ctx context.Context, ev delivery.Event) (store.WebhookDelivery, *delivery.Failure) {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	body, _ := json.Marshal(Payload{ID: ev.ID, Event: ev.Name, Data: data, CreatedAt: wire.Time(ev.CreatedAt)})
	body = jsStringify(body)
	start := s.now()
	d := store.WebhookDelivery{ID: id.New("webhook_delivery"), EndpointID: s.endpoint.ID, EventID: ev.ID, EventName: ev.Name, AttemptedAt: start}
	f := s.do(ctx, body, start, &d)
	d.LatencyMS = s.now().Sub(start).Milliseconds()
	if f != nil {
		d.ErrorCode, d.Message = f.Code, f.Message
	} else {
		d.Success = true
	}
	return d, f
}

func (s *sink) do(ctx context.Context, body []byte, at time.Time, d *store.WebhookDelivery) *delivery.Failure {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return &delivery.Failure{Code: "invalid_url", Message: "The endpoint URL cannot be used: " + err.Error(),
			Fix: "Correct the endpoint URL.", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
	req.Header.Set(SignatureHeader, Sign(s.secret, at, body))
	res, err := s.http.Do(req)
	if err != nil {
		return transportFailure(err)
	}
	defer res.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, maxExcerpt))
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
	d.Status, d.Response = res.StatusCode, clean(excerpt)
	return statusFailure(res.StatusCode)
}

// clean makes a response excerpt storable and showable: valid UTF-8, no NUL.
func clean(b []byte) string {
	// A multi-byte character cut by the limit, or binary: keep what is valid.
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "")
}

// statusFailure describes a non-2xx answer, or nil for 2xx.
func statusFailure(status int) *delivery.Failure {
	f := &delivery.Failure{Status: status}
	switch {
	case status >= 200 && status < 300:
		return nil
	case status >= 300 && status < 400:
		f.Code, f.Message, f.Fix = "redirect", fmt.Sprintf("The endpoint answered %d (a redirect); redirects are not followed.", status),
			"Register the final URL of the endpoint."
	case status == 401 || status == 403:
		f.Code, f.Message, f.Fix = "unauthorized", fmt.Sprintf("The endpoint refused the request (%d).", status),
			"Let requests signed with the endpoint's secret through (check the endpoint's auth middleware)."
	case status == 404 || status == 410:
		f.Code, f.Message, f.Fix = "not_found", fmt.Sprintf("The endpoint URL does not exist (%d).", status),
			"Correct the endpoint URL, or deploy the route that receives webhooks."
	case status == 413:
		f.Code, f.Message, f.Fix = "payload_too_large", "The endpoint refused the event as too large (413).",
			"Raise the request size limit of the endpoint."
	case status == 429:
		f.Code, f.Message, f.Fix, f.Retryable = "rate_limited", "The endpoint asked to slow down (429).",
			"Raise the endpoint's rate limit for webhooks; delivery is retried with backoff.", true
	case status >= 500:
		f.Code, f.Message, f.Fix, f.Retryable = "server_error", fmt.Sprintf("The endpoint failed (%d).", status),
			"Check the endpoint's logs; delivery is retried with backoff.", true
	default:
		f.Code, f.Message, f.Fix = "rejected", fmt.Sprintf("The endpoint rejected the event (%d).", status),
			"Answer 2xx to every event, including types the endpoint ignores."
	}
	return f
}

// transportFailure describes an error before any answer.
func transportFailure(err error) *delivery.Failure {
	f := &delivery.Failure{Err: err, Retryable: true}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, netguard.ErrForbiddenTarget):
		f.Code, f.Message, f.Fix, f.Retryable = "forbidden_target", "The endpoint resolves to a private, loopback or link-local address, which webhooks may not reach.",
			"Use a public address (or, for development, set GATEHOUSE_ALLOW_PRIVATE_TARGETS=true).", false
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		f.Code, f.Message, f.Fix = "timeout", "The endpoint did not answer in time.",
			"Answer quickly (queue the work and reply 200 at once)."
	case errors.As(err, &certErr) || errors.As(err, &recErr) || strings.Contains(err.Error(), "tls:"):
		f.Code, f.Message, f.Fix = "tls_error", "The TLS connection to the endpoint failed: "+err.Error(),
			"Serve a valid certificate for the endpoint's host name, from a public CA."
	default:
		f.Code, f.Message, f.Fix = "connection_failed", "Could not connect to the endpoint: "+err.Error(),
			"Check that the host name resolves and the endpoint is reachable from Gatehouse."
	}
	return f
}
