package sso

import (
	"crypto/x509"
	"sync"

	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
)

// certificateCacheSize bounds a CertificateCache; when full it starts
// over, which costs one parse per certificate in use.
const certificateCacheSize = 1024

// CertificateCache keeps parsed IdP signing certificates so that a login
// does not parse them again. Entries are keyed by the stored PEM, so an
// entry can never be stale: which certificates a connection trusts is
// still read from the store on every login, and a certificate added,
// removed or retired (on any node) changes that list, not this cache. The
// zero value is ready; a nil cache caches nothing. It is safe for
// concurrent use, and the certificates it returns are shared: read only.
type CertificateCache struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

// parse returns the certificate stored as pemText, parsed once.
func (c *CertificateCache) parse(pemText string) (*x509.Certificate, error) {
	if c != nil {
		c.mu.Lock()
		x, ok := c.m[pemText]
		c.mu.Unlock()
		if ok {
			return x, nil
		}
	}
	x, err := ssosaml.ParseCertificatePEM(pemText)
	if err != nil || c == nil {
		return x, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= certificateCacheSize {
		c.m = make(map[string]*x509.Certificate)
	}
	c.m[pemText] = x
	return x, nil
}
