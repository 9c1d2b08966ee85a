// Package saml is Gatehouse's SAML 2.0 service provider, built on
// github.com/crewjam/saml: a ServiceProvider is made per connection per
// request from stored configuration (no SP state lives in memory), SP
// metadata is rendered from it, AuthnRequests go out with the HTTP-Redirect
// binding (or HTTP-POST when the IdP asks for it) and responses come back
// to the ACS with HTTP-POST. Validation is strict and every rejection is a
// *failure.Error with a typed code.
package saml

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-dev/gatehouse/internal/sso/failure"
)

// crewjam's time tolerances are package globals. They are set here once,
// at program start, and never changed afterwards: responses may be at most
// 90 s old when they arrive, and clocks may disagree by one minute.
func init() {
	saml.MaxIssueDelay = 90 * time.Second
	saml.MaxClockSkew = 60 * time.Second
}

// Size limits for outside input.
const (
	// MaxEncodedResponse bounds the base64 SAMLResponse form field.
	MaxEncodedResponse = 512 << 10
	// MaxMetadata bounds IdP metadata XML.
	MaxMetadata = 1 << 20
)

// Config is one connection's SP and IdP settings.
type Config struct {
	EntityID    string // our entity ID for this connection
	ACSURL      string
	MetadataURL string

	IdPEntityID string
	IdPSSOURL   string
	// IdPSSOBinding is the binding of IdPSSOURL: BindingRedirect (default)
	// or BindingPOST.
	IdPSSOBinding string
	Certificates  []*x509.Certificate // trusted IdP signing certificates

	// AllowIdPInitiated accepts responses without InResponseTo.
	AllowIdPInitiated bool
	// AllowSHA1 accepts RSA-SHA1 signatures and SHA-1 digests.
	AllowSHA1 bool
	// SignRequests signs AuthnRequests with Key.
	SignRequests bool
	// Key and Certificate are the SP key pair (optional): they sign
	// requests and decrypt assertions.
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	// DecryptionKeys are further SP keys tried, after Key, on encrypted
	// assertions (the next key, retired keys in their grace period).
	DecryptionKeys []*rsa.PrivateKey
	// ReplayCache records assertion IDs; required.
	ReplayCache saml.AssertionReplayCache
	// Clock overrides the time (tests and benchmarks); nil = now.
	Clock *dsig.Clock
}

// NewServiceProvider builds the crewjam ServiceProvider for c.
func NewServiceProvider(c Config) (*saml.ServiceProvider, error) {
	acs, err := url.Parse(c.ACSURL)
	if err != nil {
		return nil, fmt.Errorf("acs url: %w", err)
	}
	md, err := url.Parse(c.MetadataURL)
	if err != nil {
		return nil, fmt.Errorf("metadata url: %w", err)
	}
	sp := &saml.ServiceProvider{
		EntityID:                         c.EntityID,
		AcsURL:                           *acs,
		MetadataURL:                      *md,
		IDPMetadata:                      IdPDescriptor(c.IdPEntityID, c.IdPSSOURL, c.IdPSSOBinding, c.Certificates),
		AllowIDPInitiated:                c.AllowIdPInitiated,
		RejectSHA1Signatures:             !c.AllowSHA1,
		ReplayCache:                      c.ReplayCache,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		AuthnNameIDFormat:                saml.UnspecifiedNameIDFormat,
		RequireSignedResponseForCBC:      true,
		MetadataValidDuration:            7 * 24 * time.Hour,
		Clock:                            c.Clock,
	}
	if c.Key != nil && c.Certificate != nil {
		sp.Key, sp.Certificate = c.Key, c.Certificate
		sp.DecryptionKeys = c.DecryptionKeys
		if c.SignRequests {
			sp.SignatureMethod = dsig.RSASHA256SignatureMethod
		}
	}
	return sp, nil
}

