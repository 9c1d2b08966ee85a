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

// Sealed values are "v2:<key id>:<base64 nonce+ciphertext>"; the key ID
// names the master key that sealed them, so several keys can be configured
// at once during a rotation. Values from before key IDs ("v1:…") are opened
// by trying each key.
const (
	versionV1 = "v1:"
	versionV2 = "v2:"
)

// Sealer seals with the first of its master keys and opens with any of them.
type Sealer struct {
	keys   []sealKey // keys[0] seals
	macKey []byte
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// KeyID names a master key without revealing it: the first 8 hex digits of
// a hash of it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("gatehouse/key-id/v1\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// NewSealer returns a Sealer for one or more 32-byte keys, newest first:
// it seals with the first and opens values sealed with any of them.
func NewSealer(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no secret key")
	}
	s := &Sealer{}
	seen := map[string]bool{}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret key %d must be %d bytes, got %d", i+1, KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if seen[id] {
			return nil, fmt.Errorf("secret key %d is listed twice", i+1)
		}
		seen[id] = true
		s.keys = append(s.keys, sealKey{id: id, aead: aead})
	}
	mac := hmac.New(sha256.New, keys[0])
	mac.Write([]byte("gatehouse/mac-key/v1"))
	s.macKey = mac.Sum(nil)
	return s, nil
}

// CurrentKeyID is the ID of the key new values are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.keys[0].id }

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
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, plaintext, []byte(label))
	return versionV2 + k.id + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same label, under any of the
// configured keys.
func (s *Sealer) Open(sealed, label string) ([]byte, error) {
	candidates := s.keys
	var rest string
	if r, ok := strings.CutPrefix(sealed, versionV2); ok {
		id, body, ok := strings.Cut(r, ":")
		if !ok {
			return nil, errors.New("sealed value is corrupt")
		}
		candidates = nil
		for _, k := range s.keys {
			if k.id == id {
				candidates = []sealKey{k}
			}
		}
		if candidates == nil {
			return nil, fmt.Errorf("sealed value was sealed with master key %s, which is not in GATEHOUSE_SECRET_KEY", id)
		}
		rest = body
	} else if r, ok := strings.CutPrefix(sealed, versionV1); ok {
		rest = r
	} else {
		return nil, errors.New("sealed value has an unknown format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("sealed value is corrupt")
	}
	for _, k := range candidates {
		if len(b) < k.aead.NonceSize() {
			return nil, errors.New("sealed value is corrupt")
		}
		if pt, err := k.aead.Open(nil, b[:k.aead.NonceSize()], b[k.aead.NonceSize():], []byte(label)); err == nil {
			return pt, nil
		}
	}
	return nil, errors.New("sealed value cannot be opened with this key (wrong GATEHOUSE_SECRET_KEY?)")
}

// Current reports whether sealed is sealed with the current (first) key.
func (s *Sealer) Current(sealed string) bool {
	return strings.HasPrefix(sealed, versionV2+s.keys[0].id+":")
}

// Reseal opens sealed with any key and seals it again with the current one;
// a value already sealed with the current key comes back unchanged.
func (s *Sealer) Reseal(sealed, label string) (string, error) {
	if sealed == "" || s.Current(sealed) {
		return sealed, nil
	}
	pt, err := s.Open(sealed, label)
	if err != nil {
		return "", err
	}
	return s.Seal(pt, label), nil
}

// ParseKeys decodes GATEHOUSE_SECRET_KEY: one key, or several separated by
// commas, newest first (the first seals; all open).
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		k, err := ParseKey(part)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
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

// ResealWith reseals one stored value with the current key and writes it
// back through replace, a compare-and-set that reports false when the
// stored value changed meanwhile. It returns whether a value was rewritten;
// values already current, empty ones and lost races are left for the writer
// that changed them (which sealed with the current key).
func (s *Sealer) ResealWith(sealed, label string, replace func(old, new string) (bool, error)) (bool, error) {
	if sealed == "" || s.Current(sealed) {
		return false, nil
	}
	fresh, err := s.Reseal(sealed, label)
	if err != nil {
		return false, fmt.Errorf("reseal %s: %w", label, err)
	}
	return replace(sealed, fresh)
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

// Hash is how Gatehouse stores a secret it only needs to recognise (API
// keys, SCIM tokens, portal links and sessions, one-time codes): SHA-256.
// The secrets are long random values, so a fast hash is enough.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
