package sqlstore

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// configCacheBytes bounds the stored JSON a configCache holds (metadata
// XML can be up to a megabyte per connection); when an entry would pass
// it the cache starts over, which costs one decode per connection in use.
const configCacheBytes = 8 << 20

// configCache keeps each connection's decoded config beside the stored
// JSON it came from. A connection's config carries the IdP metadata XML
// and the SP key set, so decoding it was most of the CPU of reading a
// connection, which every login does. The row is still read on every call;
// only its decoding is skipped when the JSON is byte for byte the one
// decoded before, so an entry can never be stale (an update on any node
// changes the JSON). One entry per connection: a refresh replaces the old
// version rather than piling up beside it. Callers get their own copy,
// free to modify. A nil cache decodes every time.
type configCache struct {
	mu    sync.Mutex
	m     map[string]cachedConfig // by connection ID
	bytes int
}

type cachedConfig struct {
	raw string
	cc  connConfig
}

// decode returns connection id's config stored as raw.
func (c *configCache) decode(id, raw string) (connConfig, error) {
	if c != nil {
		c.mu.Lock()
		e, ok := c.m[id]
		c.mu.Unlock()
		if ok && e.raw == raw {
			return e.cc.clone(), nil
		}
	}
	var cc connConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		return connConfig{}, err
	}
	if c != nil && len(raw) <= configCacheBytes/8 {
		c.mu.Lock()
		if old, ok := c.m[id]; ok {
			c.bytes -= len(old.raw)
		}
		if c.m == nil || c.bytes+len(raw) > configCacheBytes {
			c.m, c.bytes = make(map[string]cachedConfig), 0
		}
		c.m[id] = cachedConfig{raw: raw, cc: cc.clone()}
		c.bytes += len(raw)
		c.mu.Unlock()
	}
	return cc, nil
}

// clone copies cc deeply: every slice and map of the SAML and OIDC configs
// (TestConfigCloneCoversEveryField fails when a new one is not copied).
func (cc connConfig) clone() connConfig {
	var out connConfig
	if cc.SAML != nil {
		s := *cc.SAML
		s.SPKeys = slices.Clone(s.SPKeys)
		s.AttributeMap = maps.Clone(s.AttributeMap)
		out.SAML = &s
	}
	if cc.OIDC != nil {
		o := *cc.OIDC
		o.Scopes = slices.Clone(o.Scopes)
		out.OIDC = &o
	}
	return out
}
