package sso

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/events"
	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (s *Service) refreshInterval() time.Duration {
	if s.MetadataRefresh > 0 {
		return s.MetadataRefresh
	}
	return 12 * time.Hour
}

// fetchMetadata GETs a metadata URL through the SSRF guard.
func (s *Service) fetchMetadata(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	res, err := s.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch metadata: %s answered %d", u, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, ssosaml.MaxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	if len(b) > ssosaml.MaxMetadata {
		return nil, fmt.Errorf("fetch metadata: larger than %d bytes", ssosaml.MaxMetadata)
	}
	return b, nil
}

// RefreshMetadata fetches a SAML connection's metadata URL again and
// replaces its metadata certificates, or retries an OIDC connection's
// failed discovery. The URL or issuer is read from the connection as
// stored when the update is applied, not from c: a snapshot taken before
// an admin moved the connection elsewhere must not put the old IdP back.
func (s *Service) RefreshMetadata(ctx context.Context, c store.Connection) error {
	if _, ok := refetch(c); !ok {
		return nil
	}
	_, err := s.update(ctx, c.ID, refetch)
	return err
}

// refetch is the update that fetches again what c is configured with.
func refetch(c store.Connection) (ConnectionInput, bool) {
	var in ConnectionInput
	switch {
	case c.Protocol == store.ProtocolSAML && c.SAML.IdPMetadataURL != "":
		u := c.SAML.IdPMetadataURL
		in.SAML = &SAMLInput{IdPMetadataURL: &u}
	case c.Protocol == store.ProtocolOIDC && c.OIDC.Issuer != "":
		iss := c.OIDC.Issuer
		in.OIDC = &OIDCInput{Issuer: &iss}
	default:
		return in, false
	}
	return in, true
}

// TimeOutLogins reports logins that were started and never completed
// within RequestLifetime: authentication.sso_timed_out, once each.
func (s *Service) TimeOutLogins(ctx context.Context) error {
	for {
		var n int
		err := s.Store.InTx(ctx, func(q store.Queries) error {
			reqs, err := q.TakeExpiredSSORequests(ctx, s.now(), 100)
			if err != nil {
				return err
			}
			n = len(reqs)
			for _, r := range reqs {
				conn := store.Connection{ID: r.ConnectionID, OrganizationID: r.OrganizationID}
				if err := events.Append(ctx, q, EventSSOTimedOut, r.OrganizationID, authEvent("timed_out", conn, r.IPAddress, r.UserAgent, "", nil)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n < 100 {
			return err
		}
	}
}

// SweepExpired deletes expired login state and times out logins that
// never came back from the IdP.
func (s *Service) SweepExpired(ctx context.Context) error {
	if err := s.Store.DeleteExpiredSSO(ctx, s.now()); err != nil {
		return fmt.Errorf("sweep sso state: %w", err)
	}
	if err := s.TimeOutLogins(ctx); err != nil {
		return fmt.Errorf("time out sso logins: %w", err)
	}
	return nil
}

// RefreshDueMetadata fetches the IdP metadata URLs whose refresh is due,
// each claimed once across nodes. A failed fetch is logged and kept for
// the next round; only a failed claim is an error.
func (s *Service) RefreshDueMetadata(ctx context.Context) error {
	now := s.now()
	due, err := s.Store.ClaimDueMetadataRefresh(ctx, now, now.Add(s.refreshInterval()), 20)
	if err != nil {
		return fmt.Errorf("claim metadata refresh: %w", err)
	}
	for _, c := range due {
		if err := s.RefreshMetadata(ctx, c); err != nil {
			s.Log.Warn("refresh idp metadata", "connection_id", c.ID, "err", err)
		}
	}
	return nil
}
