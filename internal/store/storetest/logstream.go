package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func newLogStream(orgID, typ string) store.LogStream {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.LogStream{ID: id.New("als"), OrganizationID: orgID, Type: typ, State: store.LogStreamActive,
		Config: []byte(`{"site":"datadoghq.eu"}`), SecretsSealed: "v1:sealed", CreatedAt: now, UpdatedAt: now}
}

func testLogStreams(t *testing.T, s store.Store) {
	a, b := newOrg("A"), newOrg("B")
	mustNil(t, s.CreateOrganization(ctx, a))
	mustNil(t, s.CreateOrganization(ctx, b))
	ls := newLogStream(a.ID, "Datadog")
	mustNil(t, s.CreateLogStream(ctx, ls))
	if err := s.CreateLogStream(ctx, ls); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate id: %v, want ErrConflict", err)
	}
	if err := s.CreateLogStream(ctx, newLogStream("org_missing", "S3")); err == nil {
		t.Error("a stream of a missing organization was stored")
	}
	for _, org := range []string{a.ID, ""} {
		got, err := s.GetLogStream(ctx, org, ls.ID)
		mustNil(t, err)
		if fmt.Sprint(got) != fmt.Sprint(ls) {
			t.Errorf("round trip (org %q):\n got %+v\nwant %+v", org, got, ls)
		}
	}
	// Another organization sees nothing, changes nothing.
	if _, err := s.GetLogStream(ctx, b.ID, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read through another organization: %v", err)
	}
	other := ls
	other.OrganizationID, other.State = b.ID, store.LogStreamInactive
	if err := s.UpdateLogStream(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update through another organization: %v", err)
	}
	if err := s.DeleteLogStream(ctx, b.ID, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete through another organization: %v", err)
	}

	ls.State, ls.Config, ls.SecretsSealed = store.LogStreamInactive, []byte(`{"site":"datadoghq.com"}`), "v1:other"
	ls.LastErrorCode, ls.LastErrorText, ls.LastErrorAt = "unauthorized", "Datadog refused.", ls.CreatedAt.Add(time.Second)
	ls.UpdatedAt = ls.UpdatedAt.Add(2 * time.Second)
	mustNil(t, s.UpdateLogStream(ctx, ls))
	got, _ := s.GetLogStream(ctx, a.ID, ls.ID)
	if fmt.Sprint(got) != fmt.Sprint(ls) {
		t.Errorf("after update:\n got %+v\nwant %+v", got, ls)
	}

	// Deliveries: failures put an active stream in error, successes take it
	// back to active; an inactive stream stays inactive.
	at := ls.CreatedAt.Add(time.Minute)
	mustNil(t, s.RecordLogStreamDelivery(ctx, ls.ID, at, "timeout", "Datadog did not answer in time."))
	got, _ = s.GetLogStream(ctx, a.ID, ls.ID)
	if got.State != store.LogStreamInactive || got.LastErrorCode != "timeout" || !got.LastErrorAt.Equal(at) {
		t.Errorf("failure on an inactive stream: %+v", got)
	}
	ls.State = store.LogStreamActive
	mustNil(t, s.UpdateLogStream(ctx, ls))
	mustNil(t, s.RecordLogStreamDelivery(ctx, ls.ID, at, "server_error", "5xx"))
	got, _ = s.GetLogStream(ctx, a.ID, ls.ID)
	if got.State != store.LogStreamError || got.LastErrorCode != "server_error" {
		t.Errorf("failure on an active stream: %+v", got)
	}
	mustNil(t, s.RecordLogStreamDelivery(ctx, ls.ID, at.Add(time.Second), "", ""))
	got, _ = s.GetLogStream(ctx, a.ID, ls.ID)
	if got.State != store.LogStreamActive || !got.LastSyncedAt.Equal(at.Add(time.Second)) || got.LastErrorCode != "server_error" {
		t.Errorf("success after a failure: %+v (the last error stays for the record)", got)
	}
	if err := s.RecordLogStreamDelivery(ctx, "als_missing", at, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record on a missing stream: %v", err)
	}

	// Lists are per organization, newest first by default, paged by ID.
	var ids []string
	for range 3 {
		x := newLogStream(b.ID, "S3")
		mustNil(t, s.CreateLogStream(ctx, x))
		ids = append(ids, x.ID)
	}
	page, info, err := s.ListLogStreams(ctx, b.ID, store.Page{Limit: 2, Order: store.Desc})
	mustNil(t, err)
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] || info.After != ids[1] {
		t.Errorf("page 1: %v %+v", page, info)
	}
	page, info, err = s.ListLogStreams(ctx, b.ID, store.Page{Limit: 2, Order: store.Desc, After: info.After})
	mustNil(t, err)
	if len(page) != 1 || page[0].ID != ids[0] || info.After != "" {
		t.Errorf("page 2: %v %+v", page, info)
	}
	all, _, err := s.ListLogStreams(ctx, "", store.Page{Limit: 10, Order: store.Asc})
	mustNil(t, err)
	if len(all) != 4 || all[0].ID != ls.ID {
		t.Errorf("all streams: %d, first %s", len(all), all[0].ID)
	}

	mustNil(t, s.DeleteLogStream(ctx, a.ID, ls.ID))
	if _, err := s.GetLogStream(ctx, "", ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted stream: %v", err)
	}
	// Deleting an organization removes its streams.
	mustNil(t, s.DeleteOrganization(ctx, b.ID))
	if left, _, _ := s.ListLogStreams(ctx, b.ID, store.Page{Limit: 10}); len(left) != 0 {
		t.Errorf("%d streams outlive their organization", len(left))
	}
}
