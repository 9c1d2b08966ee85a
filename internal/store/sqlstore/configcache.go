package sqlstore

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// configCacheSize bounds a configCache; when full it starts over, which
// costs one decode per connection in use.
const configCacheSize = 256

// configCache keeps decoded connection configs by their stored JSON. A
// connection's config carries the IdP metadata XML and the SP key set, so
// decoding it was most of the CPU of reading a connection, which every
// login does. The row is still read on every call; only its decoding is
// skipped when the JSON is byte for byte one decoded before, so an entry
// can never be stale (an update on any node changes the JSON). Callers get
// their own copy, free to modify. A nil cache decodes every time.
type configCache struct {
	mu sync.Mutex
	m  map[string]connConfig
}

// decode returns the config stored as raw.
func (c *configCache) decode(raw string) (connConfig, error) {
	if c != nil {
		c.mu.Lock()
		cc, ok := c.m[raw]
		c.mu.Unlock()
		if ok {
			return cc.clone(), nil
		}
	}
	var cc connConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		return connConfig{}, err
	}
	if c != nil {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= configCacheSize {
			c.m = make(map[string]connConfig)
		}
		c.m[raw] = cc.clone()
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
