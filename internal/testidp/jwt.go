package testidp

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
)

// The ID tokens are assembled by hand rather than with a JOSE library,
// because the test knobs need exactly the tokens a library refuses to
// make: alg "none", HS256 keyed with the public key, unknown key IDs.

// b64url encodes b as unpadded base64url, the JOSE encoding.
func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwsSigner signs a JWS signing input (header "." payload).
type jwsSigner func(signingInput []byte) ([]byte, error)

// rs256Signer signs with RSASSA-PKCS1-v1_5 and SHA-256.
func rs256Signer(key *rsa.PrivateKey) jwsSigner {
	return func(in []byte) ([]byte, error) {
		sum := sha256.Sum256(in)
		return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
}

// hs256Signer signs with HMAC-SHA256 under secret.
func hs256Signer(secret []byte) jwsSigner {
	return func(in []byte) ([]byte, error) {
		mac := hmac.New(sha256.New, secret)
		mac.Write(in)
		return mac.Sum(nil), nil
	}
}

// noneSigner makes the empty signature of an unsecured JWS (alg "none").
func noneSigner(_ []byte) ([]byte, error) { return nil, nil }

// signJWT returns the compact serialization of a JWS over claims.
func signJWT(header, claims map[string]any, sign jwsSigner) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("testidp: JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("testidp: JWT claims: %w", err)
	}
	input := b64url(h) + "." + b64url(c)
	sig, err := sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("testidp: sign JWT: %w", err)
	}
	return input + "." + b64url(sig), nil
}

// rsaJWK returns the public JWK of pub.
func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": kid,
		"n":   b64url(pub.N.Bytes()),
		"e":   b64url(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// jwkThumbprint returns the RFC 7638 SHA-256 thumbprint of pub, used as
// its key ID so that a saved key keeps its kid across restarts.
func jwkThumbprint(pub *rsa.PublicKey) string {
	// The members in lexicographic order, without whitespace (RFC 7638 §3).
	canonical := `{"e":"` + b64url(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64url(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64url(sum[:])
}

// publicKeyPEM returns pub as a PEM "PUBLIC KEY" block: the bytes a
// confused verifier uses as the HMAC secret in the HS256 attack.
func publicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// atHash returns the at_hash claim for an RS256 ID token issued with
// accessToken: the left half of its SHA-256 hash (OIDC Core §3.1.3.6).
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64url(sum[:len(sum)/2])
}

// pkceS256 returns the S256 code challenge of verifier (RFC 7636 §4.2).
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64url(sum[:])
}
