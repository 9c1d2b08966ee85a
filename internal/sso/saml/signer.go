package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// ValidateSigned is Validate, also returning the fingerprint (as
// Fingerprint gives it) of the trusted IdP certificate whose key verified
// the response, so the certificate renewal page can show that the IdP's
// next certificate took over. The fingerprint is "" when it cannot be told
// (an assertion signed only inside its encryption, with several trusted
// certificates and no KeyInfo): the response is valid all the same.
func (v *Validator) ValidateSigned(sp *saml.ServiceProvider, raw []byte, requestIDs []string, requireEncrypted bool) (*saml.Assertion, string, error) {
	return v.validate(sp, raw, requestIDs, requireEncrypted, true)
}

// validate is Validate and ValidateSigned; the crewjam path finds the
// signing certificate only when asked.
func (v *Validator) validate(sp *saml.ServiceProvider, raw []byte, requestIDs []string, requireEncrypted, wantSigner bool) (*saml.Assertion, string, error) {
	if (v == nil || !v.off.Load()) && !requireEncrypted {
		if a, k := v.fastValidateSigned(sp, raw, requestIDs); a != nil {
			if v != nil {
				v.accepted.Add(1)
			}
			if !wantSigner {
				return a, "", nil
			}
			return a, k.fingerprint(), nil
		}
		if v != nil {
			v.fellBack.Add(1)
		}
	}
	a, err := ValidateResponse(sp, raw, requestIDs, requireEncrypted)
	if err != nil || !wantSigner {
		return a, "", err
	}
	return a, signerOf(sp, raw, a), nil
}

// fingerprint is the key's certificate's fingerprint, computed once.
func (k *trustedKey) fingerprint() string {
	if k == nil {
		return ""
	}
	k.fpOnce.Do(func() { k.fp = fingerprintDER(k.raw) })
	return k.fp
}

// signerOf finds which of sp's trusted certificates verified a response
// that crewjam accepted: the only one; else the one a signature's KeyInfo
// names (goxmldsig verifies with exactly that one); else the first that
// verifies a signature on the Response or its Assertion on its own.
func signerOf(sp *saml.ServiceProvider, raw []byte, a *saml.Assertion) string {
	var certs []*x509.Certificate
	for _, d := range sp.IDPMetadata.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(stripSpace(c.Data))
				if err != nil {
					continue
				}
				if x, err := x509.ParseCertificate(der); err == nil {
					certs = append(certs, x)
				}
			}
		}
	}
	switch len(certs) {
	case 0:
		return ""
	case 1:
		return Fingerprint(certs[0])
	}
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return ""
	}
	root := doc.Root()
	var signed []*etree.Element
	for _, el := range append([]*etree.Element{root}, root.SelectElements("Assertion")...) {
		if el.SelectElement("Signature") != nil {
			signed = append(signed, el)
		}
	}
	sigs := []*etree.Element{a.Signature}
	for _, el := range signed {
		sigs = append(sigs, el.SelectElement("Signature"))
	}
	for _, sig := range sigs {
		if sig == nil {
			continue
		}
		if x := sig.FindElement("./KeyInfo/X509Data/X509Certificate"); x != nil {
			der, err := base64.StdEncoding.DecodeString(stripSpace(x.Text()))
			if err != nil {
				continue
			}
			for _, c := range certs {
				if bytes.Equal(c.Raw, der) {
					return Fingerprint(c)
				}
			}
		}
	}
	for _, el := range signed {
		for _, c := range certs {
			if verifiesWith(sp, el, c) {
				return Fingerprint(c)
			}
		}
	}
	return ""
}

// verifiesWith reports whether el's enveloped signature verifies with c
// alone.
func verifiesWith(sp *saml.ServiceProvider, el *etree.Element, c *x509.Certificate) bool {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return false
	}
	if ctx, err = ctx.SubContext(el); err != nil {
		return false
	}
	// A detached copy, carrying the namespace declarations it needs.
	if el, err = etreeutils.NSDetatch(ctx, el); err != nil {
		return false
	}
	if sig := el.SelectElement("Signature"); sig != nil {
		// As crewjam: a KeyInfo without a certificate (an RSAKeyValue)
		// is ignored, so dsig uses the one trusted certificate.
		if ki := sig.SelectElement("KeyInfo"); ki != nil && ki.FindElement("./X509Data/X509Certificate") == nil {
			sig.RemoveChild(ki)
		}
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
	vc.IdAttribute = "ID"
	if sp.Clock != nil {
		vc.Clock = sp.Clock
	}
	_, err = vc.Validate(el)
	return err == nil
}
