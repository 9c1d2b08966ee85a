package testidp

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// defaultAssertionLifetime is how long a response built here is valid by
// default: long enough for a slow test, short as real IdPs make it.
const defaultAssertionLifetime = 5 * time.Minute

// attrNameFormatBasic is the NameFormat of the attributes the IdP sends.
const attrNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

// Signing says which elements of a Response are signed.
type Signing int

const (
	// SignBoth signs the assertion, then the response around it, as
	// crewjam, Okta and others do. It is the zero value.
	SignBoth Signing = iota
	// SignAssertion signs only the assertion.
	SignAssertion
	// SignResponse signs only the response.
	SignResponse
	// SignNone signs nothing.
	SignNone
)

// String returns the name of the signing choice, for test names.
func (s Signing) String() string {
	switch s {
	case SignBoth:
		return "both"
	case SignAssertion:
		return "assertion"
	case SignResponse:
		return "response"
	case SignNone:
		return "none"
	}
	return fmt.Sprintf("Signing(%d)", int(s))
}

// ResponseOptions describes a Response built by SAMLIdP.Response. The zero
// value of every field means "what a correct IdP sends"; set fields to
// build the broken or hostile responses that a service provider must
// reject.
type ResponseOptions struct {
	// ServiceProvider is the entity ID of a registered service provider.
	// It supplies the defaults of ACSURL (its default ACS) and Audience
	// (its entity ID). Optional when both are given.
	ServiceProvider string
	// ACSURL is where the response is for: the default Destination and
	// Recipient.
	ACSURL string
	// Audience is the assertion's AudienceRestriction.
	Audience string
	// InResponseTo is the ID of the AuthnRequest answered, on the Response
	// and on the SubjectConfirmationData. Empty makes an unsolicited
	// (IdP-initiated) response.
	InResponseTo string

	// User is the subject: NameID (Subject, else email) and the attributes
	// email, firstName, lastName and groups (those that are set).
	User User
	// NameID and NameIDFormat override the subject's NameID.
	NameID       string
	NameIDFormat string
	// Attributes are added to the user's attributes, replacing any with
	// the same name; an empty slice removes that attribute.
	Attributes map[string][]string

	// Issuer overrides the Issuer of the response and the assertion.
	Issuer string
	// Destination overrides the Response's Destination; OmitDestination
	// leaves it out.
	Destination     string
	OmitDestination bool
	// Recipient overrides the SubjectConfirmationData's Recipient.
	Recipient string

	// Now is when the response is issued (IssueInstant, AuthnInstant);
	// the default is the current time. The other times derive from it.
	Now time.Time
	// NotBefore and NotOnOrAfter override the assertion's Conditions
	// (defaults: Now, and Now plus five minutes).
	NotBefore    time.Time
	NotOnOrAfter time.Time
	// SubjectNotOnOrAfter overrides the SubjectConfirmationData's
	// NotOnOrAfter (default: the Conditions' NotOnOrAfter).
	SubjectNotOnOrAfter time.Time

	// ResponseID and AssertionID override the generated XML IDs, to build
	// duplicates and replays.
	ResponseID  string
	AssertionID string

	// Signing chooses what is signed; the zero value signs both.
	Signing Signing
	// SHA1 signs with RSA-SHA1 and SHA-1 digests instead of SHA-256, the
	// downgrade a strict service provider refuses.
	SHA1 bool
	// SigningKey signs instead of the IdP's key, and its certificate goes
	// into KeyInfo: another tenant's key, or a forged look-alike
	// certificate.
	SigningKey *KeyPair
	// OmitKeyInfo removes KeyInfo from the signatures, so that the service
	// provider must find the certificate in its configuration.
	OmitKeyInfo bool

	// EncryptTo encrypts the (signed) assertion to this certificate, with
	// RSA-OAEP and AES-256-GCM, or AES-256-CBC if EncryptCBC is set.
	// Response never encrypts on its own, even for a service provider
	// whose metadata publishes an encryption key.
	EncryptTo  *x509.Certificate
	EncryptCBC bool

	// Status overrides the top-level status code, such as saml.StatusRequester;
	// StatusMessage adds a message. The assertion is still included unless
	// OmitAssertion is set, so a service provider must look at the status.
	Status        string
	StatusMessage string
	OmitAssertion bool
}

// Response builds a SAML Response as opts describes, signs it, and returns
// it base64-encoded, as the SAMLResponse form field of the HTTP-POST
// binding carries it. Use DecodeResponse and EncodeResponse to tamper with
// the XML.
func (s *SAMLIdP) Response(opts ResponseOptions) (string, error) {
	doc, err := s.responseDocument(opts)
	if err != nil {
		return "", err
	}
	return EncodeResponse(doc)
}

