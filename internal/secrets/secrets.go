// Package secrets seals values that Gatehouse must be able to read back
// (OIDC client secrets, SP private keys, Google service-account keys) with
// AES-256-GCM under the install's master key, and makes random tokens.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key's length in bytes.
const KeySize = 32

// version prefixes sealed values so the scheme can change later.
const version = "v1:"

// Sealer seals and opens values under one master key.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
}

// Token returns n random bytes as unpadded base64url: for secrets and
// protocol values that need a given strength or length (API keys, SCIM
// tokens, SSO codes, PKCE verifiers of 43+ characters). Where 128 bits in
// base32 do, crypto/rand.Text is simpler.
func Token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("gatehouse/mac-key/v1"))
	return &Sealer{aead: aead, macKey: mac.Sum(nil)}, nil
}

// MAC authenticates msg for one use (label), under a key derived from the
// master key, so links the server signs (for example audit log downloads)
// cannot be forged and stay valid on every node.
func (s *Sealer) MAC(label string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// Seal encrypts plaintext; label binds the result to its use (for example
// "conn_…/oidc_client_secret") so a sealed value cannot be moved elsewhere.
func (s *Sealer) Seal(plaintext []byte, label string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, plaintext, []byte(label))
	return version + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same label.
func (s *Sealer) Open(sealed, label string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, version)
	if !ok {
		return nil, errors.New("sealed value has an unknown format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, errors.New("sealed value is corrupt")
	}
	pt, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, errors.New("sealed value cannot be opened with this key (wrong GATEHOUSE_SECRET_KEY?)")
	}
	return pt, nil
}

// ParseKey decodes a master key given as hex or base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("GATEHOUSE_SECRET_KEY must be %d bytes as hex (64 characters) or base64", KeySize)
}

// LoadOrCreateKeyFile reads the key at dir/secret.key, creating it with a
// new random key (mode 0600) on first use. For single-node dev set-ups only:
// with PostgreSQL every node must share GATEHOUSE_SECRET_KEY.
func LoadOrCreateKeyFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		return ParseKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(dir) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}
