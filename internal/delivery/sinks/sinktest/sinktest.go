// Package sinktest gives sink tests sample events, a netguard client that
// may reach the loopback fakes, and checks on the failures sinks return.
package sinktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/delivery"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks"
	"github.com/gatehouse-dev/gatehouse/internal/netguard"
)

// Client is a netguard client that allows loopback targets (the in-process
// fakes), as GATEHOUSE_ALLOW_PRIVATE_TARGETS=true does.
func Client() *http.Client { return netguard.Guard{AllowPrivate: true}.Client(10 * time.Second) }

// StrictClient is a netguard client with the production rules: loopback is
// refused.
func StrictClient() *http.Client { return netguard.Guard{}.Client(10 * time.Second) }

// Events returns n authentication events of one organization, one second
// apart from 2026-03-04T05:06:07Z, with increasing Seq and IDs.
func Events(n int) []delivery.Event {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	out := make([]delivery.Event, n)
	for i := range out {
		data, _ := json.Marshal(map[string]any{
			"type": "sso", "status": "succeeded", "email": fmt.Sprintf("user%d@example.com", i),
			"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 <test>",
			"sso": map[string]any{"organization_id": "org_01TEST", "connection_id": "conn_01TEST"},
		})
		out[i] = delivery.Event{
			Seq: int64(i + 1), ID: fmt.Sprintf("event_%04d", i), Name: "authentication.sso_succeeded",
			OrganizationID: "org_01TEST", Data: data, CreatedAt: base.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// DecodeRecords checks that lines is NDJSON of Records and returns them.
func DecodeRecords(t testing.TB, ndjson []byte) []sinks.Record {
	t.Helper()
	var out []sinks.Record
	for i, line := range strings.Split(strings.TrimSuffix(string(ndjson), "\n"), "\n") {
		var r sinks.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d is not a record: %v: %q", i+1, err, line)
		}
		out = append(out, r)
	}
	return out
}

// CheckRecords checks that recs are the records of evs, in order.
func CheckRecords(t testing.TB, recs []sinks.Record, evs []delivery.Event) {
	t.Helper()
	if len(recs) != len(evs) {
		t.Fatalf("got %d records, want %d", len(recs), len(evs))
	}
	for i, r := range recs {
		e := evs[i]
		if r.ID != e.ID || r.Event != e.Name || r.OrganizationID == nil || *r.OrganizationID != e.OrganizationID ||
			r.OccurredAt != e.CreatedAt.UTC().Format(sinks.TimeFormat) || r.Gatehouse.Version != 1 {
			t.Fatalf("record %d = %+v, want event %+v", i, r, e)
		}
		var got, want any
		json.Unmarshal(r.Data, &got)
		json.Unmarshal(e.Data, &want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("record %d data = %s, want %s", i, r.Data, e.Data)
		}
	}
}

// CheckFailure checks that err is a *delivery.Failure with the given code
// and retryability, a message and a fix, and none of the secrets in what a
// caller sees.
func CheckFailure(t testing.TB, err error, code string, retryable bool, secrets ...string) *delivery.Failure {
	t.Helper()
	f, ok := sinks.AsFailure(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *delivery.Failure", err, err)
	}
	if f.Code != code || f.Retryable != retryable {
		t.Fatalf("failure %q retryable=%v (%s), want %q retryable=%v", f.Code, f.Retryable, f.Message, code, retryable)
	}
	if f.Message == "" || f.Fix == "" {
		t.Fatalf("failure %q lacks a message or fix: %+v", f.Code, f)
	}
	for _, s := range secrets {
		if strings.Contains(f.Message, s) || strings.Contains(f.Fix, s) || strings.Contains(f.Error(), s) {
			t.Fatalf("failure %q shows the secret %q: %s / %s", f.Code, s, f.Message, f.Fix)
		}
	}
	return f
}
