package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TokenParams are the fields of POST /sso/token, from the form, the JSON
// body or the query.
type TokenParams struct {
	ClientID, ClientSecret, GrantType, Code, CodeVerifier string
	// BearerKeys are the Authorization: Bearer values (GO7 sends the API
	// key there as well as in the body).
	BearerKeys []string
}

// OAuthError is an error of the token endpoint in OAuth's shape.
type OAuthError struct {
	Status      int
	Code        string
	Description string
}

// Error returns the OAuth error code and description.
func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// Token exchanges a one-time code for an access token and the profile.
func (s *Service) Token(ctx context.Context, p TokenParams) (TokenResponse, error) {
	if p.GrantType != "authorization_code" {
		return TokenResponse{}, &OAuthError{400, "unsupported_grant_type", "grant_type must be authorization_code."}
	}
	if subtle.ConstantTimeCompare([]byte(p.ClientID), []byte(s.ClientID)) != 1 {
		return TokenResponse{}, &OAuthError{400, "invalid_client", "client_id is not this Gatehouse's client ID."}
	}
	candidates := p.BearerKeys
	if p.ClientSecret != "" {
		candidates = []string{p.ClientSecret}
	}
	ok := false
	for _, sec := range candidates {
		if _, err := s.Store.APIKeyByHash(ctx, secrets.Hash(sec)); err == nil {
			ok = true
			break
		} else if !errors.Is(err, store.ErrNotFound) {
			return TokenResponse{}, fmt.Errorf("check client secret: %w", err)
		}
	}
	if !ok {
		return TokenResponse{}, &OAuthError{400, "invalid_client", "client_secret must be a valid API key."}
	}
	if p.Code == "" {
		return TokenResponse{}, &OAuthError{400, "invalid_grant", "code is required."}
	}
	// One write transaction: the code is taken and the access token stored
	// together. A code that is expired or fails PKCE is used up all the
	// same (the take commits, no token is made).
	var prof Profile
	var refusal *OAuthError
	tok := secrets.Token(32)
	err := s.loginTx(ctx, func(q store.Queries) error {
		refusal, prof = nil, Profile{}
		g, err := q.TakeSSOCode(ctx, secrets.Hash(p.Code))
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && s.now().After(g.ExpiresAt)):
			refusal = &OAuthError{400, "invalid_grant", "The code is invalid, expired or already used."}
			return nil
		case err != nil:
			return fmt.Errorf("take code: %w", err)
		case g.CodeChallenge != "" && !pkceMatches(g.CodeChallenge, g.CodeChallengeMethod, p.CodeVerifier):
			refusal = &OAuthError{400, "invalid_grant", "code_verifier does not match the code_challenge."}
			return nil
		}
		if err := json.Unmarshal(g.Profile, &prof); err != nil {
			return fmt.Errorf("stored profile: %w", err)
		}
		g.Hash, g.ExpiresAt = secrets.Hash(tok), s.now().Add(TokenLifetime)
		if err := q.CreateSSOToken(ctx, g); err != nil {
			return fmt.Errorf("store access token: %w", err)
		}
		return nil
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if refusal != nil {
		return TokenResponse{}, refusal
	}
	return TokenResponse{TokenType: "Bearer", AccessToken: tok, ExpiresIn: int(TokenLifetime.Seconds()), Profile: prof}, nil
}

func pkceMatches(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// ErrNoAccessToken is returned by Profile when no bearer value is a live
// access token.
var ErrNoAccessToken = errors.New("no valid access token")

// ProfileFor returns the profile of the first bearer value that is a live
// access token. GO7 sends its API key as the first Authorization header;
// the access token must then come as a second one.
func (s *Service) ProfileFor(ctx context.Context, bearers []string) (Profile, error) {
	for _, b := range bearers {
		g, err := s.Store.GetSSOToken(ctx, secrets.Hash(b))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Profile{}, fmt.Errorf("look up access token: %w", err)
		}
		if s.now().After(g.ExpiresAt) {
			continue
		}
		var prof Profile
		if err := json.Unmarshal(g.Profile, &prof); err != nil {
			return Profile{}, fmt.Errorf("stored profile: %w", err)
		}
		return prof, nil
	}
	return Profile{}, ErrNoAccessToken
}
