package saml_test

import (
	"crypto/x509"
	"testing"

	ssosaml "github.com/gatehouse-dev/gatehouse/internal/sso/saml"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestValidateSignedNamesTheCertificate: during a rollover the connection
// trusts two certificates; whichever the IdP signs with is the one named,
// by the fast path and by crewjam, with KeyInfo or without it, and for an
// encrypted assertion.
func TestValidateSignedNamesTheCertificate(t *testing.T) {
	idp := newIdP(t)
	next, err := testidp.NewKeyPair("next IdP key")
	if err != nil {
		t.Fatal(err)
	}
	spKey, err := testidp.NewKeyPair("sp key")
	if err != nil {
		t.Fatal(err)
	}
	oldFP, nextFP := ssosaml.Fingerprint(idp.KeyPair().Certificate), ssosaml.Fingerprint(next.Certificate)
	crewjamOnly := &ssosaml.Validator{}
	crewjamOnly.SetFastPath(false)
	cases := []struct {
		name      string
		opts      testidp.ResponseOptions
		certs     []*x509.Certificate
		encrypted bool
		want      string
	}{
		{"old key, both trusted", testidp.ResponseOptions{}, []*x509.Certificate{idp.KeyPair().Certificate, next.Certificate}, false, oldFP},
		{"next key, both trusted", testidp.ResponseOptions{SigningKey: next}, []*x509.Certificate{idp.KeyPair().Certificate, next.Certificate}, false, nextFP},
		{"next key without KeyInfo", testidp.ResponseOptions{SigningKey: next, OmitKeyInfo: true}, []*x509.Certificate{idp.KeyPair().Certificate, next.Certificate}, false, nextFP},
		{"assertion signed only, without KeyInfo", testidp.ResponseOptions{SigningKey: next, OmitKeyInfo: true, Signing: testidp.SignAssertion}, []*x509.Certificate{next.Certificate, idp.KeyPair().Certificate}, false, nextFP},
		{"the only trusted certificate", testidp.ResponseOptions{SigningKey: next}, []*x509.Certificate{next.Certificate}, false, nextFP},
		{"encrypted assertion", testidp.ResponseOptions{SigningKey: next, EncryptTo: spKey.Certificate}, []*x509.Certificate{idp.KeyPair().Certificate, next.Certificate}, true, nextFP},
	}
	for _, c := range cases {
		for _, v := range []struct {
			name string
			v    *ssosaml.Validator
		}{{"fast path", &ssosaml.Validator{}}, {"crewjam", crewjamOnly}} {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				opts := c.opts
				opts.ServiceProvider, opts.User = spEntity, testidp.User{Email: "alice@example.com"}
				resp, err := idp.Response(opts)
				if err != nil {
					t.Fatal(err)
				}
				sp, err := ssosaml.NewServiceProvider(ssosaml.Config{EntityID: spEntity, ACSURL: spACS, MetadataURL: spEntity,
					IdPEntityID: idp.EntityID(), IdPSSOURL: idp.SSOURL(), Certificates: c.certs, AllowIdPInitiated: true,
					ReplayCache: &memReplay{}, Key: spKey.Key, Certificate: spKey.Certificate})
				if err != nil {
					t.Fatal(err)
				}
				raw, err := ssosaml.DecodeResponse(resp)
				if err != nil {
					t.Fatal(err)
				}
				a, fp, err := v.v.ValidateSigned(sp, raw, nil, c.encrypted)
				if err != nil || a == nil {
					t.Fatalf("refused: %v", err)
				}
				if fp != c.want {
					t.Errorf("verifying certificate %.12s, want %.12s", fp, c.want)
				}
			})
		}
	}
}
