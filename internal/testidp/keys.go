package testidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// keyBits is the RSA modulus size of generated keys: the smallest size that
// current SAML and OIDC deployments accept.
const keyBits = 2048

// certValidity is how long a generated certificate is valid. It is long so
// that a key pair saved by `gatehouse dev` keeps working across restarts
// for years; nothing here is meant to be trusted outside tests and demos.
const certValidity = 10 * 365 * 24 * time.Hour

// KeyPair is an RSA private key and a self-signed certificate for it, as an
// IdP signs with or an SP encrypts to.
type KeyPair struct {
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// NewKeyPair generates an RSA-2048 key and a self-signed certificate for it
// whose subject common name is commonName. Tests use it for service provider
// keys and to forge "another tenant's" or a look-alike IdP certificate.
func NewKeyPair(commonName string) (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("testidp: generate RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("testidp: certificate serial: %w", err)
	}
	// Backdate a little so that a relying party whose clock is slightly
	// behind still sees a valid certificate.
	notBefore := time.Now().Add(-time.Hour).UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Gatehouse test IdP"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testidp: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testidp: parse certificate: %w", err)
	}
	return &KeyPair{Key: key, Certificate: cert}, nil
}

// ParseKeyPair reads a key pair from a PEM certificate and a PEM private key
// (PKCS #8 "PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY"), as written by
// CertificatePEM and KeyPEM. It checks that the certificate belongs to the
// key.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	certBlock, _ := pem.Decode(certPEM)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" {
		return nil, errors.New("testidp: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testidp: parse certificate: %w", err)
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil {
		return nil, errors.New("testidp: no PEM private key block")
	}
	var key *rsa.PrivateKey
	switch keyBlock.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
		if err != nil {
			return nil, fmt.Errorf("testidp: parse private key: %w", err)
		}
		rsaKey, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("testidp: private key is %T, want RSA", k)
		}
		key = rsaKey
	case "RSA PRIVATE KEY":
		if key, err = x509.ParsePKCS1PrivateKey(keyBlock.Bytes); err != nil {
			return nil, fmt.Errorf("testidp: parse private key: %w", err)
		}
	default:
		return nil, fmt.Errorf("testidp: unexpected PEM block %q", keyBlock.Type)
	}
	kp := &KeyPair{Key: key, Certificate: cert}
	if err := kp.validate(); err != nil {
		return nil, err
	}
	return kp, nil
}

// validate checks that kp is complete and that its certificate holds the
// public half of its key, so that a mismatched pair fails at start-up rather
// than as a puzzling signature error at the relying party.
func (kp *KeyPair) validate() error {
	if kp == nil || kp.Key == nil || kp.Certificate == nil {
		return errors.New("testidp: key pair needs both a key and a certificate")
	}
	pub, ok := kp.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&kp.Key.PublicKey) {
		return errors.New("testidp: certificate does not match the private key")
	}
	return nil
}

// CertificatePEM returns the certificate as a PEM "CERTIFICATE" block.
func (kp *KeyPair) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Certificate.Raw})
}

// KeyPEM returns the private key as a PEM PKCS #8 "PRIVATE KEY" block. Keep
// it out of logs: it signs assertions the relying party trusts.
func (kp *KeyPair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		return nil, fmt.Errorf("testidp: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
