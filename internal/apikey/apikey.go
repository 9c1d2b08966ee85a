// Package apikey manages the management API's keys: create (the secret is
// shown once), list (never the secret), revoke. Keys are install-wide, not
// per organization; only their SHA-256 hashes are stored.
package apikey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
	"github.com/gatehouse-dev/gatehouse/internal/wire"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// maxName bounds a key's name.
const maxName = 200

// NewSecret returns a new random API key, "sk_" + 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "sk_" + base64.RawURLEncoding.EncodeToString(b)
}

// JSON is an API key as the API shows it: never the secret, only a hint.
type JSON struct {
	Object          string  `json:"object"`
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	ObfuscatedValue string  `json:"obfuscated_value"`
	CreatedAt       string  `json:"created_at"`
	LastUsedAt      *string `json:"last_used_at"`
	// Value is the secret, set only in the answer that creates the key.
	Value string `json:"value,omitempty"`
}

func toJSON(k store.APIKey) JSON {
	return JSON{Object: "api_key", ID: k.ID, Name: k.Name, ObfuscatedValue: "sk_…" + k.Suffix,
		CreatedAt: wire.Time(k.CreatedAt), LastUsedAt: wire.TimePtr(k.LastUsedAt)}
}

// Service is the API key rules; the only caller of the store for keys.
type Service struct {
	Store store.APIKeys
}

// Create makes a key named name and returns it with its secret (Value),
// which is not stored and cannot be shown again.
func (s *Service) Create(ctx context.Context, name string) (JSON, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return JSON{}, errs.InvalidField("name", "required", "name is required: say what the key is for, e.g. \"ci\".")
	case utf8.RuneCountInString(name) > maxName:
		return JSON{}, errs.InvalidField("name", "too_long", fmt.Sprintf("name must be at most %d characters.", maxName))
	}
	secret := NewSecret()
	k, err := s.register(ctx, secret, name)
	if err != nil {
		return JSON{}, err
	}
	j := toJSON(k)
	j.Value = secret
	return j, nil
}

// Register stores a key whose secret is given (GATEHOUSE_API_KEY); a key
// with the same secret already stored is kept as it is.
func (s *Service) Register(ctx context.Context, secret, name string) error {
	_, err := s.register(ctx, secret, name)
	return err
}

func (s *Service) register(ctx context.Context, secret, name string) (store.APIKey, error) {
	suffix := secret
	if len(suffix) > 4 {
		suffix = suffix[len(suffix)-4:]
	}
	k := store.APIKey{ID: id.New("key"), Name: name, Hash: secrets.Hash(secret), Suffix: suffix, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.Store.UpsertAPIKey(ctx, k); err != nil {
		return k, fmt.Errorf("register api key: %w", err)
	}
	return k, nil
}

// List returns every key, newest first.
func (s *Service) List(ctx context.Context) ([]JSON, error) {
	ks, err := s.Store.ListAPIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]JSON, len(ks))
	for i, k := range ks {
		out[i] = toJSON(k)
	}
	return out, nil
}

// Revoke deletes a key; requests with it fail from then on, on every node.
func (s *Service) Revoke(ctx context.Context, keyID string) error {
	err := s.Store.DeleteAPIKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFound("API key", keyID)
	}
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// Handler serves /api_keys.
type Handler struct {
	Svc *Service
}

// Routes registers the API key routes.
func (h *Handler) Routes(r api.Router) {
	r.API("GET /api_keys", h.list)
	r.API("POST /api_keys", h.create)
	r.API("DELETE /api_keys/{id}", h.revoke)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	ks, err := h.Svc.List(r.Context())
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.NewList(ks, store.PageInfo{}))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	k, err := h.Svc.Create(r.Context(), in.Name)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, k)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) error {
	if err := h.Svc.Revoke(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusNoContent, nil)
}
