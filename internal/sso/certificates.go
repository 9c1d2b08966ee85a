package sso

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// certChange is a replacement of a connection's certificates of the
// sources it names.
type certChange struct {
	sources []string
	certs   []store.Certificate
}

// writeCerts applies a certificate change inside the change's transaction.
// Manual certificates are replaced as given. Metadata certificates roll
// over: a new one is trusted at once (with connection.saml_certificate_renewed
// when it replaces others), and one that left the metadata keeps verifying
// for CertificateOverlap, so an IdP that publishes its next certificate
// before or after it starts signing with it never causes a failed login.
func (s *Service) writeCerts(ctx context.Context, q store.Queries, conn store.Connection, ch *certChange) error {
	if ch == nil {
		return nil
	}
	now := s.now()
	for _, src := range ch.sources {
		if src == CertMetadata {
			continue
		}
		if err := q.DeleteCertificatesBySource(ctx, conn.ID, src); err != nil {
			return fmt.Errorf("replace certificates: %w", err)
		}
	}
	if !slices.Contains(ch.sources, CertMetadata) {
		return s.putCerts(ctx, q, conn.ID, ch.certs)
	}
	existing, err := q.ListCertificates(ctx, conn.ID)
	if err != nil {
		return fmt.Errorf("list certificates: %w", err)
	}
	incoming := map[string]bool{}
	for _, c := range ch.certs {
		incoming[c.Fingerprint] = true
	}
	known := map[string]store.Certificate{}
	hadMetadata := false
	for _, c := range existing {
		known[c.Fingerprint] = c
		if c.Source != CertMetadata {
			continue
		}
		hadMetadata = true
		if !incoming[c.Fingerprint] && c.RetireAt.IsZero() {
			c.RetireAt = now.Add(s.certificateOverlap())
			if err := q.PutCertificate(ctx, c); err != nil {
				return fmt.Errorf("retire certificate: %w", err)
			}
		}
	}
	for _, c := range ch.certs {
		c.ConnectionID = conn.ID
		old, seen := known[c.Fingerprint]
		if seen && old.Source == CertManual && c.Source == CertMetadata {
			continue // an admin's upload stays theirs to remove
		}
		if seen {
			c.CreatedAt = old.CreatedAt
		}
		if err := q.PutCertificate(ctx, c); err != nil {
			return fmt.Errorf("store certificate: %w", err)
		}
		if !seen && hadMetadata {
			if err := renewedEvent(ctx, q, Connection{Connection: conn}, c, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) putCerts(ctx context.Context, q store.Queries, connID string, certs []store.Certificate) error {
	for _, cert := range certs {
		cert.ConnectionID = connID
		if err := q.PutCertificate(ctx, cert); err != nil {
			return fmt.Errorf("store certificate: %w", err)
		}
	}
	return nil
}

// DefaultCertificateOverlap is how long a certificate that left the IdP's
// metadata stays trusted when CertificateOverlap is not set.
const DefaultCertificateOverlap = 7 * 24 * time.Hour

func (s *Service) certificateOverlap() time.Duration {
	if s.CertificateOverlap > 0 {
		return s.CertificateOverlap
	}
	return DefaultCertificateOverlap
}

// RetireCertificates removes certificates whose overlap has ended.
func (s *Service) RetireCertificates(ctx context.Context) error {
	gone, err := s.Store.DeleteRetiredCertificates(ctx, s.now())
	for _, c := range gone {
		s.Log.Info("retired idp certificate", "connection_id", c.ConnectionID, "fingerprint", c.Fingerprint)
	}
	return err
}

func certRecord(x *x509.Certificate, source string, now time.Time) store.Certificate {
	return store.Certificate{
		Fingerprint: ssosaml.Fingerprint(x), PEM: ssosaml.CertificatePEM(x),
		NotBefore: x.NotBefore, NotAfter: x.NotAfter, Source: source, CreatedAt: now,
	}
}

// AddCertificate adds a trusted IdP signing certificate (rotation).
func (s *Service) AddCertificate(ctx context.Context, connID, pemText string) (store.Certificate, Connection, error) {
	x, err := ssosaml.ParseCertificatePEM(pemText)
	if err != nil {
		return store.Certificate{}, Connection{}, errs.InvalidField("certificate", "invalid_certificate", "Not a PEM or base64 X.509 certificate: "+err.Error())
	}
	rec := certRecord(x, CertManual, s.now())
	rec.ConnectionID = connID
	var out Connection
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		cur, err := s.get(ctx, q, connID)
		if err != nil {
			return err
		}
		if cur.Protocol != store.ProtocolSAML {
			return errs.BadRequest("not_saml", "Only SAML connections have IdP certificates.")
		}
		if err := q.PutCertificate(ctx, rec); err != nil {
			return fmt.Errorf("add certificate: %w", err)
		}
		if err := s.settle(ctx, q, connID, "", &out); err != nil {
			return err
		}
		return renewedEvent(ctx, q, out, rec, s.now())
	})
	return rec, out, err
}

// DeleteCertificate removes a trusted IdP certificate; signatures made with
// it are refused from then on.
func (s *Service) DeleteCertificate(ctx context.Context, connID, fingerprint string) error {
	fingerprint = strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
	return s.Store.InTx(ctx, func(q store.Queries) error {
		if _, err := s.get(ctx, q, connID); err != nil {
			return err
		}
		if err := q.DeleteCertificate(ctx, connID, fingerprint); errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Certificate", fingerprint)
		} else if err != nil {
			return fmt.Errorf("delete certificate: %w", err)
		}
		var out Connection
		return s.settle(ctx, q, connID, "", &out)
	})
}
