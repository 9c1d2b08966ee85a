package saml

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// The SAML validation fast path. It reads the response once with the
// strict reader, checks in one walk that it has the one shape real IdPs
// send (one Assertion; signatures only on the Response and the Assertion,
// right after their Issuer), verifies each signature against a narrow
// profile (one Reference to the signed element's ID, enveloped signature
// and exclusive C14N, SHA-256, RSA-SHA256) canonicalising straight from
// the tree into a pooled buffer, reads every field from the tree that was
// digested and re-applies every condition crewjam applies. It can only
// accept: anything it does not handle, and every failure, goes to crewjam
// unchanged (Validator.Validate), so rejections and their codes are
// crewjam's. The differential tests keep it from ever accepting what
// crewjam refuses.

// Namespaces and algorithms of the fast path's profile.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"

	algExcC14N     = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped   = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algSHA256      = "http://www.w3.org/2001/04/xmlenc#sha256"
	statusSuccess  = "urn:oasis:names:tc:SAML:2.0:status:Success"
	methodBearer   = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	maxKeyCache    = 512
	minRSAKeyBits  = 2048
	maxRSAKeyBits  = 4096
	initialBufSize = 16 << 10
)

// Validator validates SAML Responses at the ACS: the fast path first,
// crewjam for everything the fast path does not accept. The zero value is
// ready to use; a nil *Validator validates too (fast path on, no key
// cache). It is safe for concurrent use.
type Validator struct {
	off atomic.Bool // every response straight to crewjam

	mu   sync.Mutex
	keys map[string]*trustedKey // parsed IdP certificates by their base64 DER

	scratch sync.Pool // *fastState

	accepted, fellBack atomic.Uint64
}

// SetFastPath turns the fast path on (the default) or off.
func (v *Validator) SetFastPath(on bool) { v.off.Store(!on) }

// Stats returns how many responses the fast path accepted and how many it
// handed to crewjam since the Validator was made.
func (v *Validator) Stats() (accepted, fellBack uint64) {
	if v == nil {
		return 0, 0
	}
	return v.accepted.Load(), v.fellBack.Load()
}

// Validate validates a decoded Response for sp, as ValidateResponse does,
// trying the fast path first unless it is off. Every rejection is
// crewjam's, with its failure code.
func (v *Validator) Validate(sp *saml.ServiceProvider, raw []byte, requestIDs []string, requireEncrypted bool) (*saml.Assertion, error) {
	a, _, err := v.validate(sp, raw, requestIDs, requireEncrypted, false)
	return a, err
}

// trustedKey is an IdP signing certificate as the fast path needs it.
type trustedKey struct {
	raw                 []byte
	b64                 string         // raw in canonical base64, as KeyInfo carries it
	pub                 *rsa.PublicKey // nil: not an RSA key the fast path verifies with
	notBefore, notAfter time.Time

	fpOnce sync.Once
	fp     string // see fingerprint
}

// fastState is the scratch space of one validation.
type fastState struct {
	doc xdoc
	buf []byte
}

func (v *Validator) getState() *fastState {
	if v != nil {
		if s, ok := v.scratch.Get().(*fastState); ok {
			return s
		}
	}
	return &fastState{buf: make([]byte, 0, initialBufSize)}
}

func (v *Validator) putState(s *fastState) {
	if v != nil && cap(s.buf) <= 1<<20 && len(s.doc.nodes) <= 4096 {
		v.scratch.Put(s)
	}
}

// trustedKeys returns sp's IdP signing certificates as crewjam finds them
// (metadata KeyDescriptors with use "" or "signing"), parsed once per
// Validator. ok is false if crewjam would fail to find or parse them.
func (v *Validator) trustedKeys(sp *saml.ServiceProvider) (keys []*trustedKey, ok bool) {
	for _, d := range sp.IDPMetadata.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				k := v.key(c.Data)
				if k == nil {
					return nil, false
				}
				keys = append(keys, k)
			}
		}
	}
	return keys, len(keys) > 0
}

