package api

import (
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ListMetadata is a list's cursors; nil marshals as null, which the WorkOS
// Go SDK's iterator needs to stop.
type ListMetadata struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// List is WorkOS's list envelope.
type List[T any] struct {
	Object       string       `json:"object"`
	Data         []T          `json:"data"`
	ListMetadata ListMetadata `json:"list_metadata"`
}

// NewList wraps one page of items.
func NewList[T any](items []T, info store.PageInfo) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Object: "list", Data: items, ListMetadata: ListMetadata{Before: wire.StrPtr(info.Before), After: wire.StrPtr(info.After)}}
}

// ParsePage reads limit, before, after and order. defaultOrder applies
// when order is absent.
func ParsePage(r *http.Request, defaultOrder store.Order) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: 10, Order: defaultOrder, Before: q.Get("before"), After: q.Get("after")}
	// Old SDKs send limit=0 when the caller set none: take it as the default.
	if s := q.Get("limit"); s != "" && s != "0" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return p, errs.InvalidField("limit", "invalid", fmt.Sprintf("limit must be a whole number from 1 to 100, got %q.", s))
		}
		p.Limit = n
	}
	switch o := q.Get("order"); o {
	case "":
	case "asc":
		p.Order = store.Asc
	case "desc", "normal":
		p.Order = store.Desc
	default:
		return p, errs.InvalidField("order", "invalid", fmt.Sprintf("order must be asc, desc or normal, got %q.", o))
	}
	if p.Before != "" && p.After != "" {
		return p, errs.InvalidField("before", "invalid", "Give before or after, not both.")
	}
	return p, nil
}

// QueryArray reads an array query parameter in any of the encodings the
// SDKs use: comma-separated (x=a,b), brackets (x[]=a&x[]=b) and repeated
// (x=a&x=b). Empty items are dropped.
func QueryArray(q url.Values, name string) []string {
	var out []string
	for _, key := range []string{name, name + "[]"} {
		for _, v := range q[key] {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					out = append(out, item)
				}
			}
		}
	}
	return out
}
