package sso

import (
	"context"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/events"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Certificate event names (WorkOS catalogue).
const (
	EventCertRenewalRequired = "connection.saml_certificate_renewal_required"
	EventCertRenewed         = "connection.saml_certificate_renewed"
)

// renewalThresholds are the days before expiry at which a notice is sent;
// an expired certificate gets a last notice (threshold 0).
var renewalThresholds = []int{30, 14, 7, 3, 1}

type certEventConn struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
}

type certEventCert struct {
	CertificateType string `json:"certificate_type"`
	ExpiryDate      string `json:"expiry_date"`
	IsExpired       *bool  `json:"is_expired,omitempty"`
}

type renewalRequired struct {
	Connection      certEventConn `json:"connection"`
	Certificate     certEventCert `json:"certificate"`
	DaysUntilExpiry int           `json:"days_until_expiry"`
	// Reason and Fingerprint (Gatehouse extensions) are set when the IdP
	// signed with a certificate the connection does not have yet.
	Reason      string `json:"reason,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

type renewed struct {
	Connection  certEventConn `json:"connection"`
	Certificate certEventCert `json:"certificate"`
	RenewedAt   string        `json:"renewed_at"`
}

// threshold returns the notice threshold a certificate has reached, or -1.
func threshold(notAfter, now time.Time) (th, days int) {
	left := notAfter.Sub(now)
	if left <= 0 {
		return 0, int(math.Floor(left.Hours() / 24))
	}
	days = int(math.Ceil(left.Hours() / 24))
	th = -1
	for _, t := range renewalThresholds {
		if days <= t {
			th = t
		}
	}
	return th, days
}

// NotifyExpiringCertificates appends connection.saml_certificate_renewal_required
// for IdP certificates 30, 14, 7, 3 and 1 day(s) before they expire and once
// expired; each notice is sent once, by one node.
func (s *Service) NotifyExpiringCertificates(ctx context.Context) error {
	now := s.now()
	certs, err := s.Store.CertificatesExpiringBefore(ctx, now.Add(time.Duration(renewalThresholds[0])*24*time.Hour))
	if err != nil {
		return fmt.Errorf("expiring certificates: %w", err)
	}
	for _, c := range certs {
		th, days := threshold(c.NotAfter, now)
		if th < 0 || (c.RenewalNotified >= 0 && c.RenewalNotified <= th) {
			continue
		}
		expired := th == 0
		err := s.Store.InTx(ctx, func(q store.Queries) error {
			ok, err := q.MarkCertificateNotified(ctx, c.ConnectionID, c.Fingerprint, th)
			if err != nil || !ok {
				return err
			}
			conn, err := q.GetConnection(ctx, c.ConnectionID)
			if err != nil {
				return err
			}
			return events.Append(ctx, q, EventCertRenewalRequired, conn.OrganizationID, renewalRequired{
				Connection:      certEventConn{ID: conn.ID, OrganizationID: conn.OrganizationID},
				Certificate:     certEventCert{CertificateType: "ResponseSigning", ExpiryDate: wire.Time(c.NotAfter), IsExpired: &expired},
				DaysUntilExpiry: days,
			})
		})
		if err != nil {
			return fmt.Errorf("certificate notice %s: %w", c.Fingerprint, err)
		}
	}
	return nil
}

// renewedEvent is appended when an IdP certificate is added to a connection.
func renewedEvent(ctx context.Context, q store.Queries, conn Connection, c store.Certificate, now time.Time) error {
	return events.Append(ctx, q, EventCertRenewed, conn.OrganizationID, renewed{
		Connection:  certEventConn{ID: conn.ID, OrganizationID: conn.OrganizationID},
		Certificate: certEventCert{CertificateType: "ResponseSigning", ExpiryDate: wire.Time(c.NotAfter)},
		RenewedAt:   wire.Time(now),
	})
}