// responseDocument builds the Response document for Response.
func (s *SAMLIdP) responseDocument(opts ResponseOptions) (*etree.Document, error) {
	acsURL, audience := opts.ACSURL, opts.Audience
	if opts.ServiceProvider != "" {
		ed, ok := s.sp(opts.ServiceProvider)
		if !ok {
			return nil, fmt.Errorf("testidp: unknown service provider %q", opts.ServiceProvider)
		}
		if audience == "" {
			audience = ed.EntityID
		}
		if acsURL == "" {
			acsURL = defaultACS(ed)
		}
	}
	if acsURL == "" || audience == "" {
		return nil, errors.New("testidp: response needs ACSURL and Audience, or a registered ServiceProvider")
	}
	if opts.User.Email == "" && opts.User.Subject == "" && opts.NameID == "" {
		return nil, errors.New("testidp: response needs a User or a NameID")
	}

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	notBefore := orTime(opts.NotBefore, now)
	notOnOrAfter := orTime(opts.NotOnOrAfter, now.Add(defaultAssertionLifetime))
	nameID, nameIDFormat := samlNameID(opts.User)
	if opts.NameID != "" {
		nameID = opts.NameID
	}
	if opts.NameIDFormat != "" {
		nameIDFormat = opts.NameIDFormat
	}
	issuer := orString(opts.Issuer, s.EntityID())

	keys := s.keys
	if opts.SigningKey != nil {
		if err := opts.SigningKey.validate(); err != nil {
			return nil, err
		}
		keys = opts.SigningKey
	}
	sign := func(el *etree.Element) (*etree.Element, error) {
		return signElement(el, keys, opts.SHA1, opts.OmitKeyInfo)
	}

	response := &saml.Response{
		ID:           orString(opts.ResponseID, newSAMLID()),
		InResponseTo: opts.InResponseTo,
		Version:      "2.0",
		IssueInstant: now,
		Destination:  orString(opts.Destination, acsURL),
		Issuer:       &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: issuer},
		Status:       saml.Status{StatusCode: saml.StatusCode{Value: orString(opts.Status, saml.StatusSuccess)}},
	}
	if opts.OmitDestination {
		response.Destination = ""
	}
	if opts.StatusMessage != "" {
		response.Status.StatusMessage = &saml.StatusMessage{Value: opts.StatusMessage}
	}

	var assertionEl *etree.Element
	if !opts.OmitAssertion {
		assertion := buildAssertion(assertionParams{
			id:           orString(opts.AssertionID, newSAMLID()),
			issuer:       issuer,
			now:          now,
			notBefore:    notBefore,
			notOnOrAfter: notOnOrAfter,
			subjectNotOn: orTime(opts.SubjectNotOnOrAfter, notOnOrAfter),
			nameID:       nameID,
			nameIDFormat: nameIDFormat,
			recipient:    orString(opts.Recipient, acsURL),
			inResponseTo: opts.InResponseTo,
			audience:     audience,
			sessionIndex: randomID(),
			authnInstant: now,
			attributes:   userAttributes(opts.User, opts.Attributes),
		})
		assertionEl = assertion.Element()
		if opts.Signing == SignBoth || opts.Signing == SignAssertion {
			sig, err := sign(assertionEl)
			if err != nil {
				return nil, err
			}
			// Rebuild with the signature in its schema position, after
			// the Issuer, as crewjam does; SignEnveloped appends it last.
			assertion.Signature = sig
			assertionEl = assertion.Element()
		}
		if opts.EncryptTo != nil {
			enc, err := encryptAssertion(assertionEl, opts.EncryptTo, opts.EncryptCBC)
			if err != nil {
				return nil, err
			}
			assertionEl = enc
		}
	}

	responseEl := responseElement(response, assertionEl)
	if opts.Signing == SignBoth || opts.Signing == SignResponse {
		sig, err := sign(responseEl)
		if err != nil {
			return nil, err
		}
		response.Signature = sig
		responseEl = responseElement(response, assertionEl)
	}

	doc := etree.NewDocument()
	doc.SetRoot(responseEl)
	return doc, nil
}

// responseElement returns the Response element holding assertionEl, which
// is an Assertion, an EncryptedAssertion, or nil.
func responseElement(r *saml.Response, assertionEl *etree.Element) *etree.Element {
	el := r.Element()
	if assertionEl != nil {
		el.AddChild(assertionEl.Copy())
	}
	return el
}

// signElement returns the enveloped signature of el, made with keys.
func signElement(el *etree.Element, keys *KeyPair, sha1, omitKeyInfo bool) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(keys.Key, [][]byte{keys.Certificate.Raw})
	if err != nil {
		return nil, fmt.Errorf("testidp: signing context: %w", err)
	}
	// Exclusive canonicalization with an empty prefix list, as crewjam's
	// IdP signs, so that the assertion survives being moved between
	// documents.
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	method := dsig.RSASHA256SignatureMethod
	if sha1 {
		method = dsig.RSASHA1SignatureMethod // also makes the digests SHA-1
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, fmt.Errorf("testidp: signature method: %w", err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, fmt.Errorf("testidp: sign %s: %w", el.Tag, err)
	}
	sig := signed.ChildElements()[len(signed.ChildElements())-1]
	if omitKeyInfo {
		// KeyInfo is outside SignedInfo, so removing it keeps the
		// signature valid.
		if ki := sig.SelectElement("KeyInfo"); ki != nil {
			sig.RemoveChild(ki)
		}
	}
	return sig, nil
}