func (v *Validator) key(data string) *trustedKey {
	if v != nil {
		v.mu.Lock()
		k := v.keys[data]
		v.mu.Unlock()
		if k != nil {
			return k
		}
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(data))
	if err != nil {
		return nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	k := &trustedKey{raw: der, b64: base64.StdEncoding.EncodeToString(der), notBefore: c.NotBefore, notAfter: c.NotAfter}
	if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() >= minRSAKeyBits && pub.N.BitLen() <= maxRSAKeyBits {
		k.pub = pub
	}
	if v != nil {
		v.mu.Lock()
		if v.keys == nil || len(v.keys) >= maxKeyCache {
			v.keys = map[string]*trustedKey{}
		}
		v.keys[data] = k
		v.mu.Unlock()
	}
	return k
}

// stripSpace removes what the regular expression \s matches ([\t\n\f\r ]),
// as crewjam and goxmldsig do before decoding a certificate.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, "\t\n\f\r ") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\f', '\r', ' ':
			return -1
		}
		return r
	}, s)
}

// equalBase64 reports whether text, less the white space stripSpace
// removes, is want.
func equalBase64(text, want string) bool {
	j := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\t', '\n', '\f', '\r', ' ':
			continue
		default:
			if j >= len(want) || want[j] != c {
				return false
			}
			j++
		}
	}
	return j == len(want)
}

// plainSP reports whether sp is configured as Gatehouse configures it: no
// hook or option that changes what crewjam accepts beyond what the fast
// path re-implements.
func plainSP(sp *saml.ServiceProvider) bool {
	return sp != nil && sp.IDPMetadata != nil && sp.ReplayCache != nil &&
		sp.IDPCertificate == nil && sp.IDPCertificateFingerprint == nil && sp.IDPCertificateFingerprintAlgorithm == nil &&
		sp.SignatureVerifier == nil && sp.ValidateRequestID == nil && sp.ValidateAudienceRestriction == nil &&
		sp.ValidateUnknownConditions == nil && !sp.RejectUnknownConditions && !sp.ValidateAuthnContextClassRef &&
		!sp.IgnoreCertificateExpiry && !sp.RejectExpiredIDPMetadata
}

// fastValidate is the fast path: the assertion, or nil for "I don't know".
func (v *Validator) fastValidate(sp *saml.ServiceProvider, raw []byte, requestIDs []string) *saml.Assertion {
	a, _ := v.fastValidateSigned(sp, raw, requestIDs)
	return a
}

// fastValidateSigned is fastValidate, also returning the key that
// verified the assertion's signature (else the Response's).
func (v *Validator) fastValidateSigned(sp *saml.ServiceProvider, raw []byte, requestIDs []string) (*saml.Assertion, *trustedKey) {
	if !plainSP(sp) || len(raw) > MaxEncodedResponse {
		return nil, nil
	}
	keys, ok := v.trustedKeys(sp)
	if !ok {
		return nil, nil
	}
	st := v.getState()
	defer v.putState(st)
	f := fastRun{doc: &st.doc, buf: st.buf[:0], sp: sp, keys: keys}
	defer func() { st.buf = f.buf[:0] }()
	if f.doc.readXML(string(raw)) != nil {
		return nil, nil
	}
	f.now = nowOf(sp)
	f.dsigNow = dsigNowOf(sp)
	a, ok := f.response(requestIDs)
	if !ok {
		return nil, nil
	}
	if a.ID == "" {
		return nil, nil
	}
	// Last, as crewjam: record the assertion ID. A replay is refused by
	// crewjam again, with its code.
	if err := sp.ReplayCache.Consume(a.ID, acceptableUntil(a)); err != nil {
		return nil, nil
	}
	return a, f.signer
}

func nowOf(sp *saml.ServiceProvider) time.Time {
	if sp.Clock != nil {
		return sp.Clock.Now().UTC()
	}
	return saml.TimeNow()
}

// dsigNowOf is the time goxmldsig checks certificates against for sp.
func dsigNowOf(sp *saml.ServiceProvider) time.Time {
	var c *dsig.Clock = sp.Clock
	if c == nil {
		c = saml.Clock
	}
	return c.Now()
}

// fastRun is one run of the fast path.
type fastRun struct {
	doc          *xdoc
	buf          []byte
	sp           *saml.ServiceProvider
	keys         []*trustedKey
	now, dsigNow time.Time
	signer       *trustedKey // the key that verified the last signature checked
}

