// Package store defines Gatehouse's storage: one Store built from an
// interface per aggregate, implemented for SQLite and PostgreSQL by
// internal/store/sqlstore and checked by the conformance suite in
// internal/store/storetest.
//
// Rules every method keeps unless its comment says otherwise: times are
// stored as Unix milliseconds and read back in UTC; a write of text
// holding NUL or invalid UTF-8 is refused with an errs.KindBadRequest
// error (code invalid_text), and a read by such a value finds nothing.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write breaks a uniqueness rule.
var ErrConflict = errors.New("store: conflict")

// ErrCommit marks an InTx error from the commit itself, after every
// statement succeeded: whether the transaction committed may be unknown
// (a connection lost during COMMIT), so its writes must not simply be run
// again.
var ErrCommit = errors.New("store: commit failed")

// Store is the whole storage layer.
type Store interface {
	Queries
	// InTx runs fn in one transaction: every write made through q commits
	// together (the change and its events), or none does.
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Queries is every aggregate's operations; the same set works inside and
// outside a transaction.
type Queries interface {
	Settings
	APIKeys
	Idempotency
	Organizations
	Domains
	Events
	SSO
	Directories
	AuditLogs
	Secrets
	LogStreams
	Deliveries
	Webhooks
	Portal
}

// Order is a list's sort direction by ID (that is, by creation time).
type Order string

// The orders WorkOS accepts; "normal" is treated as descending.
const (
	Asc  Order = "asc"
	Desc Order = "desc"
)

// Page selects one page of a list in WorkOS's cursor style.
type Page struct {
	Limit  int
	Before string
	After  string
	Order  Order
}

// PageInfo is a page's WorkOS list_metadata; empty means null.
type PageInfo struct {
	Before string
	After  string
}

// Millis converts t to the stored form: Unix milliseconds.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis converts a stored Unix-milliseconds value back, in UTC.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Settings is a small key/value table for install-wide values (client ID).
type Settings interface {
	// GetOrCreateSetting returns the stored value of key, storing value first
	// if the key is new. Concurrent callers all see the first value stored.
	GetOrCreateSetting(ctx context.Context, key, value string) (string, error)
}

// APIKey is a management API key; only its SHA-256 hash is stored.
type APIKey struct {
	ID         string
	Name       string
	Hash       []byte
	Suffix     string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used
}

// APIKeys stores API keys.
type APIKeys interface {
	// UpsertAPIKey stores k, or does nothing if a key with its hash exists.
	UpsertAPIKey(ctx context.Context, k APIKey) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	// ListAPIKeys returns every key, newest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// DeleteAPIKey revokes a key; ErrNotFound if there is none.
	DeleteAPIKey(ctx context.Context, id string) error
	// TouchAPIKey sets a key's LastUsedAt to now if it still is prev (a
	// compare-and-set, so concurrent nodes write it once) and reports
	// whether it did.
	TouchAPIKey(ctx context.Context, id string, prev, now time.Time) (bool, error)
}

// IdempotencyRecord remembers the answer to a POST sent with an Idempotency-Key.
type IdempotencyRecord struct {
	Scope       string // the API key ID and the key the client sent
	RequestHash []byte
	Status      int // 0 while the first request is still running
	Body        []byte
	CreatedAt   time.Time
}

// Idempotency stores idempotency records.
type Idempotency interface {
	// ReserveIdempotencyKey inserts r with Status 0 and returns true, or
	// returns false and the existing record if the scope is taken.
	ReserveIdempotencyKey(ctx context.Context, r IdempotencyRecord) (bool, IdempotencyRecord, error)
	// CompleteIdempotencyKey stores the answer of a reserved request; an
	// unknown scope is ignored.
	CompleteIdempotencyKey(ctx context.Context, scope string, status int, body []byte) error
	// ReleaseIdempotencyKey forgets a reservation whose request failed
	// before answering, so the client may retry. A completed record stays.
	ReleaseIdempotencyKey(ctx context.Context, scope string) error
	// DeleteIdempotencyBefore drops the records created before t.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) error
}

// EachPage calls fn for every item of a list read page by page in ID order
// (oldest first), until fn or a read fails.
func EachPage[T any](list func(p Page) ([]T, PageInfo, error), fn func(T) error) error {
	p := Page{Limit: 100, Order: Asc}
	for {
		items, info, err := list(p)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if info.After == "" {
			return nil
		}
		p.After = info.After
	}
}

type deferredWritesKey struct{}

// WithDeferredWrites marks ctx for InTx: the store may then hold back a
// transaction's writes whose outcome fn does not read (plain inserts; not
// a write that must report whether it touched a row, nor a query) and send
// them together, in one round trip, before the next read or the commit. A
// held-back write's error is then returned by a later call in the
// transaction or by InTx itself, not by the call that made it, and the
// transaction fails either way. Only for callers that treat every failure
// of the transaction alike, such as a group commit that then runs each of
// its writes alone. Stores without round trips to save (SQLite) ignore it.
func WithDeferredWrites(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredWritesKey{}, true)
}

// DeferredWrites reports whether ctx allows InTx to defer writes (see
// WithDeferredWrites).
func DeferredWrites(ctx context.Context) bool {
	v, _ := ctx.Value(deferredWritesKey{}).(bool)
	return v
}