// IdPDescriptor builds the IdP metadata crewjam validates against: one
// signing KeyDescriptor per trusted certificate, so any of them may sign
// (rotation without downtime), with or without KeyInfo in the signature.
func IdPDescriptor(entityID, ssoURL, binding string, certs []*x509.Certificate) *saml.EntityDescriptor {
	b := saml.HTTPRedirectBinding
	if binding == BindingPOST {
		b = saml.HTTPPostBinding
	}
	d := saml.IDPSSODescriptor{
		SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
			ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
		}},
		SingleSignOnServices: []saml.Endpoint{{Binding: b, Location: ssoURL}},
	}
	for _, c := range certs {
		d.KeyDescriptors = append(d.KeyDescriptors, saml.KeyDescriptor{
			Use: "signing",
			KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{
				{Data: base64.StdEncoding.EncodeToString(c.Raw)},
			}}},
		})
	}
	return &saml.EntityDescriptor{EntityID: entityID, IDPSSODescriptors: []saml.IDPSSODescriptor{d}}
}

// AuthnRequestURL returns the IdP URL (HTTP-Redirect binding) carrying an
// AuthnRequest with ID requestID, signed if the SP signs requests.
// requestID must be a valid xs:ID (start with a letter or underscore).
func AuthnRequestURL(sp *saml.ServiceProvider, requestID, relayState string) (string, error) {
	dest := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if dest == "" {
		return "", errors.New("the IdP has no HTTP-Redirect SSO endpoint")
	}
	req, err := sp.MakeAuthenticationRequest(dest, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", fmt.Errorf("make AuthnRequest: %w", err)
	}
	req.ID = requestID
	if sp.SignatureMethod != "" {
		// Signed: crewjam signs the query as the binding requires.
		u, err := req.Redirect(relayState, sp)
		if err != nil {
			return "", fmt.Errorf("encode AuthnRequest: %w", err)
		}
		return u.String(), nil
	}
	return redirectURL(sp, dest, req, relayState)
}

// redirectEncoders reuses the scratch space of the HTTP-Redirect
// encoding: a DEFLATE compressor holds about 1 MB of tables, and
// allocating one per request (as crewjam's Redirect does) was most of an
// authorize's CPU time and garbage. It is a pool of scratch memory, not
// state: nothing in it outlives a call.
var redirectEncoders = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed) // BestSpeed is a valid level: no error
	return &redirectEncoder{fw: fw}
}}

type redirectEncoder struct {
	fw  *flate.Writer
	xml bytes.Buffer
	out bytes.Buffer
}

// redirectURL is crewjam's unsigned HTTP-Redirect encoding of req
// (saml-bindings-2.0-os §3.4.4.1: DEFLATE, base64, URL-encode; RelayState
// after SAMLRequest; destination's own query kept in front) with pooled
// scratch space. Any DEFLATE level is valid for the binding; BestSpeed
// makes resetting a pooled compressor cheap, and an AuthnRequest is short.
func redirectURL(sp *saml.ServiceProvider, dest string, req *saml.AuthnRequest, relayState string) (string, error) {
	if sp.LimitRelayStateLength && len(relayState) > saml.MaxRelayStateLength {
		return "", fmt.Errorf("encode AuthnRequest: RelayState is %d bytes, longer than the %d the SAML bindings allow", len(relayState), saml.MaxRelayStateLength)
	}
	u, err := url.Parse(dest)
	if err != nil {
		return "", fmt.Errorf("encode AuthnRequest: %w", err)
	}
	unsigned := *req
	unsigned.Signature = nil
	enc := redirectEncoders.Get().(*redirectEncoder)
	defer redirectEncoders.Put(enc)
	enc.xml.Reset()
	enc.out.Reset()
	// As etree's Document.WriteTo writes it, without its 4 KB buffer.
	unsigned.Element().WriteTo(&enc.xml, &etree.NewDocument().WriteSettings)
	enc.fw.Reset(&enc.out)
	if _, err := enc.fw.Write(enc.xml.Bytes()); err != nil {
		return "", fmt.Errorf("encode AuthnRequest: %w", err)
	}
	if err := enc.fw.Close(); err != nil {
		return "", fmt.Errorf("encode AuthnRequest: %w", err)
	}
	encoded := base64.StdEncoding.EncodeToString(enc.out.Bytes())
	query := "SAMLRequest=" + url.QueryEscape(encoded)
	if relayState != "" {
		query += "&RelayState=" + url.QueryEscape(relayState)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + query
	} else {
		u.RawQuery = query
	}
	return u.String(), nil
}

// Values of Config.IdPSSOBinding and IdPMetadata.SSOBinding.
const (
	BindingRedirect = "redirect"
	BindingPOST     = "post"
)

