// Package events is the transactional outbox's front: services append
// events in the transaction of the change they report, and consumers read
// them by cursor through GET /events.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Append records an event named name (from the WorkOS catalogue) with data
// as its payload. Call it inside the transaction of the change, after the
// writes it describes: the store numbers an event only once its
// transaction has committed, after every event already numbered; events
// committed by the time of one numbering pass are numbered in the order
// they were appended (see store.Events).
func Append(ctx context.Context, q store.Events, name, organizationID string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", name, err)
	}
	return q.AppendEvent(ctx, store.Event{
		ID: id.New("event"), Name: name, OrganizationID: organizationID, Data: b, CreatedAt: time.Now(),
	})
}

// JSON is an event on the wire.
type JSON struct {
	Object    string          `json:"object"`
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	Context   json.RawMessage `json:"context,omitempty"`
}

// ToJSON renders a stored event.
func ToJSON(e store.Event) JSON {
	return JSON{Object: "event", ID: e.ID, Event: e.Name, Data: e.Data, CreatedAt: wire.Time(e.CreatedAt), Context: e.Context}
}

// Handler serves GET /events.
type Handler struct {
	Store store.Store
}

// Routes registers the events API.
func (h *Handler) Routes(r api.Router) {
	r.API("GET /events", h.list)
}

type eventList struct {
	Object       string `json:"object"`
	Data         []JSON `json:"data"`
	ListMetadata struct {
		Before *string `json:"before"`
		After  *string `json:"after"`
	} `json:"list_metadata"`
}

// list reads oldest first by default: a consumer keeps the last ID it saw
// and reads forward from it. before=<id> reads the page that precedes id
// (in the requested order), to page backwards.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := api.ParsePage(r, store.Asc)
	if err != nil {
		return err
	}
	f := store.EventFilter{Names: api.QueryArray(q, "events"), OrganizationID: q.Get("organization_id")}
	for _, rg := range []struct {
		name string
		dst  *time.Time
	}{{"range_start", &f.RangeStart}, {"range_end", &f.RangeEnd}} {
		if s := q.Get(rg.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return errs.InvalidField(rg.name, "invalid", rg.name+" must be an RFC 3339 timestamp, e.g. 2026-01-15T12:00:00.000Z.")
			}
			*rg.dst = t
		}
	}
	cursor, name := p.After, "after"
	if p.Before != "" {
		cursor, name = p.Before, "before"
	}
	if cursor != "" {
		ev, err := h.Store.GetEvent(r.Context(), cursor)
		if errors.Is(err, store.ErrNotFound) {
			return errs.InvalidField(name, "invalid", fmt.Sprintf("%s names no event: %q.", name, cursor))
		}
		if err != nil {
			return err
		}
		f.AfterSeq = ev.Seq
	}
	// Reading backwards from a before cursor reads the other way round,
	// then restores the requested order.
	backwards := p.Before != ""
	evs, err := h.Store.ListEvents(r.Context(), f, p.Limit+1, (p.Order == store.Desc) != backwards)
	if err != nil {
		return err
	}
	out := eventList{Object: "list", Data: []JSON{}}
	more := len(evs) > p.Limit
	if more {
		evs = evs[:p.Limit]
	}
	switch {
	case backwards:
		slices.Reverse(evs)
		if len(evs) > 0 {
			out.ListMetadata.After = &evs[len(evs)-1].ID
			if more {
				out.ListMetadata.Before = &evs[0].ID
			}
		}
	case more:
		out.ListMetadata.After = &evs[len(evs)-1].ID
	}
	if p.After != "" && len(evs) > 0 {
		out.ListMetadata.Before = &evs[0].ID
	}
	for _, e := range evs {
		out.Data = append(out.Data, ToJSON(e))
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
