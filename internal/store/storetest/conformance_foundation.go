package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// foundationTests check the install-wide tables: settings, API keys and
// idempotency records.
var foundationTests = []suiteTest{
	{"settings keep the first value", testSettings},
	{"api keys by hash", testAPIKeys},
	{"api keys: list, revoke, last used", testAPIKeysLifecycle},
	{"idempotency reservations", testIdempotency},
	{"idempotency reservation is won once", testIdempotencyRace},
	{"idempotency sweep keeps newer records", testIdempotencySweep},
}

// testSettings: the first value stored wins, also among concurrent callers.
func testSettings(t *testing.T, s store.Store) {
	v, err := s.GetOrCreateSetting(ctx, "client_id", "first")
	mustNil(t, err)
	v2, err := s.GetOrCreateSetting(ctx, "client_id", "second")
	mustNil(t, err)
	if v != "first" || v2 != "first" {
		t.Errorf("settings = %q, %q", v, v2)
	}
	seen := make(chan string, 8)
	race(t, 8, func() (bool, error) {
		v, err := s.GetOrCreateSetting(ctx, "racy", fmt.Sprint(time.Now().UnixNano()))
		seen <- v
		return false, err
	})
	close(seen)
	first := <-seen
	for v := range seen {
		if v != first {
			t.Errorf("concurrent callers saw %q and %q", first, v)
		}
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	created := oddTime(now())
	k := store.APIKey{ID: id.New("key"), Name: "ci", Hash: []byte("hash-1"), Suffix: "abcd", CreatedAt: created}
	mustNil(t, s.UpsertAPIKey(ctx, k))
	got, err := s.APIKeyByHash(ctx, k.Hash)
	mustNil(t, err)
	if got.ID != k.ID || got.Name != "ci" || string(got.Hash) != "hash-1" || got.Suffix != "abcd" || !got.CreatedAt.Equal(ms(created)) ||
		got.CreatedAt.Location() != time.UTC {
		t.Errorf("round trip: %+v", got)
	}
	// A second upsert of the same hash changes nothing.
	again := k
	again.ID, again.Name = id.New("key"), "other"
	mustNil(t, s.UpsertAPIKey(ctx, again))
	if got, _ := s.APIKeyByHash(ctx, k.Hash); got.ID != k.ID || got.Name != "ci" {
		t.Errorf("upsert replaced the key: %+v", got)
	}
	// Another hash under a taken ID breaks the ID's uniqueness.
	dup := k
	dup.Hash = []byte("hash-2")
	wantErr(t, "same id, other hash", s.UpsertAPIKey(ctx, dup), store.ErrConflict)
	_, err = s.APIKeyByHash(ctx, []byte("unknown"))
	wantErr(t, "unknown hash", err, store.ErrNotFound)
}

func testIdempotency(t *testing.T, s store.Store) {
	created := oddTime(now())
	r := store.IdempotencyRecord{Scope: "key_1:abc", RequestHash: []byte{1, 2}, CreatedAt: created}
	fresh, _, err := s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if !fresh {
		t.Fatal("first reservation not fresh")
	}
	fresh, prev, err := s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if fresh || prev.Status != 0 || !prev.CreatedAt.Equal(ms(created)) {
		t.Fatalf("second reservation: fresh=%v prev=%+v", fresh, prev)
	}
	mustNil(t, s.CompleteIdempotencyKey(ctx, r.Scope, 201, []byte(`{"ok":true}`)))
	_, prev, err = s.ReserveIdempotencyKey(ctx, r)
	mustNil(t, err)
	if prev.Status != 201 || string(prev.Body) != `{"ok":true}` || string(prev.RequestHash) != string(r.RequestHash) || prev.Scope != r.Scope {
		t.Errorf("completed record = %+v", prev)
	}
	// A completed record is not released: its answer is replayed.
	mustNil(t, s.ReleaseIdempotencyKey(ctx, r.Scope))
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, r); fresh {
		t.Error("release dropped a completed record")
	}
	r2 := store.IdempotencyRecord{Scope: "key_1:def", RequestHash: []byte{3}, CreatedAt: now()}
	s.ReserveIdempotencyKey(ctx, r2)
	mustNil(t, s.ReleaseIdempotencyKey(ctx, r2.Scope))
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, r2); !fresh {
		t.Error("released key cannot be reserved again")
	}
	// Scopes are separate: another API key may use the same client key.
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, store.IdempotencyRecord{Scope: "key_2:abc", RequestHash: []byte{1}, CreatedAt: now()}); !fresh {
		t.Error("a scope of another API key is taken")
	}
	// Completing or releasing an unknown scope is harmless.
	mustNil(t, s.CompleteIdempotencyKey(ctx, "key_9:none", 200, nil))
	mustNil(t, s.ReleaseIdempotencyKey(ctx, "key_9:none"))
}

// testIdempotencyRace: of concurrent requests with one key, one runs.
func testIdempotencyRace(t *testing.T, s store.Store) {
	r := store.IdempotencyRecord{Scope: "key_1:race", RequestHash: []byte{1}, CreatedAt: now()}
	if wins := race(t, 8, func() (bool, error) {
		fresh, _, err := s.ReserveIdempotencyKey(ctx, r)
		return fresh, err
	}); wins != 1 {
		t.Errorf("%d reservations won, want 1", wins)
	}
}

func testIdempotencySweep(t *testing.T, s store.Store) {
	t0 := now()
	old := store.IdempotencyRecord{Scope: "key_1:old", RequestHash: []byte{1}, CreatedAt: t0.Add(-time.Hour)}
	cut := store.IdempotencyRecord{Scope: "key_1:cut", RequestHash: []byte{1}, CreatedAt: t0}
	for _, r := range []store.IdempotencyRecord{old, cut} {
		s.ReserveIdempotencyKey(ctx, r)
		mustNil(t, s.CompleteIdempotencyKey(ctx, r.Scope, 200, []byte(`{}`)))
	}
	// Strictly before: a record created at the cut-off stays.
	mustNil(t, s.DeleteIdempotencyBefore(ctx, t0))
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, old); !fresh {
		t.Error("old record not swept")
	}
	if fresh, _, _ := s.ReserveIdempotencyKey(ctx, cut); fresh {
		t.Error("record at the cut-off swept")
	}
}
