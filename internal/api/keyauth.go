package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// LastUsedPrecision is how stale an API key's last_used_at may be: it is
// written at most once per interval per key, never on every request.
const LastUsedPrecision = time.Minute

// KeyAuth authenticates management requests by API key (looked up in the
// database on every request, so a revoked key stops working at once on
// every node), applies the per-key rate limit and keeps last_used_at.
type KeyAuth struct {
	Keys  store.APIKeys
	Limit *ratelimit.Limiter // nil = no limit
	Now   func() time.Time   // nil = time.Now

	mu sync.Mutex
	// tried is when this node last tried to write each key's last_used_at,
	// so concurrent requests on a stale key do not all write.
	tried map[string]time.Time
}

// Wrap requires a valid API key as a Bearer token on every request to next.
func (a *KeyAuth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := BearerToken(r)
		if !ok {
			WriteError(w, r, errs.Unauthorized("Unauthorized: send your API key as 'Authorization: Bearer sk_…'."))
			return
		}
		k, err := a.Keys.APIKeyByHash(r.Context(), secrets.Hash(tok))
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				WriteError(w, r, errs.Unauthorized("Unauthorized: the API key is not valid."))
				return
			}
			WriteError(w, r, fmt.Errorf("look up api key: %w", err))
			return
		}
		if ok, wait := a.Limit.Allow(k.ID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
			WriteError(w, r, ErrRateLimited)
			return
		}
		a.touch(r.Context(), k)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyKey, k.ID)))
	})
}

// touch records that k was used, at most once per LastUsedPrecision: not
// while the stored value is that fresh, not twice from this node in that
// time, and across nodes as a compare-and-set on the value read.
func (a *KeyAuth) touch(ctx context.Context, k store.APIKey) {
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if now.Sub(k.LastUsedAt) < LastUsedPrecision {
		return
	}
	a.mu.Lock()
	if a.tried == nil {
		a.tried = map[string]time.Time{}
	}
	if t, ok := a.tried[k.ID]; ok && now.Sub(t) < LastUsedPrecision {
		a.mu.Unlock()
		return
	}
	a.tried[k.ID] = now
	a.mu.Unlock()
	if _, err := a.Keys.TouchAPIKey(context.WithoutCancel(ctx), k.ID, k.LastUsedAt, now); err != nil {
		slog.ErrorContext(ctx, "record api key use", "err", err, "key_id", k.ID)
	}
}
