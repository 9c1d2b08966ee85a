// Package datadog is the Datadog log-stream sink: batches go to the logs
// intake v2 API (POST /api/v2/logs) gzip-compressed, with the DD-API-KEY
// header, at most 1,000 entries and 5 MB (uncompressed) per request.
package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
)

// Datadog's documented intake limits.
const (
	MaxEntries = 1000
	MaxPayload = 5_000_000 // bytes, before compression
)

// Sites are the Datadog sites, by the domain their UI lives on.
var Sites = []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com"}

// Config is a Datadog stream's destination.
type Config struct {
	APIKey   string
	Site     string // one of Sites; default datadoghq.com
	Endpoint string // optional base URL replacing https://http-intake.logs.<site>
	Service  string // default "gatehouse"
	Tags     string // ddtags, comma-separated key:value pairs
}

// IntakeURL returns where logs are posted.
func (c Config) IntakeURL() string {
	base := c.Endpoint
	if base == "" {
		site := c.Site
		if site == "" {
			site = "datadoghq.com"
		}
		base = "https://http-intake.logs." + site
	}
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, "/api/v2/logs") {
		return base
	}
	return base + "/api/v2/logs"
}

// ValidSite reports whether site is a Datadog site.
func ValidSite(site string) bool { return slices.Contains(Sites, site) }

// Sink posts batches to Datadog.
type Sink struct {
	cfg    Config
	client *http.Client
	target sinks.Target
}

// New returns a sink that sends through client (a netguard client).
func New(cfg Config, client *http.Client) *Sink {
	if cfg.Service == "" {
		cfg.Service = "gatehouse"
	}
	keyFix := "Check the API key (Datadog → Organization Settings → API Keys; an application key does not work) and that the site matches your Datadog account, then send a test event."
	return &Sink{cfg: cfg, client: client, target: sinks.Target{
		Name:    "Datadog",
		Secrets: []string{cfg.APIKey},
		Fixes: map[string]string{
			sinks.Unauthorized:    keyFix,
			sinks.PayloadTooLarge: "Datadog accepts at most 5 MB per request; report this, since Gatehouse keeps batches smaller.",
			sinks.Rejected:        "Check the service and tags in the log stream's configuration; Datadog's answer is quoted.",
		},
	}}
}

// Limits is Datadog's: 1,000 entries and 5 MB per request.
func (s *Sink) Limits() delivery.Limits {
	return delivery.Limits{MaxEvents: MaxEntries, MaxBytes: MaxPayload}
}

// entry is one Datadog log: the record's fields as attributes, plus
// Datadog's reserved attributes.
type entry struct {
	DDSource  string `json:"ddsource"`
	Service   string `json:"service"`
	DDTags    string `json:"ddtags,omitempty"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"` // Unix ms; Datadog's official date attribute
	sinks.Record
}

// Send posts the batch, split into requests within Datadog's limits.
func (s *Sink) Send(ctx context.Context, batch []delivery.Event) error {
	var chunk [][]byte
	size := 2
	for _, e := range batch {
		b, err := sinks.Marshal(entry{
			DDSource: "gatehouse", Service: s.cfg.Service, DDTags: s.cfg.Tags,
			Message: e.Name + " " + e.ID, Timestamp: e.CreatedAt.UnixMilli(), Record: sinks.NewRecord(e),
		})
		if err != nil {
			return err
		}
		if len(chunk) > 0 && (len(chunk) == MaxEntries || size+1+len(b) > MaxPayload) {
			if err := s.post(ctx, chunk); err != nil {
				return err
			}
			chunk, size = nil, 2
		}
		chunk = append(chunk, b)
		size += len(b) + 1
	}
	return s.post(ctx, chunk)
}

func (s *Sink) post(ctx context.Context, entries [][]byte) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("["))
	zw.Write(bytes.Join(entries, []byte(",")))
	zw.Write([]byte("]"))
	if err := zw.Close(); err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Encoding", "gzip")
	h.Set("DD-API-KEY", s.cfg.APIKey)
	h.Set("User-Agent", "Gatehouse-LogStream/1")
	_, err := s.target.Post(ctx, s.client, s.cfg.IntakeURL(), h, buf.Bytes(), s.explain)
	return err
}

// explain reads Datadog's error answer, {"errors":["…"]}. Datadog answers
// an unknown API key with 403, so 403 means a wrong key here.
func (s *Sink) explain(status int, body []byte) *delivery.Failure {
	detail := sinks.Quote(body)
	var ans struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &ans) == nil && len(ans.Errors) > 0 {
		var parts []string
		for _, e := range ans.Errors {
			var str string
			if json.Unmarshal(e, &str) == nil {
				parts = append(parts, str)
			} else {
				parts = append(parts, string(e))
			}
		}
		detail = sinks.Quote([]byte(strings.Join(parts, "; ")))
	}
	if status == http.StatusForbidden || status == http.StatusUnauthorized {
		return s.target.Fail(sinks.Unauthorized, status, detail, nil)
	}
	return s.target.FromStatus(status, detail)
}
