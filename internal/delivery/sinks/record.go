// Package sinks holds what the log-stream sinks share: the stable JSON
// record every streamed event becomes, the catalogue of delivery failures
// (code, plain message, fix) and the HTTP plumbing that maps a
// destination's answers onto that catalogue. The sinks themselves live in
// the subpackages https, datadog, splunk, s3 and gcs.
package sinks

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
)

// SchemaVersion is the version of Record; it changes only when a field
// changes meaning or disappears (new fields may be added within a version).
const SchemaVersion = 1

// TimeFormat is RFC 3339 in UTC with milliseconds, as everywhere in the API.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Record is one streamed event, the same for every destination (docs/events.md
// "Log streams" documents it field by field).
type Record struct {
	ID             string          `json:"id"`
	Event          string          `json:"event"`
	OrganizationID *string         `json:"organization_id"`
	OccurredAt     string          `json:"occurred_at"`
	Data           json.RawMessage `json:"data"`
	Context        json.RawMessage `json:"context,omitempty"`
	Gatehouse      Meta            `json:"gatehouse"`
}

// Meta identifies the producer and the record's schema version.
type Meta struct {
	Version int `json:"version"`
}

// NewRecord renders an outbox event as a Record.
func NewRecord(e delivery.Event) Record {
	r := Record{
		ID: e.ID, Event: e.Name, OccurredAt: e.CreatedAt.UTC().Format(TimeFormat),
		Data: e.Data, Gatehouse: Meta{Version: SchemaVersion},
	}
	if e.OrganizationID != "" {
		org := e.OrganizationID
		r.OrganizationID = &org
	}
	if len(r.Data) == 0 {
		r.Data = json.RawMessage(`{}`)
	}
	if len(e.Context) > 0 && !bytes.Equal(e.Context, []byte("null")) {
		r.Context = e.Context
	}
	return r
}

// Marshal encodes v without HTML escaping (SIEMs show the text as is).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// NDJSON encodes the batch as newline-delimited JSON: one Record per line,
// each line ending in "\n".
func NDJSON(batch []delivery.Event) ([]byte, error) {
	var buf bytes.Buffer
	for _, e := range batch {
		b, err := Marshal(NewRecord(e))
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// JSONArray encodes the batch as one JSON array of Records.
func JSONArray(batch []delivery.Event) ([]byte, error) {
	recs := make([]Record, len(batch))
	for i, e := range batch {
		recs[i] = NewRecord(e)
	}
	return Marshal(recs)
}

// TestEvent is the event that "test stream" sends: a real Record whose
// event name, log_stream.test, no other event uses.
func TestEvent(id, streamID, organizationID string, now time.Time) delivery.Event {
	data, _ := json.Marshal(map[string]string{
		"log_stream_id": streamID,
		"message":       "Test event from Gatehouse: this log stream works.",
	})
	return delivery.Event{ID: id, Name: "log_stream.test", OrganizationID: organizationID, Data: data, CreatedAt: now}
}
