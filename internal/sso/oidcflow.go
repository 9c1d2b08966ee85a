package sso

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
	"github.com/gatehouse-dev/gatehouse/internal/sso/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// OIDCCallback handles the provider's redirect back to a connection, in
// the browser that started the login.
func (s *Service) OIDCCallback(ctx context.Context, connID string, q url.Values, ip, ua string, browser Browser) (o Outcome) {
	conn, err := s.Store.GetConnection(ctx, connID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Outcome{ErrorCode: "server_error", Err: failure.New(failure.InternalError, err)}
	}
	if err != nil || conn.Protocol != store.ProtocolOIDC {
		return Outcome{ErrorCode: "connection_invalid", Err: failure.Newf(failure.ConnectionInvalid, "no OIDC connection %q", connID)}
	}
	state := q.Get("state")
	if state == "" || len(state) > 80 {
		f := failure.Newf(failure.StateInvalid, "the callback has no valid state")
		s.recordFailure(ctx, conn, ip, ua, f)
		return Outcome{ErrorCode: "invalid_request", Err: f}
	}
	req, err := s.Store.TakeSSORequest(ctx, state)
	if err != nil || req.ConnectionID != conn.ID || s.now().After(req.ExpiresAt) {
		f := failure.Newf(failure.StateInvalid, "unknown, expired, used, or another connection's state")
		s.recordFailure(ctx, conn, ip, ua, f)
		return Outcome{ErrorCode: "invalid_request", Err: f}
	}
	defer func() { o.Unbind = req.ID }()
	fail := func(f *failure.Error) Outcome {
		s.recordFailure(ctx, conn, ip, ua, f)
		return Outcome{RedirectURI: req.RedirectURI, State: req.State, ErrorCode: oauthErrorCode(f.Code), Err: f}
	}
	if f := checkBrowser(req, browser); f != nil {
		return fail(f)
	}
	if conn.State != store.ConnectionActive {
		return fail(failure.Newf(failure.ConnectionInactive, "connection is %s", conn.State))
	}
	cfg, err := s.oidcConfig(conn)
	if err != nil {
		return fail(failure.New(failure.InternalError, err))
	}
	ident, err := s.OIDC.Callback(ctx, cfg, q, req.Nonce, req.CodeVerifier)
	if err != nil {
		return fail(asFailure(err))
	}
	prof, ferr := s.oidcProfile(conn, ident)
	if ferr != nil {
		return fail(ferr)
	}
	return s.succeed(ctx, conn, &req, false, prof, ip, ua, nil, "")
}

func (s *Service) oidcConfig(c store.Connection) (oidc.Config, error) {
	cfg := oidc.Config{Issuer: c.OIDC.Issuer, ClientID: c.OIDC.ClientID, Scopes: c.OIDC.Scopes, RedirectURL: s.OIDCRedirectURI(c.ID)}
	if c.OIDC.ClientSecretSealed != "" {
		b, err := s.Sealer.Open(c.OIDC.ClientSecretSealed, c.ID+"/oidc_client_secret")
		if err != nil {
			return cfg, fmt.Errorf("open client secret: %w", err)
		}
		cfg.ClientSecret = string(b)
	}
	return cfg, nil
}
