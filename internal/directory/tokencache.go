package directory

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Token cache limits.
const (
	// tokenCacheTTL bounds how long a verified SCIM token is trusted
	// without reading it again. Revoking a token or deleting its directory
	// through this node takes effect at once; on another node of a cluster
	// it takes effect within this time.
	tokenCacheTTL   = 2 * time.Second
	maxCachedTokens = 1024
)

// tokenCache remembers recently verified SCIM bearer tokens, keyed by the
// token's SHA-256 (the value stored in the database; the secret itself is
// never kept). During a provisioning burst every request carries the same
// token, and reading it per request was a third of the SCIM handler's CPU.
// Only successful look-ups are cached, so a wrong token always reaches the
// database. Guarded by Service.mu.
type tokenCache map[[32]byte]cachedToken

type cachedToken struct {
	tok store.DirectoryToken
	dir store.Directory
	at  time.Time
}

// cachedToken returns the cached entry for hash, if still fresh, and the
// cache's generation, to hand back to cacheToken.
func (s *Service) cachedToken(hash [32]byte, now time.Time) (cachedToken, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tokens[hash]
	if !ok || now.Sub(e.at) > tokenCacheTTL || now.Before(e.at) {
		return cachedToken{}, s.tokenGen, false
	}
	return e, s.tokenGen, true
}

// cacheToken stores e unless tokens were forgotten since gen was read: a
// token read from the database just before it was revoked must not be
// cached after the revocation dropped the cache.
func (s *Service) cacheToken(hash [32]byte, e cachedToken, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.tokenGen {
		return
	}
	if s.tokens == nil || len(s.tokens) >= maxCachedTokens {
		s.tokens = tokenCache{}
	}
	s.tokens[hash] = e
}

// forgetTokens drops the cached tokens of a directory whose tokens or
// state changed.
func (s *Service) forgetTokens(dirID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenGen++
	for k, e := range s.tokens {
		if e.dir.ID == dirID {
			delete(s.tokens, k)
		}
	}
}
