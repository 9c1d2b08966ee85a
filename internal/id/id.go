// Package id makes the type-prefixed ULID identifiers that every Gatehouse
// object carries (org_…, conn_…, event_…), as WorkOS does.
package id

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Generator makes IDs whose lexical order follows creation order, also for
// IDs made within one millisecond (monotonic entropy).
type Generator struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// NewGenerator returns a Generator seeded from crypto/rand.
func NewGenerator() *Generator {
	return &Generator{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New returns prefix + "_" + a new ULID, e.g. "org_01JD…".
func (g *Generator) New(prefix string) string {
	g.mu.Lock()
	u := ulid.MustNew(ulid.Timestamp(time.Now()), g.entropy)
	g.mu.Unlock()
	return prefix + "_" + u.String()
}

// defaultGen serves New; IDs carry no configuration, so one generator per
// process is not state that matters across requests or nodes.
var defaultGen = NewGenerator()

// New returns a new ID with the given type prefix.
func New(prefix string) string { return defaultGen.New(prefix) }

// HasPrefix reports whether s looks like an ID of the given type: the prefix,
// an underscore and a 26-character ULID.
func HasPrefix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