// elems lists the element children of n, refusing non-white-space text.
func (f *fastRun) elems(n int32, out []int32) ([]int32, bool) {
	d := f.doc
	for c := d.nodes[n].first; c >= 0; c = d.nodes[c].next {
		x := &d.nodes[c]
		if x.kind == kindText {
			if strings.Trim(x.text, " \t\n") != "" {
				return nil, false
			}
			continue
		}
		out = append(out, c)
	}
	return out, true
}

// is reports whether node n is the element ns:local.
func (f *fastRun) is(n int32, ns, local string) bool {
	x := &f.doc.nodes[n]
	return x.local == local && x.ns == ns
}

// attrs reads the attributes of n into vals, in the order of names,
// refusing any attribute not in names (prefixed ones included).
func (f *fastRun) attrs(n int32, names []string, vals []string) bool {
	x := &f.doc.nodes[n]
	for i := x.attrLo; i < x.attrHi; i++ {
		a := &f.doc.attrs[i]
		if a.prefix != "" {
			return false
		}
		found := false
		for j, name := range names {
			if a.local == name {
				vals[j], found = a.value, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// attrSet reports whether n has the unprefixed attribute name.
func (f *fastRun) attrSet(n int32, name string) bool {
	x := &f.doc.nodes[n]
	for i := x.attrLo; i < x.attrHi; i++ {
		if f.doc.attrs[i].prefix == "" && f.doc.attrs[i].local == name {
			return true
		}
	}
	return false
}

// text returns the character data of n, refusing element children.
func (f *fastRun) text(n int32) (string, bool) {
	d := f.doc
	c := d.nodes[n].first
	if c < 0 {
		return "", true
	}
	if d.nodes[c].kind != kindText {
		return "", false
	}
	if d.nodes[c].next < 0 {
		return d.nodes[c].text, true
	}
	var b strings.Builder
	for ; c >= 0; c = d.nodes[c].next {
		if d.nodes[c].kind != kindText {
			return "", false
		}
		b.WriteString(d.nodes[c].text)
	}
	return b.String(), true
}

// leaf checks that n is ns:local with the attributes names and text only.
func (f *fastRun) leaf(n int32, ns, local string, names []string, vals []string) (string, bool) {
	if !f.is(n, ns, local) || !f.attrs(n, names, vals) {
		return "", false
	}
	return f.text(n)
}

// parseTime reads a SAML time as crewjam does (RFC 3339, rounded to the
// millisecond), accepting only UTC ("Z"). Absent is the zero time.
func parseTime(s string, present bool) (time.Time, bool) {
	if !present {
		return time.Time{}, true
	}
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.Round(time.Millisecond), true
}

// response checks the Response and returns its assertion.
func (f *fastRun) response(requestIDs []string) (*saml.Assertion, bool) {
	d := f.doc
	root := d.root
	if !f.is(root, nsProtocol, "Response") {
		return nil, false
	}
	var rv [6]string
	if !f.attrs(root, []string{"ID", "Version", "IssueInstant", "Destination", "InResponseTo", "Consent"}, rv[:]) {
		return nil, false
	}
	id, version, issueInstant, destination, inResponseTo := rv[0], rv[1], rv[2], rv[3], rv[4]
	var kids [8]int32
	ch, ok := f.elems(root, kids[:0])
	if !ok {
		return nil, false
	}
	i := 0
	issuer := int32(-1)
	if i < len(ch) && f.is(ch[i], nsAssertion, "Issuer") {
		issuer = ch[i]
		i++
	}
	sig := int32(-1)
	if i < len(ch) && f.is(ch[i], nsDSig, "Signature") {
		sig = ch[i]
		i++
	}
	if len(ch) != i+2 || !f.is(ch[i], nsProtocol, "Status") || !f.is(ch[i+1], nsAssertion, "Assertion") {
		return nil, false
	}
	status, assertionEl := ch[i], ch[i+1]
	if !f.signaturesOnlyAt(root, sig, assertionEl) {
		return nil, false
	}

	// The Response signature, if any, first: crewjam refuses an invalid
	// one before anything else.
	signed := sig >= 0
	if signed && !f.verify(root, sig, id) {
		return nil, false
	}
	if version != "2.0" {
		return nil, false
	}
	acs := f.sp.AcsURL.String()
	if (signed || destination != "") && destination != acs {
		return nil, false
	}
	if !(f.sp.AllowIDPInitiated && inResponseTo == "") && !matchesRequest(inResponseTo, requestIDs) {
		return nil, false
	}
	assertionIDs := requestIDs
	if inResponseTo != "" {
		assertionIDs = []string{inResponseTo}
	}
	ii, ok := parseTime(issueInstant, f.attrSet(root, "IssueInstant"))
	if !ok || !f.issueInstantOK(ii) {
		return nil, false
	}
	if issuer >= 0 {
		var iv [4]string
		v, ok := f.leaf(issuer, nsAssertion, "Issuer", []string{"NameQualifier", "SPNameQualifier", "Format", "SPProvidedID"}, iv[:])
		if !ok || v != f.sp.IDPMetadata.EntityID {
			return nil, false
		}
	}
	if !f.statusSuccess(status) {
		return nil, false
	}
	return f.assertion(assertionEl, id, !signed, assertionIDs)
}

func matchesRequest(id string, requestIDs []string) bool {
	for _, r := range requestIDs {
		if r != "" && id == r {
			return true
		}
	}
	return false
}

// issueInstantOK is crewjam's checkIssueInstant.
func (f *fastRun) issueInstantOK(ii time.Time) bool {
	return !ii.Add(saml.MaxIssueDelay).Before(f.now) && !ii.Add(-saml.MaxClockSkew).After(f.now)
}

func pastDeadline(notOnOrAfter, now time.Time) bool {
	return !now.Before(notOnOrAfter.Add(saml.MaxClockSkew))
}

// signaturesOnlyAt checks that the only Signature elements (by local name,
// in any namespace) anywhere in the document are sig (a child of the
// Response, or -1) and the Assertion's own, checked in assertion().
func (f *fastRun) signaturesOnlyAt(root, sig, assertionEl int32) bool {
	d := f.doc
	for n := range d.nodes {
		x := &d.nodes[n]
		if x.kind != kindElement || x.local != "Signature" {
			continue
		}
		if int32(n) == sig || (x.parent == assertionEl && x.ns == nsDSig) {
			continue
		}
		return false
	}
	return true
}

// statusSuccess checks <Status><StatusCode Value="…Success"/></Status>.
func (f *fastRun) statusSuccess(status int32) bool {
	var none [0]string
	if !f.attrs(status, nil, none[:]) {
		return false
	}
	var kids [2]int32
	ch, ok := f.elems(status, kids[:0])
	if !ok || len(ch) != 1 || !f.is(ch[0], nsProtocol, "StatusCode") {
		return false
	}
	var v [1]string
	if !f.attrs(ch[0], []string{"Value"}, v[:]) || f.doc.nodes[ch[0]].first >= 0 {
		return false
	}
	return v[0] == statusSuccess
}

// assertion checks the Assertion element n and reads it.
func (f *fastRun) assertion(n int32, responseID string, mustBeSigned bool, requestIDs []string) (*saml.Assertion, bool) {
	var av [3]string
	if !f.attrs(n, []string{"ID", "Version", "IssueInstant"}, av[:]) {
		return nil, false
	}
	a := &saml.Assertion{ID: av[0], Version: av[1]}
	if a.ID == "" || a.ID == responseID {
		return nil, false
	}
	var kids [16]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok || len(ch) < 4 || !f.is(ch[0], nsAssertion, "Issuer") {
		return nil, false
	}
	var iv [4]string
	if a.Issuer.Value, ok = f.leaf(ch[0], nsAssertion, "Issuer", []string{"NameQualifier", "SPNameQualifier", "Format", "SPProvidedID"}, iv[:]); !ok {
		return nil, false
	}
	a.Issuer.NameQualifier, a.Issuer.SPNameQualifier, a.Issuer.Format, a.Issuer.SPProvidedID = iv[0], iv[1], iv[2], iv[3]
	i := 1
	if f.is(ch[i], nsDSig, "Signature") {
		if !f.verify(n, ch[i], a.ID) {
			return nil, false
		}
		i++
	} else if mustBeSigned {
		return nil, false
	}
	if len(ch) < i+3 || !f.is(ch[i], nsAssertion, "Subject") || !f.is(ch[i+1], nsAssertion, "Conditions") {
		return nil, false
	}
	if a.Subject, ok = f.subject(ch[i]); !ok {
		return nil, false
	}
	if a.Conditions, ok = f.conditions(ch[i+1]); !ok {
		return nil, false
	}
	for _, c := range ch[i+2:] {
		switch {
		case f.is(c, nsAssertion, "AuthnStatement"):
			s, ok := f.authnStatement(c)
			if !ok {
				return nil, false
			}
			a.AuthnStatements = append(a.AuthnStatements, s)
		case f.is(c, nsAssertion, "AttributeStatement"):
			s, ok := f.attributeStatement(c)
			if !ok {
				return nil, false
			}
			a.AttributeStatements = append(a.AttributeStatements, s)
		default:
			return nil, false
		}
	}
	if a.IssueInstant, ok = parseTime(av[2], f.attrSet(n, "IssueInstant")); !ok {
		return nil, false
	}
	return a, f.assertionValid(a, requestIDs)
}

// assertionValid is crewjam's validateAssertion for the shapes the fast
// path reads (no BaseID, EncryptedID or unknown conditions).
func (f *fastRun) assertionValid(a *saml.Assertion, requestIDs []string) bool {
	now := f.now
	if a.Version != "2.0" || !f.issueInstantOK(a.IssueInstant) || a.Issuer.Value != f.sp.IDPMetadata.EntityID {
		return false
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Conditions == nil {
		return false
	}
	confirmed := false
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.Method != methodBearer {
			continue
		}
		d := sc.SubjectConfirmationData
		if d == nil {
			continue
		}
		if !(f.sp.AllowIDPInitiated && d.InResponseTo == "") && !matchesRequest(d.InResponseTo, requestIDs) {
			continue
		}
		if d.Recipient != f.sp.AcsURL.String() || d.NotBefore.Add(-saml.MaxClockSkew).After(now) || pastDeadline(d.NotOnOrAfter, now) {
			continue
		}
		confirmed = true
		break
	}
	if !confirmed || len(a.AuthnStatements) == 0 {
		return false
	}
	c := a.Conditions
	if c.NotBefore.Add(-saml.MaxClockSkew).After(now) || (!c.NotOnOrAfter.IsZero() && pastDeadline(c.NotOnOrAfter, now)) {
		return false
	}
	audience := f.sp.EntityID
	if audience == "" {
		audience = f.sp.MetadataURL.String()
	}
	if len(c.AudienceRestrictions) == 0 {
		return false
	}
	for i := range c.AudienceRestrictions {
		found := false
		for _, au := range c.AudienceRestrictions[i].AllAudiences() {
			if au.Value == audience {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// acceptableUntil is crewjam's: the moment after which the assertion is
// refused, recorded with its ID in the replay cache.
func acceptableUntil(a *saml.Assertion) time.Time {
	deadline := a.IssueInstant.Add(saml.MaxIssueDelay)
	if a.Conditions != nil && !a.Conditions.NotOnOrAfter.IsZero() {
		if d := a.Conditions.NotOnOrAfter.Add(saml.MaxClockSkew); d.Before(deadline) {
			deadline = d
		}
	}
	var confirmation time.Time
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if sc.Method != methodBearer || sc.SubjectConfirmationData == nil {
				continue
			}
			if d := sc.SubjectConfirmationData.NotOnOrAfter.Add(saml.MaxClockSkew); d.After(confirmation) {
				confirmation = d
			}
		}
	}
	if !confirmation.IsZero() && confirmation.Before(deadline) {
		deadline = confirmation
	}
	return deadline
}

func (f *fastRun) subject(n int32) (*saml.Subject, bool) {
	var none [0]string
	if !f.attrs(n, nil, none[:]) {
		return nil, false
	}
	var kids [8]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok || len(ch) < 2 || !f.is(ch[0], nsAssertion, "NameID") {
		return nil, false
	}
	s := &saml.Subject{}
	var nv [4]string
	value, ok := f.leaf(ch[0], nsAssertion, "NameID", []string{"NameQualifier", "SPNameQualifier", "Format", "SPProvidedID"}, nv[:])
	if !ok {
		return nil, false
	}
	s.NameID = &saml.NameID{NameQualifier: nv[0], SPNameQualifier: nv[1], Format: nv[2], SPProvidedID: nv[3], Value: value}
	for _, c := range ch[1:] {
		if !f.is(c, nsAssertion, "SubjectConfirmation") {
			return nil, false
		}
		var mv [1]string
		if !f.attrs(c, []string{"Method"}, mv[:]) {
			return nil, false
		}
		sc := saml.SubjectConfirmation{Method: mv[0]}
		var dk [2]int32
		dch, ok := f.elems(c, dk[:0])
		if !ok || len(dch) > 1 {
			return nil, false
		}
		if len(dch) == 1 {
			var dv [5]string
			if _, ok := f.leaf(dch[0], nsAssertion, "SubjectConfirmationData", []string{"NotBefore", "NotOnOrAfter", "Recipient", "InResponseTo", "Address"}, dv[:]); !ok {
				return nil, false
			}
			if f.doc.nodes[dch[0]].first >= 0 {
				return nil, false // KeyInfo (holder-of-key) or text
			}
			data := &saml.SubjectConfirmationData{Recipient: dv[2], InResponseTo: dv[3], Address: dv[4]}
			if data.NotBefore, ok = parseTime(dv[0], f.attrSet(dch[0], "NotBefore")); !ok {
				return nil, false
			}
			if data.NotOnOrAfter, ok = parseTime(dv[1], f.attrSet(dch[0], "NotOnOrAfter")); !ok {
				return nil, false
			}
			sc.SubjectConfirmationData = data
		}
		s.SubjectConfirmations = append(s.SubjectConfirmations, sc)
	}
	return s, true
}

func (f *fastRun) conditions(n int32) (*saml.Conditions, bool) {
	var cv [2]string
	if !f.attrs(n, []string{"NotBefore", "NotOnOrAfter"}, cv[:]) {
		return nil, false
	}
	c := &saml.Conditions{}
	var ok bool
	if c.NotBefore, ok = parseTime(cv[0], f.attrSet(n, "NotBefore")); !ok {
		return nil, false
	}
	if c.NotOnOrAfter, ok = parseTime(cv[1], f.attrSet(n, "NotOnOrAfter")); !ok {
		return nil, false
	}
	var kids [8]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok {
		return nil, false
	}
	var none [0]string
	for _, e := range ch {
		switch {
		case f.is(e, nsAssertion, "AudienceRestriction"):
			if !f.attrs(e, nil, none[:]) {
				return nil, false
			}
			var ak [8]int32
			auds, ok := f.elems(e, ak[:0])
			if !ok || len(auds) == 0 {
				return nil, false
			}
			var r saml.AudienceRestriction
			for j, au := range auds {
				v, ok := f.leaf(au, nsAssertion, "Audience", nil, none[:])
				if !ok {
					return nil, false
				}
				if j == 0 {
					r.Audience.Value = v
				} else {
					r.AdditionalAudiences = append(r.AdditionalAudiences, saml.Audience{Value: v})
				}
			}
			c.AudienceRestrictions = append(c.AudienceRestrictions, r)
		case f.is(e, nsAssertion, "OneTimeUse"):
			if c.OneTimeUse != nil || !f.attrs(e, nil, none[:]) || f.doc.nodes[e].first >= 0 {
				return nil, false
			}
			c.OneTimeUse = &saml.OneTimeUse{}
		default:
			return nil, false
		}
	}
	return c, true
}

func (f *fastRun) authnStatement(n int32) (saml.AuthnStatement, bool) {
	var s saml.AuthnStatement
	var sv [3]string
	if !f.attrs(n, []string{"AuthnInstant", "SessionIndex", "SessionNotOnOrAfter"}, sv[:]) {
		return s, false
	}
	var ok bool
	if s.AuthnInstant, ok = parseTime(sv[0], f.attrSet(n, "AuthnInstant")); !ok {
		return s, false
	}
	s.SessionIndex = sv[1]
	if f.attrSet(n, "SessionNotOnOrAfter") {
		t, ok := parseTime(sv[2], true)
		if !ok {
			return s, false
		}
		s.SessionNotOnOrAfter = &t
	}
	var kids [4]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok || len(ch) == 0 {
		return s, false
	}
	i := 0
	var none [0]string
	if f.is(ch[0], nsAssertion, "SubjectLocality") {
		var lv [2]string
		if _, ok := f.leaf(ch[0], nsAssertion, "SubjectLocality", []string{"Address", "DNSName"}, lv[:]); !ok || f.doc.nodes[ch[0]].first >= 0 {
			return s, false
		}
		s.SubjectLocality = &saml.SubjectLocality{Address: lv[0], DNSName: lv[1]}
		i++
	}
	if len(ch) != i+1 || !f.is(ch[i], nsAssertion, "AuthnContext") || !f.attrs(ch[i], nil, none[:]) {
		return s, false
	}
	var ck [8]int32
	cch, ok := f.elems(ch[i], ck[:0])
	if !ok {
		return s, false
	}
	for j, c := range cch {
		switch {
		case j == 0 && f.is(c, nsAssertion, "AuthnContextClassRef"):
			v, ok := f.leaf(c, nsAssertion, "AuthnContextClassRef", nil, none[:])
			if !ok {
				return s, false
			}
			s.AuthnContext.AuthnContextClassRef = &saml.AuthnContextClassRef{Value: v}
		case j > 0 && f.is(c, nsAssertion, "AuthenticatingAuthority"):
			v, ok := f.leaf(c, nsAssertion, "AuthenticatingAuthority", nil, none[:])
			if !ok {
				return s, false
			}
			s.AuthnContext.AuthenticatingAuthorities = append(s.AuthnContext.AuthenticatingAuthorities, saml.AuthenticatingAuthority{Value: v})
		default:
			return s, false
		}
	}
	return s, true
}

func (f *fastRun) attributeStatement(n int32) (saml.AttributeStatement, bool) {
	var s saml.AttributeStatement
	var none [0]string
	if !f.attrs(n, nil, none[:]) {
		return s, false
	}
	var kids [32]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok || len(ch) == 0 {
		return s, false
	}
	s.Attributes = make([]saml.Attribute, 0, len(ch))
	for _, c := range ch {
		if !f.is(c, nsAssertion, "Attribute") {
			return s, false
		}
		var av [3]string
		if !f.attrs(c, []string{"Name", "NameFormat", "FriendlyName"}, av[:]) {
			return s, false
		}
		attr := saml.Attribute{Name: av[0], NameFormat: av[1], FriendlyName: av[2]}
		var vk [8]int32
		vals, ok := f.elems(c, vk[:0])
		if !ok {
			return s, false
		}
		for _, vn := range vals {
			val, ok := f.attributeValue(vn)
			if !ok {
				return s, false
			}
			attr.Values = append(attr.Values, val)
		}
		s.Attributes = append(s.Attributes, attr)
	}
	return s, true
}

// attributeValue reads an AttributeValue with text only and at most an
// xsi:type attribute.
func (f *fastRun) attributeValue(n int32) (saml.AttributeValue, bool) {
	var v saml.AttributeValue
	if !f.is(n, nsAssertion, "AttributeValue") {
		return v, false
	}
	x := &f.doc.nodes[n]
	for i := x.attrLo; i < x.attrHi; i++ {
		a := &f.doc.attrs[i]
		if a.ns != nsXSI || a.local != "type" {
			return v, false
		}
		v.Type = a.value
	}
	var ok bool
	v.Value, ok = f.text(n)
	return v, ok
}

// verify checks the enveloped signature sig of element el, whose ID is id,
// against the narrow profile, reading everything from the tree.
func (f *fastRun) verify(el, sig int32, id string) bool {
	if !validID(id) {
		return false
	}
	var none [0]string
	if !f.attrs(sig, nil, none[:]) {
		return false
	}
	var kids [4]int32
	ch, ok := f.elems(sig, kids[:0])
	if !ok || len(ch) < 2 || len(ch) > 3 || !f.is(ch[0], nsDSig, "SignedInfo") || !f.is(ch[1], nsDSig, "SignatureValue") {
		return false
	}
	signedInfo := ch[0]
	sigValue, ok := f.leaf(ch[1], nsDSig, "SignatureValue", nil, none[:])
	if !ok {
		return false
	}
	var candidates [8]*trustedKey
	keys := candidates[:0]
	if len(ch) == 3 {
		k := f.keyInfoKey(ch[2])
		if k == nil {
			return false
		}
		keys = append(keys, k)
	} else {
		for _, k := range f.keys {
			if len(keys) == cap(candidates) {
				return false
			}
			keys = append(keys, k)
		}
	}
	digest, ok := f.signedInfo(signedInfo, id)
	if !ok {
		return false
	}
	sigBytes, err := base64.StdEncoding.DecodeString(sigValue)
	if err != nil {
		return false
	}
	// SignedInfo as signed.
	f.buf = f.doc.c14n(f.buf[:0], signedInfo, -1, nil)
	sum := sha256.Sum256(f.buf)
	verified := false
	for _, k := range keys {
		if k.pub == nil || f.dsigNow.Before(k.notBefore) || f.dsigNow.After(k.notAfter) {
			continue
		}
		if rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, sum[:], sigBytes) == nil {
			verified = true
			f.signer = k
			break
		}
	}
	if !verified {
		return false
	}
	// The signed element, without its Signature, as digested.
	f.buf = f.doc.c14n(f.buf[:0], el, sig, nil)
	got := sha256.Sum256(f.buf)
	return bytes.Equal(got[:], digest)
}

// validID is goxmldsig's shape of a same-document reference target.
func validID(id string) bool {
	if id == "" || !nameStart(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if !nameChar(id[i]) {
			return false
		}
	}
	return true
}

// keyInfoKey returns the trusted key whose certificate KeyInfo carries:
// exactly <KeyInfo><X509Data><X509Certificate>, equal to a trusted one.
func (f *fastRun) keyInfoKey(keyInfo int32) *trustedKey {
	var none [0]string
	if !f.is(keyInfo, nsDSig, "KeyInfo") || !f.attrs(keyInfo, nil, none[:]) {
		return nil
	}
	var k1, k2 [2]int32
	ch, ok := f.elems(keyInfo, k1[:0])
	if !ok || len(ch) != 1 || !f.is(ch[0], nsDSig, "X509Data") || !f.attrs(ch[0], nil, none[:]) {
		return nil
	}
	cc, ok := f.elems(ch[0], k2[:0])
	if !ok || len(cc) != 1 {
		return nil
	}
	text, ok := f.leaf(cc[0], nsDSig, "X509Certificate", nil, none[:])
	if !ok || text == "" {
		return nil
	}
	// Usually the text is the certificate's canonical base64 broken into
	// lines: compare without decoding. Only the same text decodes to the
	// same bytes for goxmldsig too.
	for _, k := range f.keys {
		if equalBase64(text, k.b64) {
			return k
		}
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(text))
	if err != nil {
		return nil
	}
	for _, k := range f.keys {
		if bytes.Equal(k.raw, der) {
			return k
		}
	}
	return nil
}

// signedInfo checks SignedInfo against the profile and returns the
// digest its one Reference carries.
func (f *fastRun) signedInfo(n int32, id string) ([]byte, bool) {
	var none [0]string
	if !f.attrs(n, nil, none[:]) {
		return nil, false
	}
	var kids [4]int32
	ch, ok := f.elems(n, kids[:0])
	if !ok || len(ch) != 3 {
		return nil, false
	}
	if !f.algorithm(ch[0], "CanonicalizationMethod", algExcC14N) || !f.algorithm(ch[1], "SignatureMethod", algRSASHA256) {
		return nil, false
	}
	ref := ch[2]
	var uri [1]string
	if !f.is(ref, nsDSig, "Reference") || !f.attrs(ref, []string{"URI"}, uri[:]) || uri[0] != "#"+id {
		return nil, false
	}
	var rk [4]int32
	rch, ok := f.elems(ref, rk[:0])
	if !ok || len(rch) != 3 || !f.is(rch[0], nsDSig, "Transforms") || !f.attrs(rch[0], nil, none[:]) {
		return nil, false
	}
	var tk [3]int32
	tch, ok := f.elems(rch[0], tk[:0])
	if !ok || len(tch) != 2 || !f.algorithm(tch[0], "Transform", algEnveloped) || !f.algorithm(tch[1], "Transform", algExcC14N) {
		return nil, false
	}
	if !f.algorithm(rch[1], "DigestMethod", algSHA256) {
		return nil, false
	}
	dv, ok := f.leaf(rch[2], nsDSig, "DigestValue", nil, none[:])
	if !ok {
		return nil, false
	}
	digest, err := base64.StdEncoding.DecodeString(dv)
	if err != nil || len(digest) != sha256.Size {
		return nil, false
	}
	return digest, true
}

// algorithm checks an empty ds:local element with Algorithm="alg".
func (f *fastRun) algorithm(n int32, local, alg string) bool {
	var v [1]string
	return f.is(n, nsDSig, local) && f.attrs(n, []string{"Algorithm"}, v[:]) && v[0] == alg && f.doc.nodes[n].first < 0
}
