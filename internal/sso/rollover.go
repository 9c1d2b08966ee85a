package sso

import (
	"context"
	"crypto/x509"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"math"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// metadataRecheck is the least time between two fetches of one
// connection's metadata caused by unknown certificates, so responses signed
// with unknown keys (which anyone can send) cannot make Gatehouse hammer
// the IdP.
const metadataRecheck = time.Minute

// RecheckLimiter remembers, per node, when each connection's metadata was
// last fetched because of an unknown certificate. It only limits load: with
// several nodes each may fetch once a minute, and losing it is harmless.
type RecheckLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// allow reports whether connID may be fetched now, and if so records it.
func (l *RecheckLimiter) allow(connID string, now time.Time) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if at, ok := l.last[connID]; ok && now.Sub(at) < metadataRecheck {
		return false
	}
	for id, at := range l.last {
		if now.Sub(at) >= metadataRecheck {
			delete(l.last, id)
		}
	}
	l.last[connID] = now
	return true
}

// maxUnknownNoticesPerDay caps renewal notices about unknown certificates
// per connection.
const maxUnknownNoticesPerDay = 3

// recoverUnknownCertificate handles a response signed with a certificate
// the connection does not trust. If the connection has a metadata URL that
// now publishes that certificate, it refreshes the connection and returns
// it (ok = validate again). Otherwise it says in f which certificate the IdP
// signs with, so the admin can upload it, and sends one renewal notice per
// new certificate.
func (s *Service) recoverUnknownCertificate(ctx context.Context, conn store.Connection, raw []byte, f *failure.Error) (store.Connection, bool) {
	embedded := ssosaml.EmbeddedCertificates(raw)
	now := s.now()
	if conn.SAML.IdPMetadataURL != "" && s.Recheck.allow(conn.ID, now) {
		if err := s.RefreshMetadata(ctx, conn); err != nil {
			s.Log.Warn("refresh idp metadata after an unknown certificate", "connection_id", conn.ID, "err", err)
		} else if fresh, err := s.Store.GetConnection(ctx, conn.ID); err == nil {
			certs, err := s.Store.ListCertificates(ctx, conn.ID)
			if err == nil && publishes(certs, embedded, now) {
				return fresh, true
			}
		}
	}
	if len(embedded) == 0 {
		return conn, false
	}
	x := embedded[0]
	fp := ssosaml.Fingerprint(x)
	f.Detail = fmt.Sprintf("the identity provider now signs with a certificate this connection does not have "+
		"(SHA-256 fingerprint %s, valid until %s); upload it to the connection", fp, x.NotAfter.UTC().Format("2006-01-02"))
	// One notice per new certificate, and a few per connection a day: anyone
	// can sign a response with a key of their own, and must not be able to
	// flood the host app's webhooks with notices.
	first, recent, err := s.Store.RecordUnknownCertificate(ctx, conn.ID, fp, x.NotAfter, now)
	if err != nil || !first || recent > maxUnknownNoticesPerDay {
		return conn, false
	}
	expired := !now.Before(x.NotAfter)
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		return events.Append(ctx, q, EventCertRenewalRequired, conn.OrganizationID, renewalRequired{
			Connection:      certEventConn{ID: conn.ID, OrganizationID: conn.OrganizationID},
			Certificate:     certEventCert{CertificateType: "ResponseSigning", ExpiryDate: wire.Time(x.NotAfter), IsExpired: &expired},
			DaysUntilExpiry: int(math.Ceil(x.NotAfter.Sub(now).Hours() / 24)),
			Reason:          "unknown_signing_certificate",
			Fingerprint:     fp,
		})
	})
	if err != nil {
		s.Log.Error("renewal notice for an unknown certificate", "connection_id", conn.ID, "err", err)
	}
	return conn, false
}

// publishes reports whether certs (now trusted) include one the response
// was signed with; with no embedded certificate it cannot tell, and a
// second validation is cheap, so it says yes.
func publishes(certs []store.Certificate, embedded []*x509.Certificate, now time.Time) bool {
	if len(embedded) == 0 {
		return true
	}
	for _, c := range certs {
		if !c.Trusted(now) {
			continue
		}
		for _, x := range embedded {
			if ssosaml.Fingerprint(x) == c.Fingerprint {
				return true
			}
		}
	}
	return false
}
