package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	apiKeyKey
)

// RequestID returns the request's ID (from X-Request-ID or made here).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// APIKeyID returns the ID of the API key that authenticated the request.
func APIKeyID(ctx context.Context) string {
	s, _ := ctx.Value(apiKeyKey).(string)
	return s
}

// validRequestID reports whether a client's X-Request-ID may be echoed and
// logged: 1 to 128 of A-Z, a-z, 0-9 and "._:-". (A loop rather than a
// regexp: the bounded repetition compiled into a 118 KB program at start.)
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Metrics are the HTTP server's Prometheus collectors.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Observe wraps the whole server: request ID, panic recovery, access log and
// metrics. It sits outside the mux and reads the matched route pattern
// afterwards so metrics are labelled by route, not by raw path.
func Observe(log *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if !validRequestID(rid) {
			b := make([]byte, 12)
			rand.Read(b)
			rid = "req_" + hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", rid)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "panic", fmt.Sprint(p), "request_id", rid, "path", r.URL.Path)
				if sw.status == 0 {
					WriteError(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			if m != nil {
				m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
				m.latency.WithLabelValues(route).Observe(d.Seconds())
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "http", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Duration("duration", d), slog.String("request_id", rid),
				slog.String("client_ip", ClientIP(r)))
		}()
		if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(r.URL.RawQuery, "%00") {
			// See HasNUL: no backend can store or match it.
			WriteError(sw, r, errs.BadRequest("invalid_text", "The URL may not contain the NUL character (%00)."))
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// BearerToken returns the token of an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !bytes.EqualFold([]byte(h[:7]), []byte("bearer ")) {
		return "", false
	}
	tok := h[7:]
	return tok, tok != ""
}

// bufferWriter captures a response so it can be stored for replay.
type bufferWriter struct {
	statusWriter
	buf bytes.Buffer
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	b.buf.Write(p)
	return b.statusWriter.Write(p)
}

// Idempotent honours Idempotency-Key on POST: the first request with a key
// runs and its answer is stored; a repeat with the same body gets the same
// answer (Idempotent-Replayed: true); a repeat with another body is refused
// (422), as is one that arrives while the first still runs (409). Empty keys
// (old SDKs send them) count as absent. Reservations live in the database so
// this holds across nodes.
func Idempotent(s store.Idempotency, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			WriteError(w, r, errs.BadRequest("invalid_body", "Could not read the request body."))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.RequestURI())
		h.Write(body)
		scope := APIKeyID(r.Context()) + ":" + key
		rec := store.IdempotencyRecord{Scope: scope, RequestHash: h.Sum(nil), CreatedAt: time.Now()}
		fresh, prev, err := s.ReserveIdempotencyKey(r.Context(), rec)
		if err != nil {
			WriteError(w, r, fmt.Errorf("idempotency: %w", err))
			return
		}
		if !fresh {
			switch {
			case !bytes.Equal(prev.RequestHash, rec.RequestHash):
				WriteError(w, r, &errs.Error{Kind: errs.KindInvalid, Code: "idempotency_key_reused",
					Message: "This Idempotency-Key was already used with a different request."})
			case prev.Status == 0:
				WriteError(w, r, errs.Conflict("idempotency_key_in_progress", "A request with this Idempotency-Key is still being processed; retry later."))
			default:
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.Status)
				w.Write(prev.Body)
			}
			return
		}
		bw := &bufferWriter{statusWriter: statusWriter{ResponseWriter: w}}
		completed := false
		defer func() {
			if !completed {
				s.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), scope)
			}
		}()
		next.ServeHTTP(bw, r)
		// Server errors are not remembered: the client should be able to retry.
		if bw.status >= 500 || bw.status == 0 {
			return
		}
		if err := s.CompleteIdempotencyKey(context.WithoutCancel(r.Context()), scope, bw.status, bw.buf.Bytes()); err != nil {
			slog.ErrorContext(r.Context(), "idempotency: store response", "err", err)
			return
		}
		completed = true
	})
}
