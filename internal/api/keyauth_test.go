package api

import (
	"context"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// countingKeys is the real store, counting the last-use writes it is asked for.
type countingKeys struct {
	store.APIKeys
	touches atomic.Int32
}

func (c *countingKeys) TouchAPIKey(ctx context.Context, id string, prev, now time.Time) (bool, error) {
	c.touches.Add(1)
	return c.APIKeys.TouchAPIKey(ctx, id, prev, now)
}

// TestLastUsedIsThrottled: last_used_at is written on first use, then at
// most once a minute per key, whatever the request rate.
func TestLastUsedIsThrottled(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := context.Background()
			created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
			if err := st.UpsertAPIKey(ctx, store.APIKey{ID: "key_1", Name: "k", Hash: secrets.Hash("sk_one"), Suffix: "_one", CreatedAt: created}); err != nil {
				t.Fatal(err)
			}
			keys := &countingKeys{APIKeys: st}
			now := created.Add(time.Hour)
			auth := &KeyAuth{Keys: keys, Now: func() time.Time { return now }}
			h := auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			send := func() {
				r := httptest.NewRequest("GET", "/organizations", nil)
				r.Header.Set("Authorization", "Bearer sk_one")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
			}
			lastUsed := func() time.Time {
				k, err := st.APIKeyByHash(ctx, secrets.Hash("sk_one"))
				if err != nil {
					t.Fatal(err)
				}
				return k.LastUsedAt
			}
			steps := []struct {
				name        string
				advance     time.Duration
				requests    int
				wantTouches int32
				wantUsed    time.Duration // after created
			}{
				{"first use is written", 0, 1, 1, time.Hour},
				{"more requests in the same minute are not", 30 * time.Second, 50, 1, time.Hour},
				{"a minute later one write", 31 * time.Second, 20, 2, time.Hour + 61*time.Second},
			}
			for _, s := range steps {
				now = now.Add(s.advance)
				for range s.requests {
					send()
				}
				if got := keys.touches.Load(); got != s.wantTouches {
					t.Errorf("%s: %d writes, want %d", s.name, got, s.wantTouches)
				}
				if got := lastUsed(); !got.Equal(created.Add(s.wantUsed)) {
					t.Errorf("%s: last used %v, want %v", s.name, got, created.Add(s.wantUsed))
				}
			}
		})
	}
}
