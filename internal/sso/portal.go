package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// PortalTestCallbackPath is where an Admin Portal test sign-in lands. It
// is always an allowed redirect_uri (on this install's own base URL).
const PortalTestCallbackPath = "/portal/sso/test/callback"

// SignIn is one authentication attempt as the Admin Portal lists it.
type SignIn struct {
	At           time.Time
	Status       string // started | succeeded | failed | timed_out
	Email        string
	ConnectionID string
	Connection   string // the connection's name, if it still exists
	Code         failure.Code
	Title        string
	Explanation  string
	Fix          string
}

// RecentSignIns returns an organization's latest authentication attempts
// from the outbox, newest first (sso_started is left out).
func (s *Service) RecentSignIns(ctx context.Context, orgID string, limit int) ([]SignIn, error) {
	return s.signIns(ctx, orgID, "", time.Time{}, limit)
}

// LastSignIn returns a connection's latest finished attempt since since,
// or false.
func (s *Service) LastSignIn(ctx context.Context, orgID, connID string, since time.Time) (SignIn, bool, error) {
	out, err := s.signIns(ctx, orgID, connID, since, 1)
	if err != nil || len(out) == 0 {
		return SignIn{}, false, err
	}
	return out[0], true, nil
}

func (s *Service) signIns(ctx context.Context, orgID, connID string, since time.Time, limit int) ([]SignIn, error) {
	names := []string{EventSSOSucceeded, EventSSOFailed, EventSSOTimedOut}
	evs, err := s.Store.ListEvents(ctx, store.EventFilter{Names: names, OrganizationID: orgID, RangeStart: since}, 200, true)
	if err != nil {
		return nil, fmt.Errorf("recent sign-ins: %w", err)
	}
	conns, err := s.Store.ConnectionsForOrganization(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("recent sign-ins: %w", err)
	}
	names2 := map[string]string{}
	for _, c := range conns {
		names2[c.ID] = c.Name
	}
	var out []SignIn
	for _, e := range evs {
		var d authEventData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			continue
		}
		si := SignIn{At: e.CreatedAt, Status: d.Status}
		if d.Email != nil {
			si.Email = *d.Email
		}
		if d.SSO.ConnectionID != nil {
			si.ConnectionID = *d.SSO.ConnectionID
			si.Connection = names2[si.ConnectionID]
		}
		if connID != "" && si.ConnectionID != connID {
			continue
		}
		if d.Error != nil {
			si.Code = failure.Code(d.Error.Code)
			r := failure.Catalogue[si.Code]
			si.Title, si.Explanation, si.Fix = r.Title, r.Explanation, r.Fix
			if si.Title == "" {
				si.Title = d.Error.Message
			}
		}
		if d.Status == "timed_out" && si.Title == "" {
			si.Title = "The sign-in was not finished within 10 minutes"
		}
		out = append(out, si)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// GetFor returns a connection of the organization; another
// organization's connection is not found.
func (s *Service) GetFor(ctx context.Context, orgID, connID string) (Connection, error) {
	c, err := s.Get(ctx, connID)
	if err == nil && c.OrganizationID != orgID {
		return Connection{}, errs.NotFound("Connection", connID)
	}
	return c, err
}

// ConnectionsFor returns an organization's connections with their
// certificates, oldest first.
func (s *Service) ConnectionsFor(ctx context.Context, orgID string) ([]Connection, error) {
	cs, err := s.Store.ConnectionsForOrganization(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	out := make([]Connection, 0, len(cs))
	for _, c := range cs {
		x, err := s.expand(ctx, s.Store, c)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// UpdateFor changes a connection of the organization.
func (s *Service) UpdateFor(ctx context.Context, orgID, connID string, in ConnectionInput) (Connection, error) {
	if _, err := s.GetFor(ctx, orgID, connID); err != nil {
		return Connection{}, err
	}
	in.OrganizationID = ""
	return s.Update(ctx, connID, in)
}

// AddCertificateFor adds an IdP certificate to a connection of the organization.
func (s *Service) AddCertificateFor(ctx context.Context, orgID, connID, pemText string) (store.Certificate, error) {
	if _, err := s.GetFor(ctx, orgID, connID); err != nil {
		return store.Certificate{}, err
	}
	rec, _, err := s.AddCertificate(ctx, connID, pemText)
	return rec, err
}

// DeleteCertificateFor removes an IdP certificate of a connection of the
// organization. The last certificate cannot go: sign-ins would stop.
func (s *Service) DeleteCertificateFor(ctx context.Context, orgID, connID, fingerprint string) error {
	c, err := s.GetFor(ctx, orgID, connID)
	if err != nil {
		return err
	}
	if len(c.Certificates) <= 1 {
		return errs.BadRequest("last_certificate", "This is the connection's only signing certificate. Add the new one first, then remove this one.")
	}
	return s.DeleteCertificate(ctx, connID, fingerprint)
}

// StartTestSignIn begins a real sign-in through a connection of the
// organization that ends on the portal's test callback.
func (s *Service) StartTestSignIn(ctx context.Context, orgID, connID, state, ip, ua string) (Outcome, error) {
	if _, err := s.GetFor(ctx, orgID, connID); err != nil {
		return Outcome{}, err
	}
	return s.Authorize(ctx, AuthorizeParams{ClientID: s.ClientID, RedirectURI: s.BaseURL + PortalTestCallbackPath,
		ResponseType: "code", State: state, Connection: connID, Prompt: "login", IPAddress: ip, UserAgent: ua}), nil
}

// TestSignInProfile redeems the code of a test sign-in of the organization
// for its profile.
func (s *Service) TestSignInProfile(ctx context.Context, orgID, code string) (Profile, error) {
	g, err := s.Store.TakeSSOCode(ctx, secrets.Hash(code))
	if errors.Is(err, store.ErrNotFound) {
		return Profile{}, errs.NotFound("Test sign-in", "code")
	}
	if err != nil {
		return Profile{}, fmt.Errorf("test sign-in: %w", err)
	}
	if g.OrganizationID != orgID || g.RedirectURI != s.BaseURL+PortalTestCallbackPath {
		return Profile{}, errs.NotFound("Test sign-in", "code")
	}
	var p Profile
	if err := json.Unmarshal(g.Profile, &p); err != nil {
		return Profile{}, fmt.Errorf("test sign-in profile: %w", err)
	}
	return p, nil
}