// AuthnRequestPOST returns an auto-submitting HTML page that sends an
// AuthnRequest to the IdP with the HTTP-POST binding, and the request's
// ID, which is also its RelayState. The ID is crewjam's: a signed request
// is signed as it is made. The page's script carries cspNonce.
func AuthnRequestPOST(sp *saml.ServiceProvider, cspNonce string) (id string, page []byte, err error) {
	dest := sp.GetSSOBindingLocation(saml.HTTPPostBinding)
	if dest == "" {
		return "", nil, errors.New("the IdP has no HTTP-POST SSO endpoint")
	}
	req, err := sp.MakeAuthenticationRequest(dest, saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", nil, fmt.Errorf("make AuthnRequest: %w", err)
	}
	form := req.PostWithNonce(req.ID, cspNonce)
	page = append([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head><body>`), form...)
	return req.ID, append(page, []byte(`</body></html>`)...), nil
}

// Metadata returns the SP metadata XML. Each of next is published beside
// sp's own certificate, for the same uses (the next key during SP key
// rotation): an IdP that reads the metadata may encrypt to it, and will
// already trust its signatures once it is promoted.
func Metadata(sp *saml.ServiceProvider, next ...*x509.Certificate) ([]byte, error) {
	ed := sp.Metadata()
	for i := range ed.SPSSODescriptors {
		d := &ed.SPSSODescriptors[i]
		var out []saml.KeyDescriptor
		for _, kd := range d.KeyDescriptors {
			out = append(out, kd)
			for _, x := range next {
				extra := kd
				extra.KeyInfo = saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{
					{Data: base64.StdEncoding.EncodeToString(x.Raw)},
				}}}
				out = append(out, extra)
			}
		}
		d.KeyDescriptors = out
	}
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sp metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// DecodeResponse decodes the SAMLResponse form field, refusing oversized
// input and any DOCTYPE or entity declaration (XXE, entity expansion)
// before an XML parser sees it.
func DecodeResponse(samlResponse string) ([]byte, error) {
	if samlResponse == "" {
		return nil, failure.Newf(failure.ResponseMissing, "the form has no SAMLResponse field")
	}
	if len(samlResponse) > MaxEncodedResponse {
		return nil, failure.Newf(failure.ResponseTooLarge, "%d bytes, the limit is %d", len(samlResponse), MaxEncodedResponse)
	}
	clean := samlResponse
	if strings.ContainsAny(clean, "\r\n \t") {
		clean = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, samlResponse)
	}
	raw, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, failure.New(failure.MalformedResponse, fmt.Errorf("base64: %w", err))
	}
	if err := RefuseDTD(raw); err != nil {
		return nil, err
	}
	// Signatures are computed over canonical XML without comments, so a
	// comment can split a text node (a NameID) without breaking the
	// signature; no IdP sends comments, so refuse them outright.
	if bytes.Contains(raw, []byte("<!--")) {
		return nil, failure.Newf(failure.CommentForbidden, "")
	}
	return raw, nil
}

// RefuseDTD refuses XML with a document type or entity declaration. No SAML
// message or metadata needs one, and refusing it closes XXE and
// entity-expansion attacks whatever the parser does.
func RefuseDTD(raw []byte) error {
	if bytes.Contains(raw, []byte("<!")) {
		upper := bytes.ToUpper(raw)
		if bytes.Contains(upper, []byte("<!DOCTYPE")) || bytes.Contains(upper, []byte("<!ENTITY")) {
			return failure.Newf(failure.DoctypeForbidden, "the XML contains a DOCTYPE or ENTITY declaration")
		}
	}
	return nil
}

// ValidateResponse validates a decoded Response for sp. requestIDs are the
// IDs of the AuthnRequests it may answer (none for IdP-initiated).
// requireEncrypted refuses plain assertions. Any failure is a
// *failure.Error.
func ValidateResponse(sp *saml.ServiceProvider, raw []byte, requestIDs []string, requireEncrypted bool) (*saml.Assertion, error) {
	if requireEncrypted && !bytes.Contains(raw, []byte("EncryptedAssertion")) {
		return nil, failure.Newf(failure.NotEncrypted, "")
	}
	a, err := sp.ParseXMLResponse(raw, requestIDs, sp.AcsURL)
	if err != nil {
		return nil, Classify(err, raw)
	}
	return a, nil
}

// Classify maps a crewjam validation error to a typed failure.
func Classify(err error, raw []byte) *failure.Error {
	cause := err
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		cause = ire.PrivateErr
	}
	var bad saml.ErrBadStatus
	if errors.As(cause, &bad) {
		return &failure.Error{Code: failure.IdPErrorStatus, Detail: bad.Status, Err: cause}
	}
	msg := cause.Error()
	code := failure.MalformedResponse
	switch {
	case errors.Is(cause, saml.ErrAssertionReplayed):
		code = failure.Replayed
	case errors.Is(cause, saml.ErrUnsupported) && strings.Contains(msg, "SHA-1"):
		code = failure.SHA1Forbidden
	case errors.Is(cause, saml.ErrUntrustedCertificate):
		code = failure.CertificateUnknown
	case errors.Is(cause, saml.ErrCertificateNotValidNow):
		code = failure.CertificateExpired
	case errors.Is(cause, saml.ErrDecryptionFailed):
		code = failure.DecryptionFailed
	case errors.Is(cause, saml.ErrInvalidSignature):
		code = failure.SignatureInvalid
		if strings.Contains(msg, "not signed") || strings.Contains(msg, "signature is required") ||
			strings.Contains(msg, "no signature") || strings.Contains(msg, "unsigned") {
			code = failure.SignatureMissing
		}
	case errors.Is(cause, saml.ErrIssuerMismatch):
		code = failure.IssuerMismatch
	case errors.Is(cause, saml.ErrAudienceMismatch):
		code = failure.AudienceMismatch
	case errors.Is(cause, saml.ErrDestinationMismatch):
		code = failure.DestinationMismatch
	case errors.Is(cause, saml.ErrRequestIDMismatch):
		code = failure.InResponseTo
	case errors.Is(cause, saml.ErrExpired):
		code = failure.ResponseExpired
	case errors.Is(cause, saml.ErrNotYetValid):
		code = failure.ResponseNotYetValid
	case strings.Contains(msg, "signature") && (strings.Contains(msg, "missing") || strings.Contains(msg, "not present") ||
		strings.Contains(msg, "not signed") || strings.Contains(msg, "unsigned")):
		code = failure.SignatureMissing
	}
	if code == failure.MalformedResponse && countAssertions(raw) > 1 {
		code = failure.MultipleAssertions
	}
	return &failure.Error{Code: code, Err: cause}
}

// InResponseTo returns the InResponseTo of a decoded Response, unverified:
// use it only to find the request that ValidateResponse must then match.
// Only the root element's start tag is read (an IdP-initiated response
// has none, and parsing the whole document here cost as much as
// validating it); a document that is malformed further on is refused by
// the validation all the same.
func InResponseTo(raw []byte) string {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return ""
		}
		if el, ok := tok.(xml.StartElement); ok {
			// Any prefix, the first one: as etree's SelectAttrValue, which
			// this replaces, matched it.
			for _, a := range el.Attr {
				if a.Name.Local == "InResponseTo" {
					return a.Value
				}
			}
			return ""
		}
	}
}

// countAssertions counts Assertion and EncryptedAssertion elements
// anywhere in the document; used only to name a failure.
func countAssertions(raw []byte) int {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return 0
	}
	n := 0
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		if el.Tag == "Assertion" || el.Tag == "EncryptedAssertion" {
			n++
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	return n
}

// Attributes returns the assertion's attributes by name (and by friendly
// name when it differs), values in order.
func Attributes(a *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			var vals []string
			for _, v := range attr.Values {
				vals = append(vals, v.Value)
			}
			out[attr.Name] = append(out[attr.Name], vals...)
			if attr.FriendlyName != "" && attr.FriendlyName != attr.Name {
				out[attr.FriendlyName] = append(out[attr.FriendlyName], vals...)
			}
		}
	}
	return out
}

// NameID returns the assertion subject's NameID value.
func NameID(a *saml.Assertion) string {
	if a.Subject != nil && a.Subject.NameID != nil {
		return a.Subject.NameID.Value
	}
	return ""
}

// IdPMetadata is what Gatehouse needs from IdP metadata.
type IdPMetadata struct {
	EntityID     string
	SSOURL       string // HTTP-Redirect binding, else HTTP-POST
	SSOBinding   string // BindingRedirect or BindingPOST
	Certificates []*x509.Certificate
}

// ParseMetadata reads IdP metadata (an EntityDescriptor, or the first IdP
// in an EntitiesDescriptor). It refuses DOCTYPEs and oversized input.
func ParseMetadata(raw []byte) (IdPMetadata, error) {
	var out IdPMetadata
	if len(raw) > MaxMetadata {
		return out, fmt.Errorf("metadata is larger than %d bytes", MaxMetadata)
	}
	if err := RefuseDTD(raw); err != nil {
		return out, errors.New("metadata must not contain a DOCTYPE or ENTITY declaration")
	}
	var eds []saml.EntityDescriptor
	var one saml.EntityDescriptor
	if err := xml.Unmarshal(raw, &one); err == nil && one.EntityID != "" {
		eds = append(eds, one)
	} else {
		var many saml.EntitiesDescriptor
		if err2 := xml.Unmarshal(raw, &many); err2 != nil {
			if err == nil {
				err = err2
			}
			return out, fmt.Errorf("metadata is not a SAML EntityDescriptor: %w", err)
		}
		eds = many.EntityDescriptors
	}
	for _, ed := range eds {
		for _, d := range ed.IDPSSODescriptors {
			out.EntityID = ed.EntityID
			var post string
			for _, s := range d.SingleSignOnServices {
				switch s.Binding {
				case saml.HTTPRedirectBinding:
					out.SSOURL, out.SSOBinding = s.Location, BindingRedirect
				case saml.HTTPPostBinding:
					post = s.Location
				}
			}
			if out.SSOURL == "" && post != "" {
				out.SSOURL, out.SSOBinding = post, BindingPOST
			}
			for _, kd := range d.KeyDescriptors {
				if kd.Use != "" && kd.Use != "signing" {
					continue
				}
				for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
					c, err := ParseCertificateBase64(xc.Data)
					if err != nil {
						return out, fmt.Errorf("metadata certificate: %w", err)
					}
					out.Certificates = append(out.Certificates, c)
				}
			}
			if out.EntityID == "" {
				return out, errors.New("metadata has no entityID")
			}
			if out.SSOURL == "" {
				return out, errors.New("metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")
			}
			return out, nil
		}
	}
	return out, errors.New("metadata describes no identity provider (IDPSSODescriptor)")
}

// ParseCertificateBase64 parses a base64 DER certificate (as in KeyInfo),
// tolerating whitespace.
func ParseCertificateBase64(s string) (*x509.Certificate, error) {
	s = strings.Join(strings.Fields(s), "")
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("certificate base64: %w", err)
	}
	return x509.ParseCertificate(der)
}

// ParseCertificatePEM parses one PEM certificate, or a bare base64 DER.
func ParseCertificatePEM(s string) (*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		b, _ := pem.Decode([]byte(s))
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, errors.New("not a PEM CERTIFICATE block")
		}
		return x509.ParseCertificate(b.Bytes)
	}
	return ParseCertificateBase64(s)
}

// CertificatePEM encodes a certificate as PEM.
func CertificatePEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// Fingerprint is the lowercase hex SHA-256 of the certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	return fingerprintDER(c.Raw)
}

// fingerprintDER is the SHA-256 of a DER certificate, in hex.
func fingerprintDER(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// NewSPKeyPair makes an RSA-2048 key and a ten-year self-signed
// certificate for a connection's SP (signing requests, decryption).
func NewSPKeyPair(commonName string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("sp key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sp certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// MarshalKey encodes an SP key as PKCS #8 PEM for sealing.
func MarshalKey(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PKCS #8 PEM RSA key.
func ParseKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("sp key: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sp key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("sp key: not RSA")
	}
	return rk, nil
}

// EmbeddedCertificates returns the X.509 certificates a response carries in
// the KeyInfo of its signatures. They are never trusted: Gatehouse uses
// them only to tell an admin which certificate the IdP now signs with, and
// to recognise it when the IdP's metadata publishes it.
func EmbeddedCertificates(raw []byte) []*x509.Certificate {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil
	}
	var out []*x509.Certificate
	seen := map[string]bool{}
	for _, el := range doc.FindElements("//Signature/KeyInfo/X509Data/X509Certificate") {
		x, err := ParseCertificateBase64(el.Text())
		if err != nil || seen[Fingerprint(x)] {
			continue
		}
		seen[Fingerprint(x)] = true
		out = append(out, x)
		if len(out) == 4 {
			break
		}
	}
	return out
}
