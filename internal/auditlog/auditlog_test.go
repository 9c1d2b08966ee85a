package auditlog_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	v6audit "github.com/workos/workos-go/v6/pkg/auditlogs"
	"github.com/workos/workos-go/v7"
)

var ctx = context.Background()

func sdk(srv *apptest.Server) *workos.Client {
	return workos.NewClient(apptest.APIKey, workos.WithBaseURL(srv.URL), workos.WithMaxRetries(0))
}

func newOrg(t *testing.T, c *workos.Client) string {
	t.Helper()
	o, err := c.Organizations().Create(ctx, &workos.OrganizationsCreateParams{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func strp(s string) *string { return &s }

// waitExport polls until the export leaves pending (the worker builds it).
func waitExport(t *testing.T, c *workos.Client, id string) *workos.AuditLogExportJSON {
	t.Helper()
	for range 200 {
		x, err := c.AuditLogs().GetExport(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.State != "pending" {
			return x
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("export still pending after 10 s")
	return nil
}

func download(t *testing.T, u string) [][]string {
	t.Helper()
	res, err := http.Get(u) // no API key: the link is signed
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("download: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestAuditLogsThroughSDKs(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			srv := apptest.Start(t, b.Name)
			c := sdk(srv)
			org := newOrg(t, c)
			other := newOrg(t, c)
			at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)

			// A schema: documents need a "document" target with a string title.
			sc, err := c.AuditLogs().CreateSchema(ctx, "document.deleted", &workos.AuditLogsCreateSchemaParams{
				Targets: []*workos.AuditLogSchemaTarget{{Type: "document", Metadata: map[string]any{
					"type": "object", "properties": map[string]any{"title": map[string]any{"type": "string"}}, "required": []string{"title"},
				}}},
			})
			if err != nil || sc.Version != 1 || sc.Object != "audit_log_schema" {
				t.Fatalf("create schema: %+v, %v", sc, err)
			}
			acts := c.AuditLogs().ListActions(ctx, &workos.AuditLogsListActionsParams{})
			var names []string
			for acts.Next() {
				names = append(names, acts.Current().Name)
			}
			if acts.Err() != nil || len(names) != 1 || names[0] != "document.deleted" {
				t.Fatalf("actions: %v %v", names, acts.Err())
			}

			// v7: an event that fits the schema, and one with no schema at all.
			ev := &workos.AuditLogEvent{Action: "document.deleted", OccurredAt: at.Format(time.RFC3339Nano),
				Actor:   &workos.AuditLogEventActor{ID: "user_1", Type: "user", Name: strp("Ann")},
				Targets: []*workos.AuditLogEventTarget{{ID: "doc_1", Type: "document", Metadata: map[string]any{"title": "Q3 plan"}}},
				Context: &workos.AuditLogEventContext{Location: "203.0.113.7", UserAgent: strp("Firefox")}, Metadata: map[string]any{"reason": "cleanup"}}
			res, err := c.AuditLogs().CreateEvent(ctx, &workos.AuditLogsCreateEventParams{OrganizationID: org, Event: ev})
			if err != nil || !res.Success {
				t.Fatalf("create event: %+v %v", res, err)
			}
			// The same Idempotency-Key twice records one event.
			key := workos.WithIdempotencyKey("audit-once")
			for range 2 {
				if _, err := c.AuditLogs().CreateEvent(ctx, &workos.AuditLogsCreateEventParams{OrganizationID: org, Event: &workos.AuditLogEvent{
					Action: "user.signed_in", OccurredAt: at.Add(time.Minute).Format(time.RFC3339),
					Actor: &workos.AuditLogEventActor{ID: "user_2", Type: "user", Name: strp("Bo")}, Targets: []*workos.AuditLogEventTarget{},
					Context: &workos.AuditLogEventContext{Location: "198.51.100.1"}}}, key); err != nil {
					t.Fatal(err)
				}
			}
			// v6's per-package client, which names its endpoints in full.
			v6 := &v6audit.Client{APIKey: apptest.APIKey, EventsEndpoint: srv.URL + "/audit_logs/events", ExportsEndpoint: srv.URL + "/audit_logs/exports", HTTPClient: http.DefaultClient}
			if err := v6.CreateEvent(ctx, v6audit.CreateEventOpts{OrganizationID: org, Event: v6audit.Event{
				Action: "team.created", OccurredAt: at.Add(2 * time.Minute), Actor: v6audit.Actor{ID: "user_1", Type: "user", Name: "Ann"},
				Targets: []v6audit.Target{{ID: "team_1", Type: "team"}}, Context: v6audit.Context{Location: "203.0.113.7"}}}); err != nil {
				t.Fatalf("v6 create event: %v", err)
			}
			// Another organization's event never shows in this export.
			if _, err := c.AuditLogs().CreateEvent(ctx, &workos.AuditLogsCreateEventParams{OrganizationID: other, Event: &workos.AuditLogEvent{
				Action: "team.created", OccurredAt: at.Format(time.RFC3339), Actor: &workos.AuditLogEventActor{ID: "x", Type: "user"},
				Targets: []*workos.AuditLogEventTarget{}, Context: &workos.AuditLogEventContext{Location: "1.1.1.1"}}}); err != nil {
				t.Fatal(err)
			}
			// Gatehouse's own sign-in events belong to the audit log too.
			if err := srv.Store.InTx(ctx, func(q store.Queries) error {
				return events.Append(ctx, q, "authentication.sso_failed", org, map[string]any{
					"type": "sso", "status": "failed", "ip_address": "192.0.2.5", "user_agent": "Chrome", "user_id": nil, "email": nil,
					"sso":   map[string]any{"organization_id": org, "connection_id": "conn_1", "session_id": nil},
					"error": map[string]any{"code": "signature_invalid", "message": "The signature does not verify."}})
			}); err != nil {
				t.Fatal(err)
			}

			x, err := c.AuditLogs().CreateExport(ctx, &workos.AuditLogsCreateExportParams{OrganizationID: org,
				RangeStart: at.Add(-time.Minute).Format(time.RFC3339), RangeEnd: time.Now().Add(time.Minute).UTC().Format(time.RFC3339)})
			if err != nil || x.State != "pending" || x.URL != nil {
				t.Fatalf("create export: %+v %v", x, err)
			}
			x = waitExport(t, c, x.ID)
			if x.State != "ready" || x.URL == nil {
				t.Fatalf("export: %+v", x)
			}
			rows := download(t, *x.URL)
			if len(rows) != 5 { // header + 3 host events + 1 sign-in
				t.Fatalf("export rows: %d\n%v", len(rows), rows)
			}
			if rows[1][2] != "document.deleted" || rows[1][6] != "Ann" || !strings.Contains(rows[1][8], `"title":"Q3 plan"`) ||
				rows[1][9] != "203.0.113.7" || rows[1][10] != "Firefox" || rows[1][3] != "1" {
				t.Errorf("first row: %v", rows[1])
			}
			if rows[2][2] != "user.signed_in" || rows[3][2] != "team.created" {
				t.Errorf("order: %v / %v", rows[2], rows[3])
			}
			if rows[4][2] != "authentication.sso_failed" || rows[4][9] != "192.0.2.5" || !strings.Contains(rows[4][11], "signature_invalid") {
				t.Errorf("sign-in row: %v", rows[4])
			}

			// Filters: actor names (v6 export), actions.
			v6x, err := v6.CreateExport(ctx, v6audit.CreateExportOpts{OrganizationID: org, RangeStart: at.Add(-time.Minute).Format(time.RFC3339),
				RangeEnd: time.Now().Add(time.Minute).UTC().Format(time.RFC3339), ActorNames: []string{"Ann"}})
			if err != nil {
				t.Fatalf("v6 export: %v", err)
			}
			x = waitExport(t, c, v6x.ID)
			if rows := download(t, *x.URL); len(rows) != 3 {
				t.Errorf("actor_names=[Ann]: %d rows, want header + 2", len(rows))
			}
			if got, err := v6.GetExport(ctx, v6audit.GetExportOpts{ExportID: v6x.ID}); err != nil || got.URL == "" {
				t.Errorf("v6 get export: %+v %v", got, err)
			}

			// Retention, as WorkOS offers it.
			ret, err := c.AuditLogs().UpdateOrganizationAuditLogsRetention(ctx, org, &workos.AuditLogsUpdateOrganizationAuditLogsRetentionParams{RetentionPeriodInDays: 30})
			if err != nil || *ret.RetentionPeriodInDays != 30 {
				t.Fatalf("set retention: %v", err)
			}
			if _, err := c.AuditLogs().UpdateOrganizationAuditLogsRetention(ctx, org, &workos.AuditLogsUpdateOrganizationAuditLogsRetentionParams{RetentionPeriodInDays: 90}); err == nil {
				t.Error("retention of 90 days accepted; WorkOS offers 30 or 365")
			}
			res2 := srv.Do(t, "GET", "/organizations/"+org+"/audit_log_configuration", nil)
			var cfg map[string]any
			json.NewDecoder(res2.Body).Decode(&cfg)
			res2.Body.Close()
			if cfg["retention_period_in_days"] != float64(30) || cfg["state"] != "active" {
				t.Errorf("configuration: %v", cfg)
			}
		})
	}
}

func TestCreateEventRefusesBadInput(t *testing.T) {
	srv := apptest.Start(t, "sqlite")
	c := sdk(srv)
	org := newOrg(t, c)
	post := func(body string) (int, map[string]any) {
		res := srv.Do(t, "POST", "/audit_logs/events", strings.NewReader(body))
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if code, _ := post(`{"organization_id":"` + org + `","event":{"action":"doc.viewed","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":[{"id":"d","type":"doc"}],"context":{"location":"1.2.3.4"}}}`); code != 200 {
		t.Fatalf("valid event answered %d", code)
	}
	_, err := c.AuditLogs().CreateSchema(ctx, "doc.viewed", &workos.AuditLogsCreateSchemaParams{
		Targets:  []*workos.AuditLogSchemaTarget{{Type: "doc"}},
		Metadata: map[string]any{"type": "object", "properties": map[string]any{"pages": map[string]any{"type": "integer"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	valid := `"occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":[{"id":"d","type":"doc"}],"context":{"location":"1.2.3.4"}`
	long := strings.Repeat("x", 501)
	tests := []struct {
		name   string
		body   string
		status int
		path   string // the instancePath (or field) the answer must name
	}{
		{"missing organization", `{"event":{"action":"a",` + valid + `}}`, 422, "organization_id"},
		{"unknown organization", `{"organization_id":"org_01JUNKJUNKJUNKJUNKJUNKJUNK","event":{"action":"a",` + valid + `}}`, 404, ""},
		{"missing event", `{"organization_id":"` + org + `"}`, 400, ""},
		{"event not an object", `{"organization_id":"` + org + `","event":"x"}`, 400, ""},
		{"missing action", `{"organization_id":"` + org + `","event":{` + valid + `}}`, 400, "/action"},
		{"action with spaces", `{"organization_id":"` + org + `","event":{"action":"a b",` + valid + `}}`, 400, "/action"},
		{"bad occurred_at", `{"organization_id":"` + org + `","event":{"action":"a","occurred_at":"yesterday","actor":{"id":"u","type":"user"},"targets":[],"context":{"location":"x"}}}`, 400, "/occurred_at"},
		{"actor without type", `{"organization_id":"` + org + `","event":{"action":"a","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u"},"targets":[],"context":{"location":"x"}}}`, 400, "/actor/type"},
		{"targets not an array", `{"organization_id":"` + org + `","event":{"action":"a","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":{},"context":{"location":"x"}}}`, 400, "/targets"},
		{"target without id", `{"organization_id":"` + org + `","event":{"action":"a","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":[{"type":"doc"}],"context":{"location":"x"}}}`, 400, "/targets/0/id"},
		{"missing context", `{"organization_id":"` + org + `","event":{"action":"a","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":[]}}`, 400, "/context"},
		{"metadata value too long", `{"organization_id":"` + org + `","event":{"action":"a",` + valid + `,"metadata":{"k":"` + long + `"}}}`, 400, "/metadata/k"},
		{"metadata nested object", `{"organization_id":"` + org + `","event":{"action":"a",` + valid + `,"metadata":{"k":{"x":1}}}}`, 400, "/metadata/k"},
		{"schema: wrong target type", `{"organization_id":"` + org + `","event":{"action":"doc.viewed","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u","type":"user"},"targets":[{"id":"d","type":"image"}],"context":{"location":"x"}}}`, 400, "/targets/0/type"},
		{"schema: metadata of the wrong type", `{"organization_id":"` + org + `","event":{"action":"doc.viewed",` + valid + `,"metadata":{"pages":"many"}}}`, 400, "/metadata/pages"},
		{"schema: unknown version", `{"organization_id":"` + org + `","event":{"action":"doc.viewed","version":7,` + valid + `}}`, 400, "/version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(tc.body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, out)
			}
			if tc.status == 400 && out["code"] != "invalid_audit_log_event" {
				t.Errorf("code %v", out["code"])
			}
			if tc.path != "" && !strings.Contains(mustJSON(out["errors"]), `"`+tc.path+`"`) {
				t.Errorf("errors %s do not name %s", mustJSON(out["errors"]), tc.path)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDownloadLinkIsSignedAndExpires(t *testing.T) {
	srv := apptest.Start(t, "sqlite")
	c := sdk(srv)
	org := newOrg(t, c)
	x, err := c.AuditLogs().CreateExport(ctx, &workos.AuditLogsCreateExportParams{OrganizationID: org,
		RangeStart: "2026-01-01T00:00:00Z", RangeEnd: time.Now().UTC().Add(time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitExport(t, c, x.ID)
	good, _ := url.Parse(*ready.URL)
	other, err := c.AuditLogs().CreateExport(ctx, &workos.AuditLogsCreateExportParams{OrganizationID: org,
		RangeStart: "2026-01-01T00:00:00Z", RangeEnd: "2026-02-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(q url.Values, u *url.URL)) string {
		u := *good
		q := u.Query()
		f(q, &u)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		url  string
		want int
	}{
		{"the link as issued", good.String(), 200},
		{"signature changed", tamper(func(q url.Values, _ *url.URL) { q.Set("signature", strings.Repeat("0", 64)) }), 403},
		{"signature missing", tamper(func(q url.Values, _ *url.URL) { q.Del("signature") }), 403},
		{"expiry extended", tamper(func(q url.Values, _ *url.URL) { q.Set("expires", "99999999999") }), 403},
		{"signature of one export used for another", tamper(func(_ url.Values, u *url.URL) {
			u.Path = strings.Replace(u.Path, x.ID, other.ID, 1)
		}), 403},
		{"expired link", srv.AuditLogs.DownloadURL(x.ID, time.Now().Add(-time.Second)), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestExportRequestValidation(t *testing.T) {
	srv := apptest.Start(t, "sqlite")
	org := newOrg(t, sdk(srv))
	tests := []struct {
		name, body string
		want       int
	}{
		{"missing range", `{"organization_id":"` + org + `"}`, 422},
		{"bad date", `{"organization_id":"` + org + `","range_start":"soon","range_end":"2026-01-01T00:00:00Z"}`, 422},
		{"end before start", `{"organization_id":"` + org + `","range_start":"2026-02-01T00:00:00Z","range_end":"2026-01-01T00:00:00Z"}`, 422},
		{"unknown organization", `{"organization_id":"org_nope","range_start":"2026-01-01T00:00:00Z","range_end":"2026-02-01T00:00:00Z"}`, 404},
		{"unknown export", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res *http.Response
			if tc.body == "" {
				res = srv.Do(t, "GET", "/audit_logs/exports/audit_log_export_missing", nil)
			} else {
				res = srv.Do(t, "POST", "/audit_logs/exports", strings.NewReader(tc.body))
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestSchemaValidation(t *testing.T) {
	srv := apptest.Start(t, "sqlite")
	tests := []struct{ name, body string }{
		{"no targets", `{"targets":[]}`},
		{"target without type", `{"targets":[{}]}`},
		{"duplicate target type", `{"targets":[{"type":"a"},{"type":"a"}]}`},
		{"metadata property of an unknown type", `{"targets":[{"type":"a"}],"metadata":{"type":"object","properties":{"k":{"type":"date"}}}}`},
		{"required property not declared", `{"targets":[{"type":"a"}],"metadata":{"type":"object","properties":{},"required":["k"]}}`},
		{"not an object", `[1,2]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := srv.Do(t, "POST", "/audit_logs/actions/x.y/schemas", strings.NewReader(tc.body))
			res.Body.Close()
			if res.StatusCode != 422 {
				t.Errorf("status %d, want 422", res.StatusCode)
			}
		})
	}
}

func TestRetentionSweepDeletesOldEvents(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			srv := apptest.Start(t, b.Name)
			c := sdk(srv)
			org := newOrg(t, c)
			for _, age := range []time.Duration{40 * 24 * time.Hour, time.Hour} {
				if _, err := c.AuditLogs().CreateEvent(ctx, &workos.AuditLogsCreateEventParams{OrganizationID: org, Event: &workos.AuditLogEvent{
					Action: "a.b", OccurredAt: time.Now().Add(-age).UTC().Format(time.RFC3339), Actor: &workos.AuditLogEventActor{ID: "u", Type: "user"},
					Targets: []*workos.AuditLogEventTarget{}, Context: &workos.AuditLogEventContext{Location: "x"}}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := srv.AuditLogs.SetRetention(ctx, org, 30); err != nil {
				t.Fatal(err)
			}
			if err := srv.AuditLogs.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			left, err := srv.Store.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: org}, 10)
			if err != nil || len(left) != 1 {
				t.Fatalf("after the sweep %d events remain (%v), want 1", len(left), err)
			}
			// Each host audit event also reaches the outbox for log streams.
			evs, err := srv.Store.ListEvents(ctx, store.EventFilter{Names: []string{"audit_log_event.created"}, OrganizationID: org}, 10, false)
			if err != nil || len(evs) != 2 {
				t.Errorf("outbox has %d audit_log_event.created events, want 2 (%v)", len(evs), err)
			}
		})
	}
}