// encryptAssertion returns an EncryptedAssertion holding assertionEl
// encrypted to cert.
func encryptAssertion(assertionEl *etree.Element, cert *x509.Certificate, cbc bool) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.SetRoot(assertionEl.Copy())
	plaintext, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("testidp: serialize assertion: %w", err)
	}
	enc := xmlenc.OAEP()
	enc.BlockCipher = xmlenc.AES256GCM
	if cbc {
		enc.BlockCipher = xmlenc.AES256CBC
	}
	data, err := enc.Encrypt(cert, plaintext, nil)
	if err != nil {
		return nil, fmt.Errorf("testidp: encrypt assertion: %w", err)
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	el := etree.NewElement("saml:EncryptedAssertion")
	el.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
	el.AddChild(data)
	return el, nil
}

// defaultACS returns the location of the service provider's default
// HTTP-POST assertion consumer service (saml-metadata §2.2.3).
func defaultACS(ed *saml.EntityDescriptor) string {
	var first, firstUnmarked string
	for _, d := range ed.SPSSODescriptors {
		for _, ep := range d.AssertionConsumerServices {
			if ep.Binding != saml.HTTPPostBinding {
				continue
			}
			if ep.IsDefault != nil && *ep.IsDefault {
				return ep.Location
			}
			if first == "" {
				first = ep.Location
			}
			if firstUnmarked == "" && ep.IsDefault == nil {
				firstUnmarked = ep.Location
			}
		}
	}
	return orString(firstUnmarked, first)
}

// assertionParams are the values of an assertion built by buildAssertion.
type assertionParams struct {
	id, issuer              string
	now                     time.Time
	notBefore, notOnOrAfter time.Time
	subjectNotOn            time.Time
	nameID, nameIDFormat    string
	recipient, inResponseTo string
	audience, address       string
	sessionIndex            string
	authnInstant            time.Time
	attributes              []saml.Attribute
}

// buildAssertion returns an unsigned bearer assertion. Browser logins and
// Response share it, so tests exercise what the demo sends.
func buildAssertion(p assertionParams) *saml.Assertion {
	a := &saml.Assertion{
		ID:           p.id,
		IssueInstant: p.now,
		Version:      "2.0",
		Issuer:       saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.issuer},
		Subject: &saml.Subject{
			NameID: &saml.NameID{Format: p.nameIDFormat, Value: p.nameID},
			SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					Address:      p.address,
					InResponseTo: p.inResponseTo,
					NotOnOrAfter: p.subjectNotOn,
					Recipient:    p.recipient,
				},
			}},
		},
		Conditions: &saml.Conditions{
			NotBefore:            p.notBefore,
			NotOnOrAfter:         p.notOnOrAfter,
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: p.audience}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant: p.authnInstant,
			SessionIndex: p.sessionIndex,
			AuthnContext: saml.AuthnContext{
				AuthnContextClassRef: &saml.AuthnContextClassRef{
					Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
				},
			},
		}},
	}
	if len(p.attributes) > 0 {
		a.AttributeStatements = []saml.AttributeStatement{{Attributes: p.attributes}}
	}
	return a
}

// userAttributes returns the attributes for u, with extra merged in (an
// empty value list removes an attribute), in a stable order.
func userAttributes(u User, extra map[string][]string) []saml.Attribute {
	values := map[string][]string{}
	order := []string{}
	set := func(name string, v []string) {
		if _, ok := values[name]; !ok {
			order = append(order, name)
		}
		values[name] = v
	}
	if u.Email != "" {
		set("email", []string{u.Email})
	}
	if u.FirstName != "" {
		set("firstName", []string{u.FirstName})
	}
	if u.LastName != "" {
		set("lastName", []string{u.LastName})
	}
	if len(u.Groups) > 0 {
		set("groups", u.Groups)
	}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		set(name, extra[name])
	}
	var attrs []saml.Attribute
	for _, name := range order {
		if len(values[name]) == 0 {
			continue
		}
		attr := saml.Attribute{Name: name, NameFormat: attrNameFormatBasic}
		for _, v := range values[name] {
			attr.Values = append(attr.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		attrs = append(attrs, attr)
	}
	return attrs
}

// DecodeResponse parses a base64 SAMLResponse into an XML document, for a
// test to tamper with before EncodeResponse.
func DecodeResponse(samlResponse string) (*etree.Document, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(samlResponse))
	if err != nil {
		return nil, fmt.Errorf("testidp: decode SAMLResponse: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("testidp: parse SAMLResponse: %w", err)
	}
	return doc, nil
}

// EncodeResponse serializes doc and base64-encodes it as a SAMLResponse.
// It writes the document as it is, without indenting it, so signatures
// over untouched elements stay valid.
func EncodeResponse(doc *etree.Document) (string, error) {
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", fmt.Errorf("testidp: serialize SAMLResponse: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// orString returns v, or def when v is empty.
func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// orTime returns t, or def when t is zero.
func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
