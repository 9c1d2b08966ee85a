package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// testAPIKeys covers every method of store.APIKeys.
func testAPIKeysLifecycle(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := store.APIKey{ID: id.New("key"), Name: "ci", Hash: []byte("hash-a-0123456789012345678901234"), Suffix: "aaaa", CreatedAt: now}
	b := store.APIKey{ID: id.New("key"), Name: "deploy", Hash: []byte("hash-b-0123456789012345678901234"), Suffix: "bbbb", CreatedAt: now}
	mustNil(t, s.UpsertAPIKey(ctx, a))
	mustNil(t, s.UpsertAPIKey(ctx, b))
	// The same secret again (GATEHOUSE_API_KEY at every start) is a no-op.
	mustNil(t, s.UpsertAPIKey(ctx, store.APIKey{ID: id.New("key"), Name: "again", Hash: a.Hash, Suffix: "aaaa", CreatedAt: now}))

	got, err := s.APIKeyByHash(ctx, a.Hash)
	mustNil(t, err)
	if got.ID != a.ID || got.Name != "ci" || got.Suffix != "aaaa" || !got.CreatedAt.Equal(now) || !got.LastUsedAt.IsZero() {
		t.Errorf("by hash = %+v", got)
	}
	if _, err := s.APIKeyByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v", err)
	}

	list, err := s.ListAPIKeys(ctx)
	mustNil(t, err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list = %+v, want [b a]", list)
	}

	// last_used_at: a compare-and-set on the stored value.
	t1 := now.Add(time.Minute)
	ok, err := s.TouchAPIKey(ctx, a.ID, time.Time{}, t1)
	mustNil(t, err)
	if !ok {
		t.Fatal("first touch did not write")
	}
	if ok, _ := s.TouchAPIKey(ctx, a.ID, time.Time{}, t1.Add(time.Second)); ok {
		t.Error("a touch with a stale previous value wrote (another node already did)")
	}
	got, _ = s.APIKeyByHash(ctx, a.Hash)
	if !got.LastUsedAt.Equal(t1) {
		t.Errorf("last used = %v, want %v", got.LastUsedAt, t1)
	}
	t2 := t1.Add(time.Minute)
	if ok, err := s.TouchAPIKey(ctx, a.ID, t1, t2); err != nil || !ok {
		t.Errorf("second touch: %v %v", ok, err)
	}
	list, _ = s.ListAPIKeys(ctx)
	if !list[1].LastUsedAt.Equal(t2) || !list[0].LastUsedAt.IsZero() {
		t.Errorf("list last used = %v, %v", list[1].LastUsedAt, list[0].LastUsedAt)
	}
	if ok, err := s.TouchAPIKey(ctx, "key_missing", time.Time{}, t2); err != nil || ok {
		t.Errorf("touch of a missing key: %v %v", ok, err)
	}

	// Revocation removes the key at once.
	mustNil(t, s.DeleteAPIKey(ctx, a.ID))
	if _, err := s.APIKeyByHash(ctx, a.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked key still found: %v", err)
	}
	if err := s.DeleteAPIKey(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	list, _ = s.ListAPIKeys(ctx)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("after revoke list = %+v", list)
	}
}
