// Package splunk is the Splunk log-stream sink: batches go to the HTTP
// Event Collector (POST <url>/services/collector/event) as concatenated
// event objects, with "Authorization: Splunk <token>".
package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
)

// Config is a Splunk stream's destination.
type Config struct {
	URL        string // HEC base, e.g. https://splunk.example.com:8088
	Token      string
	Index      string // optional; the token's default index when empty
	Source     string // optional; default "gatehouse"
	Sourcetype string // optional; default "_json"
}

// CollectorURL returns the HEC event endpoint.
func (c Config) CollectorURL() string {
	base := strings.TrimSuffix(c.URL, "/")
	if strings.HasSuffix(base, "/services/collector/event") {
		return base
	}
	return base + "/services/collector/event"
}

// Sink posts batches to a Splunk HEC.
type Sink struct {
	cfg    Config
	client *http.Client
	target sinks.Target
}

// New returns a sink that sends through client (a netguard client).
func New(cfg Config, client *http.Client) *Sink {
	if cfg.Source == "" {
		cfg.Source = "gatehouse"
	}
	if cfg.Sourcetype == "" {
		cfg.Sourcetype = "_json"
	}
	tokenFix := "Check the HEC token (Splunk → Settings → Data inputs → HTTP Event Collector), paste it again and send a test event."
	return &Sink{cfg: cfg, client: client, target: sinks.Target{
		Name:    "Splunk HEC",
		Secrets: []string{cfg.Token},
		Fixes: map[string]string{
			sinks.Unauthorized: tokenFix,
			sinks.Forbidden:    "Enable the HEC token in Splunk (Settings → Data inputs → HTTP Event Collector), or create a new one.",
			sinks.NotFound:     "Check the HEC URL: it is the collector's base address, such as https://splunk.example.com:8088, and HEC must be enabled (Global Settings → All Tokens: Enabled).",
			sinks.Rejected:     "Check the index, source and sourcetype: the token must be allowed to write to the index. Splunk's answer is quoted.",
			sinks.ServerError:  "Splunk HEC is busy or unhealthy; Gatehouse retries with backoff. If it persists, check the indexers' health.",
		},
	}}
}

// Limits keeps requests under HEC's smallest default max_content_length
// (1 MB on older releases).
func (s *Sink) Limits() delivery.Limits { return delivery.Limits{MaxEvents: 500, MaxBytes: 1_000_000} }

// hecEvent is HEC's event envelope.
type hecEvent struct {
	Time       float64      `json:"time"` // epoch seconds, with milliseconds
	Source     string       `json:"source"`
	Sourcetype string       `json:"sourcetype"`
	Index      string       `json:"index,omitempty"`
	Event      sinks.Record `json:"event"`
}

// Send posts the batch as HEC events, one JSON object after another.
func (s *Sink) Send(ctx context.Context, batch []delivery.Event) error {
	var buf bytes.Buffer
	for _, e := range batch {
		b, err := sinks.Marshal(hecEvent{
			Time: float64(e.CreatedAt.UnixMilli()) / 1000, Source: s.cfg.Source, Sourcetype: s.cfg.Sourcetype,
			Index: s.cfg.Index, Event: sinks.NewRecord(e),
		})
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	h := http.Header{}
	h.Set("Authorization", "Splunk "+s.cfg.Token)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Gatehouse-LogStream/1")
	_, err := s.target.Post(ctx, s.client, s.cfg.CollectorURL(), h, buf.Bytes(), s.explain)
	return err
}

// explain maps HEC's {"text","code"} answers: 2 token required and 3
// invalid authorization (401), 4 invalid token (403), 1 token disabled
// (403), 7 incorrect index (400), 9 server busy (503).
func (s *Sink) explain(status int, body []byte) *delivery.Failure {
	var ans struct {
		Text string `json:"text"`
		Code *int   `json:"code"`
	}
	if json.Unmarshal(body, &ans) != nil || ans.Code == nil {
		return nil
	}
	detail := sinks.Quote([]byte(ans.Text))
	switch *ans.Code {
	case 2, 3, 4:
		return s.target.Fail(sinks.Unauthorized, status, detail, nil)
	case 1:
		return s.target.Fail(sinks.Forbidden, status, detail, nil)
	}
	return s.target.FromStatus(status, detail)
}
