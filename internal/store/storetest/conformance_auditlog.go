package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditLogTests check store.AuditLogs.
var auditLogTests = []suiteTest{
	{"audit logs", testAuditLogs},
}

// testAuditLogs covers every store.AuditLogs method.
func testAuditLogs(t *testing.T, s store.Store) {
	a, b := newOrg("A"), newOrg("B")
	mustNil(t, s.CreateOrganization(ctx, a))
	mustNil(t, s.CreateOrganization(ctx, b))
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := func(org, action string, at time.Time) store.AuditLogEvent {
		return store.AuditLogEvent{ID: id.New("audit_log_event"), OrganizationID: org, Action: action, OccurredAt: at,
			ActorID: "user_1", ActorType: "user", ActorName: "Ann", Body: json.RawMessage(`{"action":"` + action + `"}`),
			CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	}

	t.Run("events: insert, keyset scan, filters, tenant", func(t *testing.T) {
		var want []store.AuditLogEvent
		for i := range 5 {
			e := ev(a.ID, "doc.read", base.Add(time.Duration(i)*time.Minute))
			if i == 2 {
				e.Action = "doc.deleted"
			}
			mustNil(t, s.InsertAuditLogEvent(ctx, e))
			want = append(want, e)
		}
		// Same instant as want[4]: ordered by ID after it.
		tie := ev(a.ID, "doc.read", want[4].OccurredAt)
		mustNil(t, s.InsertAuditLogEvent(ctx, tie))
		mustNil(t, s.InsertAuditLogEvent(ctx, ev(b.ID, "doc.read", base)))

		got, err := s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: a.ID}, 100)
		mustNil(t, err)
		if len(got) != 6 || got[0].ID != want[0].ID || got[5].ID != tie.ID {
			t.Fatalf("scan of A: %d events", len(got))
		}
		if got[0].OccurredAt != want[0].OccurredAt || got[0].ActorName != "Ann" || string(got[0].Body) != string(want[0].Body) {
			t.Errorf("round trip: %+v", got[0])
		}
		// Keyset continuation in pages of 2 sees every event once.
		var seen int
		f := store.AuditLogEventFilter{OrganizationID: a.ID}
		for {
			page, err := s.ListAuditLogEvents(ctx, f, 2)
			mustNil(t, err)
			if len(page) == 0 {
				break
			}
			seen += len(page)
			last := page[len(page)-1]
			f.AfterOccurredAt, f.AfterID = last.OccurredAt, last.ID
		}
		if seen != 6 {
			t.Errorf("paged scan saw %d, want 6", seen)
		}
		got, _ = s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: a.ID, From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}, 100)
		if len(got) != 2 {
			t.Errorf("range [1m,3m): %d events, want 2", len(got))
		}
		got, _ = s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: a.ID, Actions: []string{"doc.deleted"}}, 100)
		if len(got) != 1 || got[0].Action != "doc.deleted" {
			t.Errorf("action filter: %+v", got)
		}
		got, _ = s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: b.ID}, 100)
		if len(got) != 1 {
			t.Errorf("B sees %d events, want its 1", len(got))
		}
	})

	t.Run("retention per organization", func(t *testing.T) {
		c, d := newOrg("C"), newOrg("D")
		mustNil(t, s.CreateOrganization(ctx, c))
		mustNil(t, s.CreateOrganization(ctx, d))
		now := base.Add(400 * 24 * time.Hour)
		if days, err := s.GetAuditLogRetention(ctx, c.ID); err != nil || days != 0 {
			t.Fatalf("unset retention = %d, %v", days, err)
		}
		mustNil(t, s.SetAuditLogRetention(ctx, c.ID, 365))
		mustNil(t, s.SetAuditLogRetention(ctx, c.ID, 30)) // replaces
		if days, _ := s.GetAuditLogRetention(ctx, c.ID); days != 30 {
			t.Fatalf("retention = %d, want 30", days)
		}
		old, recent := ev(c.ID, "x", now.Add(-40*24*time.Hour)), ev(c.ID, "x", now.Add(-10*24*time.Hour))
		dOld := ev(d.ID, "x", now.Add(-40*24*time.Hour)) // D uses the default (365)
		for _, e := range []store.AuditLogEvent{old, recent, dOld} {
			mustNil(t, s.InsertAuditLogEvent(ctx, e))
		}
		before, _ := s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: a.ID}, 100)
		n, err := s.DeleteExpiredAuditLogEvents(ctx, now, 365)
		mustNil(t, err)
		// C's 40-day-old event goes; so do A's and B's (400 days old).
		if n != int64(1+len(before)+1) {
			t.Errorf("deleted %d, want %d", n, 1+len(before)+1)
		}
		got, _ := s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: c.ID}, 100)
		if len(got) != 1 || got[0].ID != recent.ID {
			t.Errorf("C keeps %+v, want only the recent event", got)
		}
		got, _ = s.ListAuditLogEvents(ctx, store.AuditLogEventFilter{OrganizationID: d.ID}, 100)
		if len(got) != 1 {
			t.Errorf("D (default 365 days) lost its 40-day-old event")
		}
	})

	t.Run("schemas: versions, newest, actions page", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		if _, err := s.GetAuditLogSchema(ctx, "user.signed_in", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing schema: %v", err)
		}
		s1, err := s.CreateAuditLogSchema(ctx, store.AuditLogSchema{Action: "user.signed_in", Schema: json.RawMessage(`{"v":1}`), CreatedAt: now})
		mustNil(t, err)
		s2, err := s.CreateAuditLogSchema(ctx, store.AuditLogSchema{Action: "user.signed_in", Schema: json.RawMessage(`{"v":2}`), CreatedAt: now})
		mustNil(t, err)
		if s1.Version != 1 || s2.Version != 2 {
			t.Fatalf("versions %d, %d", s1.Version, s2.Version)
		}
		_, err = s.CreateAuditLogSchema(ctx, store.AuditLogSchema{Action: "doc.read", Schema: json.RawMessage(`{}`), CreatedAt: now})
		mustNil(t, err)
		got, err := s.GetAuditLogSchema(ctx, "user.signed_in", 0)
		mustNil(t, err)
		if got.Version != 2 || string(got.Schema) != `{"v":2}` || !got.CreatedAt.Equal(now) {
			t.Errorf("newest = %+v", got)
		}
		if got, _ := s.GetAuditLogSchema(ctx, "user.signed_in", 1); string(got.Schema) != `{"v":1}` {
			t.Errorf("version 1 = %s", got.Schema)
		}
		if _, err := s.GetAuditLogSchema(ctx, "user.signed_in", 3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("version 3: %v", err)
		}
		list, err := s.ListAuditLogSchemas(ctx, "user.signed_in")
		mustNil(t, err)
		if len(list) != 2 || list[0].Version != 2 {
			t.Errorf("schemas = %+v", list)
		}
		acts, info, err := s.ListAuditLogActions(ctx, store.Page{Limit: 1, Order: store.Asc})
		mustNil(t, err)
		if len(acts) != 1 || acts[0].Action != "doc.read" || info.After != "doc.read" {
			t.Fatalf("first page = %+v %+v", acts, info)
		}
		acts, info, _ = s.ListAuditLogActions(ctx, store.Page{Limit: 1, Order: store.Asc, After: info.After})
		if len(acts) != 1 || acts[0].Action != "user.signed_in" || acts[0].Version != 2 || info.After != "" {
			t.Errorf("second page = %+v %+v", acts, info)
		}
	})

	t.Run("schemas: racing writers get distinct versions", func(t *testing.T) {
		var wg sync.WaitGroup
		versions := make(chan int, 4)
		for range 4 {
			wg.Go(func() {
				var x store.AuditLogSchema
				err := s.InTx(ctx, func(q store.Queries) error {
					var err error
					x, err = q.CreateAuditLogSchema(ctx, store.AuditLogSchema{Action: "race", Schema: json.RawMessage(`{}`), CreatedAt: time.Now()})
					return err
				})
				if err == nil {
					versions <- x.Version
				} else if !errors.Is(err, store.ErrConflict) {
					t.Errorf("racing create: %v", err)
				}
			})
		}
		wg.Wait()
		close(versions)
		seen := map[int]bool{}
		for v := range versions {
			if seen[v] {
				t.Errorf("version %d given twice", v)
			}
			seen[v] = true
		}
	})

	t.Run("exports: claim once, finish once, expire", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		x := store.AuditLogExport{ID: id.New("audit_log_export"), OrganizationID: a.ID, State: store.ExportPending,
			Filter: json.RawMessage(`{"actions":["a"]}`), NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		mustNil(t, s.CreateAuditLogExport(ctx, x))
		got, err := s.GetAuditLogExport(ctx, x.ID)
		mustNil(t, err)
		if got.State != store.ExportPending || string(got.Filter) != string(x.Filter) || got.CSV != nil || !got.NextAttemptAt.Equal(now) {
			t.Errorf("round trip: %+v", got)
		}
		if _, err := s.GetAuditLogExport(ctx, "audit_log_export_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing export: %v", err)
		}
		var wg sync.WaitGroup
		claims := make(chan int, 4)
		for range 4 {
			wg.Go(func() {
				c, err := s.ClaimDueAuditLogExports(ctx, now.Add(time.Second), now.Add(time.Minute), 10)
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				claims <- len(c)
			})
		}
		wg.Wait()
		close(claims)
		total := 0
		for n := range claims {
			total += n
		}
		if total != 1 {
			t.Errorf("export claimed %d times, want once", total)
		}
		done := x
		done.State, done.CSV, done.UpdatedAt = store.ExportReady, []byte("id,action\n"), now.Add(time.Second)
		mustNil(t, s.FinishAuditLogExport(ctx, done))
		if err := s.FinishAuditLogExport(ctx, done); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second finish: %v, want ErrNotFound", err)
		}
		if c, _ := s.ClaimDueAuditLogExports(ctx, now.Add(time.Hour), now.Add(2*time.Hour), 10); len(c) != 0 {
			t.Errorf("a ready export was claimed")
		}
		got, _ = s.GetAuditLogExport(ctx, x.ID)
		if got.State != store.ExportReady || string(got.CSV) != "id,action\n" {
			t.Errorf("finished: %+v", got)
		}
		mustNil(t, s.ExpireAuditLogExports(ctx, now.Add(-time.Hour))) // too early: stays
		if got, _ = s.GetAuditLogExport(ctx, x.ID); got.State != store.ExportReady {
			t.Errorf("expired too early")
		}
		mustNil(t, s.ExpireAuditLogExports(ctx, now.Add(time.Hour)))
		if got, _ = s.GetAuditLogExport(ctx, x.ID); got.State != store.ExportExpired || got.CSV != nil {
			t.Errorf("after expiry: %+v", got)
		}
	})
}
