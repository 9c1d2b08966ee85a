package sso

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Policy values.
const (
	PolicyOptional = "optional"
	PolicyRequired = "required"
)

// PolicyJSON is the answer of GET /sso/policy and PUT …/sso_policy.
type PolicyJSON struct {
	Object         string  `json:"object"`
	OrganizationID string  `json:"organization_id"`
	ConnectionID   *string `json:"connection_id"`
	Policy         string  `json:"policy"`
}

// SetPolicy sets an organization's SSO policy; "required" needs an active
// connection and a verified domain, so that no user is locked out.
func (s *Service) SetPolicy(ctx context.Context, orgID, policy string) (PolicyJSON, error) {
	if policy != PolicyOptional && policy != PolicyRequired {
		return PolicyJSON{}, errs.InvalidField("policy", "invalid", "policy must be optional or required.")
	}
	var out PolicyJSON
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetOrganization(ctx, orgID); errors.Is(err, store.ErrNotFound) {
			return errs.NotFound("Organization", orgID)
		} else if err != nil {
			return err
		}
		conn := ""
		cs, err := q.ConnectionsForOrganization(ctx, orgID)
		if err != nil {
			return fmt.Errorf("connections: %w", err)
		}
		for _, c := range cs {
			if c.State == store.ConnectionActive {
				conn = c.ID
				break
			}
		}
		if policy == PolicyRequired {
			if conn == "" {
				return errs.InvalidField("policy", "no_active_connection", "SSO can be required only once the organization has an active connection.")
			}
			ds, err := q.ListDomains(ctx, orgID)
			if err != nil {
				return err
			}
			verified := false
			for _, d := range ds {
				verified = verified || d.State == store.DomainVerified
			}
			if !verified {
				return errs.InvalidField("policy", "no_verified_domain", "SSO can be required only once the organization has a verified domain.")
			}
		}
		if _, err := s.Orgs.SetSSOPolicy(ctx, q, orgID, policy); err != nil {
			return err
		}
		out = PolicyJSON{Object: "sso_policy", OrganizationID: orgID, ConnectionID: wire.StrPtr(conn), Policy: policy}
		return nil
	})
	return out, err
}

// PolicyForEmail routes an email by its verified domain.
func (s *Service) PolicyForEmail(ctx context.Context, email string) (PolicyJSON, error) {
	_, domain, ok := strings.Cut(strings.TrimSpace(email), "@")
	if !ok || domain == "" {
		return PolicyJSON{}, errs.InvalidField("email", "invalid", "email must be an email address.")
	}
	d, err := s.Store.VerifiedDomain(ctx, strings.ToLower(domain))
	if errors.Is(err, store.ErrNotFound) {
		return PolicyJSON{}, &errs.Error{Kind: errs.KindNotFound, Code: "entity_not_found", Message: fmt.Sprintf("No organization has verified %s.", strings.ToLower(domain))}
	}
	if err != nil {
		return PolicyJSON{}, err
	}
	org, err := s.Store.GetOrganization(ctx, d.OrganizationID)
	if err != nil {
		return PolicyJSON{}, err
	}
	conn, err := s.activeConnection(ctx, org.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return PolicyJSON{}, err
	}
	policy := org.SSOPolicy
	if policy == "" {
		policy = PolicyOptional
	}
	return PolicyJSON{Object: "sso_policy", OrganizationID: org.ID, ConnectionID: wire.StrPtr(conn.ID), Policy: policy}, nil
}

// RedirectURIJSON is an allow-listed redirect URI.
type RedirectURIJSON struct {
	Object    string `json:"object"`
	ID        string `json:"id"`
	URI       string `json:"uri"`
	Default   bool   `json:"default"`
	CreatedAt string `json:"created_at"`
}

func redirectJSON(r store.RedirectURI) RedirectURIJSON {
	return RedirectURIJSON{Object: "redirect_uri", ID: r.ID, URI: r.URI, Default: r.Default, CreatedAt: wire.Time(r.CreatedAt)}
}

// AddRedirectURI allow-lists a redirect URI.
func (s *Service) AddRedirectURI(ctx context.Context, uri string, def bool) (RedirectURIJSON, error) {
	uri = strings.TrimSpace(uri)
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || ((u.Scheme == "http" || u.Scheme == "https") && u.Host == "") || u.Fragment != "" {
		return RedirectURIJSON{}, errs.InvalidField("uri", "invalid_url", "uri must be an absolute URL without a fragment.")
	}
	if strings.EqualFold(u.Scheme, "javascript") || strings.EqualFold(u.Scheme, "data") || strings.EqualFold(u.Scheme, "vbscript") {
		return RedirectURIJSON{}, errs.InvalidField("uri", "invalid_url", "uri must not use the "+u.Scheme+" scheme.")
	}
	r := store.RedirectURI{ID: id.New("redirect_uri"), URI: uri, Default: def, CreatedAt: time.Now()}
	err = s.Store.InTx(ctx, func(q store.Queries) error { return q.CreateRedirectURI(ctx, r) })
	if errors.Is(err, store.ErrConflict) {
		return RedirectURIJSON{}, errs.Conflict("redirect_uri_exists", "This redirect URI is already on the allow-list.")
	}
	if err != nil {
		return RedirectURIJSON{}, fmt.Errorf("add redirect uri: %w", err)
	}
	return redirectJSON(r), nil
}

// ListRedirectURIs returns the API-managed allow-list.
func (s *Service) ListRedirectURIs(ctx context.Context) ([]RedirectURIJSON, error) {
	rs, err := s.Store.ListRedirectURIs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list redirect uris: %w", err)
	}
	out := []RedirectURIJSON{}
	for _, r := range rs {
		out = append(out, redirectJSON(r))
	}
	return out, nil
}

// DeleteRedirectURI removes an allow-listed redirect URI.
func (s *Service) DeleteRedirectURI(ctx context.Context, uriID string) error {
	err := s.Store.DeleteRedirectURI(ctx, uriID)
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFound("Redirect URI", uriID)
	}
	return err
}

// redirectAllowed reports whether uri is exactly on the allow-list.
func (s *Service) redirectAllowed(ctx context.Context, uri string) bool {
	if uri == s.BaseURL+PortalTestCallbackPath {
		return true
	}
	for _, u := range s.RedirectURIs {
		if u == uri {
			return true
		}
	}
	rs, err := s.Store.ListRedirectURIs(ctx)
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.URI == uri {
			return true
		}
	}
	return false
}

// DefaultRedirectURI is where IdP-initiated logins land: the API's default
// URI, else its first, else the first configured one.
func (s *Service) DefaultRedirectURI(ctx context.Context) string {
	rs, _ := s.Store.ListRedirectURIs(ctx)
	for _, r := range rs {
		if r.Default {
			return r.URI
		}
	}
	if len(s.RedirectURIs) > 0 {
		return s.RedirectURIs[0]
	}
	if len(rs) > 0 {
		return rs[0].URI
	}
	return ""
}
